"""The version of platekit-registry: the one place it is written (hatchling reads it here)."""

__version__ = "0.1.0"
