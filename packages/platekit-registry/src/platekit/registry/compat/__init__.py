"""metaclass-registry 0.4.1's public API, answered by platekit's registry machinery.

Code written for metaclass-registry moves over by changing its imports::

    from metaclass_registry import AutoRegisterMeta, LazyDiscoveryDict    # before
    from platekit.registry.compat import AutoRegisterMeta, LazyDiscoveryDict    # after

and ``metaclass_registry.strategies``, ``.caches``, ``.cache``, ``.discovery``,
``.testing`` and ``.exceptions`` are ``platekit.registry.compat.strategies``
and so on. The names, signatures and behaviour are metaclass-registry's, with
the differences listed in the registry guide ("Moving from metaclass-registry"):
broken plugin modules are contained rather than raised, and the discovery
cache is platekit's index. Names load on first use.
"""

from platekit.cache import lazy_exports

#: The metaclass-registry release whose API this module reproduces.
__version__ = "0.4.1"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from platekit.registry.compat.cache import RegistryCacheManager
    from platekit.registry.compat.core import (
        PRIMARY_KEY,
        REPLACES_REGISTERED_ATTRIBUTE,
        AutoRegisterMeta,
        LazyDiscoveryDict,
        RegisteredEnumMeta,
        RegistryConfig,
        RegistryFamily,
        RegistryKeyAttribute,
        SecondaryRegistry,
        SecondaryRegistryDict,
        extract_key_from_backend_suffix,
        extract_key_from_class_name,
        extract_key_from_handler_suffix,
        is_same_declaration,
        make_suffix_extractor,
        register_once,
    )
    from platekit.registry.compat.discovery import (
        discover_registry_classes,
        discover_registry_classes_recursive,
        import_module_preserving_root_logging,
    )
    from platekit.registry.compat.exceptions import (
        CacheError,
        DiscoveryError,
        DuplicateRegistryKeyError,
        RegistryError,
    )

__all__ = [
    "PRIMARY_KEY",
    "REPLACES_REGISTERED_ATTRIBUTE",
    "AutoRegisterMeta",
    "CacheError",
    "DiscoveryError",
    "DuplicateRegistryKeyError",
    "LazyDiscoveryDict",
    "RegisteredEnumMeta",
    "RegistryCacheManager",
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

_CORE = (
    "PRIMARY_KEY",
    "REPLACES_REGISTERED_ATTRIBUTE",
    "AutoRegisterMeta",
    "LazyDiscoveryDict",
    "RegisteredEnumMeta",
    "RegistryConfig",
    "RegistryFamily",
    "RegistryKeyAttribute",
    "SecondaryRegistry",
    "SecondaryRegistryDict",
    "extract_key_from_backend_suffix",
    "extract_key_from_class_name",
    "extract_key_from_handler_suffix",
    "is_same_declaration",
    "make_suffix_extractor",
    "register_once",
)
# Public name -> the module of this package that defines it.
_HOMES = {
    **dict.fromkeys(_CORE, "core"),
    **dict.fromkeys(
        (
            "discover_registry_classes",
            "discover_registry_classes_recursive",
            "import_module_preserving_root_logging",
        ),
        "discovery",
    ),
    **dict.fromkeys(
        ("CacheError", "DiscoveryError", "DuplicateRegistryKeyError", "RegistryError"),
        "exceptions",
    ),
    "RegistryCacheManager": "cache",
}

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
