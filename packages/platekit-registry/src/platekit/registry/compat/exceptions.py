"""The exceptions of metaclass-registry 0.4.1: platekit's own, under their names there.

``DuplicateRegistryKeyError`` is platekit's ``DuplicateKeyError`` (also a
``ValueError``); ``DiscoveryError`` is also an ``ImportError``; ``CacheError``
also an ``OSError``. Each is a ``RegistryError``.
"""

from platekit.registry._errors import (
    CacheError,
    DiscoveryError,
    DuplicateRegistryKeyError,
    RegistryError,
)

__all__ = ["CacheError", "DiscoveryError", "DuplicateRegistryKeyError", "RegistryError"]
