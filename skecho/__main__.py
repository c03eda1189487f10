"""``python -m skecho``: see :mod:`skecho.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
