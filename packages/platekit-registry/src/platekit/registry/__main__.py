"""``python -m platekit.registry``: the ``platekit`` command, for when its script is not on PATH."""

import sys

from platekit.registry._cli import main

sys.exit(main())
