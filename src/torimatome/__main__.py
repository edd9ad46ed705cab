"""``python -m torimatome`` is the ``torimatome`` command."""

import sys

from .cli import main

sys.exit(main())
