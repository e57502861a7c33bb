"""metaclass-registry 0.4.1's discovery functions (platekit's own, re-exported)."""

from platekit.registry._scan import (
    discover_registry_classes,
    discover_registry_classes_recursive,
    import_module_preserving_root_logging,
)

__all__ = [
    "discover_registry_classes",
    "discover_registry_classes_recursive",
    "import_module_preserving_root_logging",
]
