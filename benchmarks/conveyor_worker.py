"""`python -m benchmarks.conveyor_worker DB LOG CONCURRENCY`: one conveyor worker process."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from benchmarks import completions
from benchmarks.conveyor_sqlite import make_app
from conveyor.worker import Worker


async def serve(db: Path, concurrency: int) -> None:
    app, _ = make_app(db)
    async with app:
        await Worker(app, concurrency=concurrency).run(install_signal_handlers=True)


def main() -> None:
    db, log, concurrency = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    completions.open_for_writing(log)
    asyncio.run(serve(db, concurrency))


if __name__ == "__main__":
    main()
