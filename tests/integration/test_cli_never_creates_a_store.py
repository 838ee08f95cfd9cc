"""Commands that look at or tidy a store never create one: with no store they say so and how
to point at one."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import psycopg
import pytest

from conveyor import Conveyor
from live_services import POSTGRES_URL, fresh_postgres

from .cli_support import conveyor

LOOKS = [
    pytest.param(["jobs", "list"], id="jobs-list"),
    pytest.param(["jobs", "show", "some-id"], id="jobs-show"),
    pytest.param(["jobs", "retry", "some-id"], id="jobs-retry"),
    pytest.param(["jobs", "cancel", "some-id"], id="jobs-cancel"),
    pytest.param(["jobs", "purge", "--state", "succeeded"], id="jobs-purge"),
    pytest.param(["stats"], id="stats"),
]


@pytest.fixture
def empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONVEYOR_URL", raising=False)
    monkeypatch.delenv("CONVEYOR_APP", raising=False)
    return tmp_path


@pytest.mark.parametrize("command", LOOKS)
def test_with_no_store_given_nothing_is_created_and_the_way_to_give_one_is_said(
    empty_folder: Path, command: list[str]
) -> None:
    result = conveyor(*command)

    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: no store here: ./conveyor.db does not exist. Point at yours with --url "
        "(sqlite:///path/to/jobs.db, redis://host:6379/0, postgresql://...) or "
        "--app module:attribute, or set $CONVEYOR_URL or $CONVEYOR_APP"
    )
    assert list(empty_folder.iterdir()) == [], "a store was created"


@pytest.mark.parametrize("command", LOOKS)
def test_a_url_naming_a_missing_file_is_not_created(empty_folder: Path, command: list[str]) -> None:
    result = conveyor(*command, "--url", "sqlite:///jobs/typo.db")

    assert result.exit_code == 1
    assert "no store at jobs/typo.db: the file does not exist" in result.stderr
    assert list(empty_folder.iterdir()) == []


def test_an_app_whose_store_is_missing_is_named(empty_folder: Path) -> None:
    module = f"fresh_app_{uuid.uuid4().hex[:8]}"
    (empty_folder / f"{module}.py").write_text(
        "from conveyor import Conveyor\n\napp = Conveyor()\n"
    )

    result = conveyor("jobs", "list", "--app", f"{module}:app")

    assert result.exit_code == 1
    assert f"no store at ./conveyor.db (the URL of {module}:app)" in result.stderr
    assert not (empty_folder / "conveyor.db").exists()


def test_schedules_are_listed_from_the_code_before_any_store_exists(empty_folder: Path) -> None:
    module = f"cron_app_{uuid.uuid4().hex[:8]}"
    (empty_folder / f"{module}.py").write_text(
        "from conveyor import Conveyor\n\napp = Conveyor()\n\n\n"
        "@app.cron('0 3 * * *', name='nightly')\nasync def nightly() -> None: ...\n"
    )

    result = conveyor("schedules", "--app", f"{module}:app")

    assert result.exit_code == 0, result.output
    assert "not in the store" in result.stdout
    assert not (empty_folder / "conveyor.db").exists()


async def ping() -> None:
    return None


def test_a_store_that_exists_is_read(empty_folder: Path) -> None:
    url = f"sqlite:///{empty_folder}/jobs.db"

    async def enqueue() -> str:
        async with Conveyor(url) as app:
            return (await app.task(ping).enqueue()).id

    job_id = asyncio.run(enqueue())

    result = conveyor("jobs", "list", "--url", url)

    assert result.exit_code == 0, result.output
    assert job_id in result.stdout


def schema_exists(name: str) -> bool:
    with psycopg.connect(POSTGRES_URL, connect_timeout=5) as conn:
        found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,)).fetchone()
    return found is not None


@pytest.mark.parametrize("command", LOOKS)
def test_a_postgresql_schema_holding_no_store_is_not_created(command: list[str]) -> None:
    with fresh_postgres() as url:  # a store of its own, to know the server is up
        name = f"conveyor_never_{uuid.uuid4().hex[:8]}"
        typo = re.sub(r"schema=\w+", f"schema={name}", url)

        result = conveyor(*command, "--url", typo)

        assert result.exit_code == 1
        assert f"no conveyor store in schema '{name}' at " in result.stderr
        assert "check ?schema= in the URL" in result.stderr
        assert not schema_exists(name)


def test_a_postgresql_store_that_exists_is_read() -> None:
    with fresh_postgres() as url:

        async def enqueue() -> str:
            async with Conveyor(url) as app:
                return (await app.task(ping).enqueue()).id

        job_id = asyncio.run(enqueue())

        result = conveyor("jobs", "list", "--url", url)

        assert result.exit_code == 0, result.output
        assert job_id in result.stdout
