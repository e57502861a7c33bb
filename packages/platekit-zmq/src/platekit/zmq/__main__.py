"""``python -m platekit.zmq serve KIND``: the platekit command line, as ``platekit`` runs it."""

import sys

from platekit.registry._cli import main

if __name__ == "__main__":
    sys.exit(main())
