"""`python -m benchmarks.huey_worker DB LOG WORKERS`: one Huey consumer process."""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks import completions
from benchmarks.huey_sqlite import make_huey


def main() -> None:
    db, log, workers = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    completions.open_for_writing(log)
    huey, _ = make_huey(db)
    huey.create_consumer(workers=workers, worker_type="thread").run()


if __name__ == "__main__":
    main()
