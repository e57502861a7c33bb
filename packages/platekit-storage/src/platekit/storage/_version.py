"""The version of platekit-storage: the one place it is written (hatchling reads it here)."""

__version__ = "0.1.0"
