"""metaclass-registry 0.4.1's test support: :func:`restored_registry` (platekit's own)."""

from platekit.registry.testing import restored_registry

__all__ = ["restored_registry"]
