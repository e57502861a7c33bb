from __future__ import annotations

from pk_fixture_host import Widget


class GlitterWidget(Widget):
    _fixture_kind = "glitter"
    _label = "Glitter"
