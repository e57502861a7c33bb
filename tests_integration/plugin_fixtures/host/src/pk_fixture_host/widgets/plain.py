from __future__ import annotations

from pk_fixture_host import Widget


class PlainWidget(Widget):
    _fixture_kind = "plain"
    _label = "Plain"
