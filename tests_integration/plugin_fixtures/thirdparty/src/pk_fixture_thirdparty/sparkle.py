from __future__ import annotations

from pk_fixture_host import Widget


class SparkleWidget(Widget):
    _fixture_kind = "sparkle"
    _label = "Sparkle"
    _colors = ("gold", "silver")
