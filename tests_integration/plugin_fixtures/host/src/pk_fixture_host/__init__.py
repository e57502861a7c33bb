"""A host application whose widgets are plugins: its own, and other distributions'.

Importing this module declares the registry and imports no widget; the
registry finds the built-in widgets in ``pk_fixture_host.widgets`` and the
third-party ones in the ``platekit_fixture.widgets`` entry-point group.
"""

from __future__ import annotations

from platekit.registry import AutoRegisterMeta, LazyDiscoveryDict, RegistryConfig

#: Every widget, by kind.
WIDGETS = LazyDiscoveryDict()


class Widget(metaclass=AutoRegisterMeta):
    """A widget; subclasses register under their ``_fixture_kind``."""

    __registry_config__ = RegistryConfig(
        registry_dict=WIDGETS,
        key_attribute="_fixture_kind",
        skip_if_no_key=True,
        registry_name="fixture widget",
        discovery_package="pk_fixture_host.widgets",
        entry_point_group="platekit_fixture.widgets",
        metadata_attributes=("_label", "_colors"),
    )

    _fixture_kind: str | None = None
    _label = ""
    _colors: tuple[str, ...] = ()
