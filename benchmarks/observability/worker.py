"""`python -m benchmarks.observability.worker URL LOG CONCURRENCY VARIANT [COUNTER_URL]`.

One worker process with a variant's middleware, until SIGTERM; its tracer provider is
flushed after the last job (outside the measured drain).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from benchmarks import completions
from benchmarks.observability.jobs import make_app
from benchmarks.observability.variants import VARIANTS, Variant, observability
from conveyor.worker import Worker


async def serve(url: str, concurrency: int, variant: Variant, counter_url: str | None) -> None:
    installed = observability(variant)
    app, _ = make_app(url, installed.middleware, counter_url)
    try:
        async with app:
            await Worker(app, concurrency=concurrency).run(install_signal_handlers=True)
    finally:
        installed.shutdown()


def main(argv: list[str]) -> None:
    url, log, concurrency, variant = argv[0], Path(argv[1]), int(argv[2]), argv[3]
    if variant not in VARIANTS:
        raise SystemExit(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")
    completions.open_for_writing(log)
    counter_url = argv[4] if len(argv) > 4 else None
    asyncio.run(serve(url, concurrency, variant, counter_url))


if __name__ == "__main__":
    main(sys.argv[1:])
