"""platekit-registry: plugin registries that start warm without importing their plugins.

Declare a registry on a root class, and its subclasses register as they are
defined; a ``LazyDiscoveryDict`` finds the rest on first use, from a package
and from an entry-point group, and keeps an index in the platekit cache so the
next process answers ``keys()`` without importing a single plugin module and
``registry[key]`` imports only that key's module.

Names load on first use, so a start pays only for the modules it needs.
"""

from platekit.cache import lazy_exports

#: The version of platekit-registry: written only here, where hatchling reads it.
__version__ = "0.1.0"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from platekit.registry._claims import REPLACES_REGISTERED_ATTRIBUTE, is_same_declaration
    from platekit.registry._config import (
        PRIMARY_KEY,
        RegistryConfig,
        RegistryFamily,
        SecondaryRegistry,
        extract_key_from_backend_suffix,
        extract_key_from_class_name,
        extract_key_from_handler_suffix,
        make_suffix_extractor,
    )
    from platekit.registry._enums import RegisteredEnumMeta, RegistryKeyAttribute
    from platekit.registry._errors import (
        CacheError,
        DiscoveryError,
        DuplicateKeyError,
        DuplicateRegistryKeyError,
        PluginImportError,
        RegistryError,
    )
    from platekit.registry._failures import PluginError
    from platekit.registry._lazy import LazyDiscoveryDict
    from platekit.registry._meta import AutoRegisterMeta, register_once
    from platekit.registry._scan import (
        discover_registry_classes,
        discover_registry_classes_recursive,
        import_module_preserving_root_logging,
    )
    from platekit.registry._secondary import SecondaryRegistryDict

__all__ = [
    "PRIMARY_KEY",
    "REPLACES_REGISTERED_ATTRIBUTE",
    "AutoRegisterMeta",
    "CacheError",
    "DiscoveryError",
    "DuplicateKeyError",
    "DuplicateRegistryKeyError",
    "LazyDiscoveryDict",
    "PluginError",
    "PluginImportError",
    "RegisteredEnumMeta",
    "RegistryConfig",
    "RegistryError",
    "RegistryFamily",
    "RegistryKeyAttribute",
    "SecondaryRegistry",
    "SecondaryRegistryDict",
    "__version__",
    "discover_registry_classes",
    "discover_registry_classes_recursive",
    "extract_key_from_backend_suffix",
    "extract_key_from_class_name",
    "extract_key_from_handler_suffix",
    "import_module_preserving_root_logging",
    "is_same_declaration",
    "make_suffix_extractor",
    "register_once",
]

# Public name -> private module that defines it.
_HOMES = {
    "PRIMARY_KEY": "_config",
    "REPLACES_REGISTERED_ATTRIBUTE": "_claims",
    "AutoRegisterMeta": "_meta",
    "CacheError": "_errors",
    "DiscoveryError": "_errors",
    "DuplicateKeyError": "_errors",
    "DuplicateRegistryKeyError": "_errors",
    "LazyDiscoveryDict": "_lazy",
    "PluginError": "_failures",
    "PluginImportError": "_errors",
    "RegisteredEnumMeta": "_enums",
    "RegistryConfig": "_config",
    "RegistryError": "_errors",
    "RegistryFamily": "_config",
    "RegistryKeyAttribute": "_enums",
    "SecondaryRegistry": "_config",
    "SecondaryRegistryDict": "_secondary",
    "discover_registry_classes": "_scan",
    "discover_registry_classes_recursive": "_scan",
    "extract_key_from_backend_suffix": "_config",
    "extract_key_from_class_name": "_config",
    "extract_key_from_handler_suffix": "_config",
    "import_module_preserving_root_logging": "_scan",
    "is_same_declaration": "_claims",
    "make_suffix_extractor": "_config",
    "register_once": "_meta",
}

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
