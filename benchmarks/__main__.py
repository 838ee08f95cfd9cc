"""`python -m benchmarks [sqlite|redis] ...`: one comparison per command (SQLite by default)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    if argv and argv[0] == "redis":
        from benchmarks.redis_bench.cli import main as redis

        redis(argv[1:])
        return
    from benchmarks.sqlite import main as sqlite

    sqlite(argv[1:] if argv and argv[0] == "sqlite" else argv)


if __name__ == "__main__":
    main(sys.argv[1:])
