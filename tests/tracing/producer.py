"""Enqueue one `greet` job with tracing on, and print its id: `python -m tracing.producer`."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from .support import SPANS_ENV, export_to_file
from .tracedapp import app, greet


async def produce() -> None:
    export_to_file(Path(os.environ[SPANS_ENV]))
    async with app:
        handle = await greet.enqueue("world")
    print(handle.id)


if __name__ == "__main__":
    asyncio.run(produce())
