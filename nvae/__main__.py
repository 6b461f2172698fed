"""`python -m nvae ...`: see nvae/cli.py."""

import sys

from .cli.main import main

sys.exit(main())
