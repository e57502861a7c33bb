from __future__ import annotations

from pk_fixture_host import Widget


class FramedWidget(Widget):
    _fixture_kind = "framed"
    _label = "Framed"
    _colors = ("black",)
