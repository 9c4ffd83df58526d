"""``python -m strongroom``: the same as the ``strongroom`` command."""

import sys

from strongroom.app.cli import main

sys.exit(main())
