"""conveyor's pytest plugin: fixtures that give each test its app's jobs on a backend of
its own. pytest loads this module at start-up in every project that installs conveyor, so
it lives outside the package and imports conveyor only when a fixture is used.

Point the fixtures at your app with `conveyor_app = myproject.jobs:app` in your pytest
configuration, or by overriding the `conveyor_app` fixture. `conveyor_backend = sqlite`
gives each test a temporary SQLite file instead of `memory://`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conveyor import Conveyor
    from conveyor.testing import IsolatedApp

BACKENDS = ("memory", "sqlite")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("conveyor_app", "module:attribute of the Conveyor app the conveyor fixtures test")
    parser.addini(
        "conveyor_backend",
        "where each test's jobs live: memory (the default) or sqlite (a temporary file)",
        default="memory",
    )


@pytest.fixture
def conveyor_app(request: pytest.FixtureRequest) -> Conveyor:
    """Your Conveyor app, from the `conveyor_app` ini option; override it to build the
    app yourself."""
    path = str(request.config.getini("conveyor_app") or "")
    if not path:
        pytest.fail(
            "the conveyor fixtures need your app: set `conveyor_app = myproject.jobs:app` in "
            "your pytest configuration, or define a `conveyor_app` fixture that returns it",
            pytrace=False,
        )
    from conveyor.errors import ConfigurationError
    from conveyor.loader import load_app

    try:
        return load_app(path)
    except ConfigurationError as exc:
        pytest.fail(f"conveyor_app = {path}: {exc}", pytrace=False)


@pytest.fixture
def conveyor_url(request: pytest.FixtureRequest) -> str:
    """The backend each test's jobs live on: `memory://`, or a temporary SQLite file with
    `conveyor_backend = sqlite`. Override it for another store."""
    backend = str(request.config.getini("conveyor_backend"))
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        folder = request.getfixturevalue("tmp_path")
        return f"sqlite:///{folder}/jobs.db"
    pytest.fail(f"conveyor_backend = {backend}: use one of {', '.join(BACKENDS)}", pytrace=False)


@pytest.fixture
def conveyor_jobs(conveyor_app: Conveyor, conveyor_url: str) -> Iterator[IsolatedApp]:
    """`conveyor_app` on `conveyor_url` for this test, recording what it enqueues:
    `.enqueued()`, `.assert_enqueued(task, ...)`, `await .drain()`, `.drain_sync()`."""
    from conveyor.testing import isolated

    with isolated(conveyor_app, conveyor_url) as jobs:
        yield jobs


@pytest.fixture
def conveyor_eager(conveyor_jobs: IsolatedApp) -> Iterator[IsolatedApp]:
    """`conveyor_jobs` in eager mode: each enqueue runs its job before it returns."""
    with conveyor_jobs.eager():
        yield conveyor_jobs
