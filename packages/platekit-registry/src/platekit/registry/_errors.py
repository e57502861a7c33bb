"""What the registry raises. Each error subclasses the built-in a caller would already catch."""

from __future__ import annotations


class RegistryError(Exception):
    """Base class of every error platekit-registry raises."""


class DuplicateKeyError(RegistryError, ValueError):
    """Two different classes claimed one key in one registry."""


class PluginImportError(RegistryError, ImportError):
    """A plugin's module failed to import; ``__cause__`` is the original exception."""


class DiscoveryError(RegistryError, ImportError):
    """Discovery itself could not run (for example, its package does not exist).

    The registry stays undiscovered, so the next access tries again.
    """


class CacheError(RegistryError, OSError):
    """A cache could not be read or written where the caller asked for it to be.

    platekit's own registry indexes never raise it (a broken index is rebuilt).
    """


# The names metaclass-registry 0.4.1 uses, so code written for it keeps working.
DuplicateRegistryKeyError = DuplicateKeyError
