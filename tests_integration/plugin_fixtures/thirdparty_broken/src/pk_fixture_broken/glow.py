from __future__ import annotations

from pk_fixture_host import Widget

# Never installed: importing this module fails the way a plugin with a
# missing dependency does.
from pk_fixture_missing_dependency import glow_colors


class GlowWidget(Widget):
    _fixture_kind = "broken_glow"
    _colors = glow_colors()
