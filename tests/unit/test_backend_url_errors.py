"""A bad backend URL fails on first use (never at import) with an error that says what to fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conveyor import BackendUnavailable, ConfigurationError, Conveyor


async def ping() -> None:
    return None


async def test_an_unknown_scheme_fails_on_first_use_naming_the_url_and_the_choices() -> None:
    app = Conveyor("nosuch://x")  # creating the app does no I/O, so it cannot fail yet
    task = app.task(ping)

    with pytest.raises(ConfigurationError) as caught:
        await task.enqueue()

    message = str(caught.value)
    assert "'nosuch://x'" in message
    assert "memory://" in message
    assert "sqlite:///" in message


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        pytest.param("sqlite://host/jobs.db", "bad SQLite URL", id="host-in-url"),
        pytest.param("sqlite:///", "names no file", id="no-file"),
        pytest.param(
            "sqlite:///jobs.db?fast=yes", "unknown SQLite URL option(s) ['fast']", id="opt"
        ),
        pytest.param("sqlite:///jobs.db?synchronous=sometimes", "synchronous must be", id="sync"),
    ],
)
async def test_a_malformed_sqlite_url_is_a_configuration_error(url: str, problem: str) -> None:
    app = Conveyor(url)
    task = app.task(ping)

    with pytest.raises(ConfigurationError, match=re.escape(problem)):
        await task.enqueue()


async def test_a_sqlite_file_in_a_missing_folder_is_unavailable_and_nothing_is_created(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no" / "such" / "folder"
    app = Conveyor(f"sqlite:///{missing}/jobs.db")
    task = app.task(ping)

    with pytest.raises(BackendUnavailable) as caught:
        await task.enqueue()

    message = str(caught.value)
    assert str(missing) in message
    assert "does not exist" in message
    assert not (tmp_path / "no").exists(), "the folder was created behind the user's back"
    await app.close()
