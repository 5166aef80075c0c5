"""``python -m iotests.mutate``: per-case coverage and mutation testing (see commands)."""

import sys

from iotests.mutate.commands import main

sys.exit(main())
