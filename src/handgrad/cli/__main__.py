"""``python -m handgrad.cli``, the same as the ``handgrad`` command."""

import sys

from .app import main

sys.exit(main())
