"""`python -m nvae ...`: see nvae/cli/main.py."""

import sys

from .cli.main import main

sys.exit(main())
