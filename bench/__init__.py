"""`safeguard bench`: the end-to-end benchmark of the local stack and its raw baselines."""

from __future__ import annotations

import importlib.util
import sys

# The bench extra's libraries by import name; py-spy is a program, looked for only by --profile.
LIBRARIES = ("hdrh", "matplotlib", "psutil")
NEEDS_EXTRA = "safeguard bench needs the bench extra: pip install 'safeguarding-exchange[bench]'"


def missing_libraries() -> list[str]:
    """The bench extra's libraries this Python cannot import."""
    return [name for name in LIBRARIES if importlib.util.find_spec(name) is None]


def run(argv: list[str]) -> int:
    """Run the benchmark with these options; 2, said plainly, when the bench extra is missing."""
    missing = missing_libraries()
    if missing:
        print(f"{NEEDS_EXTRA} (missing: {', '.join(missing)})", file=sys.stderr)
        return 2
    from bench.cli import main

    return main(argv)
