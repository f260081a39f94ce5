"""`python -m deploy.bench [--concerns N] [--rate R]`: `safeguard bench` without `safeguard`."""

import sys

from deploy.bench.cli import main

sys.exit(main())
