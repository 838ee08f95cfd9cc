"""Fixtures of the tests of `examples/observability/`, which lives at the repository root,
outside the package: the root goes on sys.path for the tests to import it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from .exported import Exposed, scrape

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture(scope="session")
def exposed() -> Exposed:
    """What a scrape of a conveyor worker shows, once per test run."""
    return asyncio.run(scrape())
