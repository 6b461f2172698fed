"""`python -m nvae ...`: see nvae/cli.py."""

import sys

from .cli import main

sys.exit(main())
