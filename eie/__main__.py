"""``python -m eie``: the same as the ``eie`` command."""

import sys

from .cli import main

sys.exit(main())
