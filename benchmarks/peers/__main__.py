"""`python -m benchmarks.peers NAME COMMAND ...`: see benchmarks/peers/harness.py."""

from __future__ import annotations

import sys

from benchmarks.peers.harness import main

if __name__ == "__main__":
    main(sys.argv[1:])
