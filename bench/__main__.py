"""`python -m bench [--concerns N] [--rate R]`: `safeguard bench` without `safeguard`."""

import sys

from bench import run

sys.exit(run(sys.argv[1:]))
