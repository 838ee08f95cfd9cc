"""The README's Python stays true: every block compiles; a block whose first line names its
file (`# jobs.py`) is a complete module, type-checked and run with the others, on a
temporary SQLite file."""

from __future__ import annotations

import ast
import asyncio
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import mypy.api
import pytest
from fastapi import FastAPI

from conveyor import Conveyor, JobState, Worker
from conveyor.backends.base import JobFilter
from conveyor.job import JobRecord

README = Path(__file__).parents[2] / "README.md"
BLOCK = re.compile(r"^( *)```python\n(.*?)^\1```", re.DOTALL | re.MULTILINE)
FILE_NAME = re.compile(r"# (\w+)\.py")


def blocks() -> list[tuple[int, str]]:
    """(line, source) of every ```python block, dedented (some sit in a list item)."""
    text = README.read_text()
    return [
        (text.count("\n", 0, found.start()) + 1, textwrap.dedent(found.group(2)))
        for found in BLOCK.finditer(text)
    ]


def modules() -> dict[str, str]:
    """The blocks that are whole modules, by module name."""
    named = {}
    for _, source in blocks():
        first = FILE_NAME.fullmatch(source.splitlines()[0])
        if first is not None:
            named[first.group(1)] = source
    return named


@pytest.mark.parametrize(
    ("line", "source"), [pytest.param(*b, id=f"line-{b[0]}") for b in blocks()]
)
def test_every_block_compiles(line: int, source: str) -> None:
    # a fragment may await at top level, as in an async function or a notebook
    compile(source, f"README.md:{line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def test_the_blocks_are_found() -> None:
    assert len(blocks()) >= 10
    assert {"jobs", "api", "timing"} <= set(modules())


@pytest.fixture
def readme_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The README's modules in a folder of their own, the current folder, importable."""
    for name, source in modules().items():
        (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.chdir(tmp_path)  # jobs.py's sqlite:///jobs.db lands here
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("CONVEYOR_URL", f"sqlite:///{tmp_path}/default.db")  # for Conveyor()
    try:
        yield tmp_path
    finally:
        for name in modules():
            sys.modules.pop(name, None)


def test_the_modules_type_check(readme_project: Path) -> None:
    files = [str(readme_project / f"{name}.py") for name in modules()]
    # strict, except that an example may leave a hook's parameters unannotated
    options = ["--strict", "--allow-untyped-defs", "--allow-incomplete-defs"]
    cache = ["--cache-dir", str(readme_project / ".mypy_cache")]

    report, errors, status = mypy.api.run([*options, *cache, *files])

    assert status == 0, report + errors


def imported(name: str) -> ModuleType:
    __import__(name)
    return sys.modules[name]


async def stored_jobs(app: Conveyor) -> list[JobRecord]:
    return await (await app.connected()).list_jobs(JobFilter(limit=100))


async def work_off(app: Conveyor) -> None:
    async with asyncio.timeout(20):
        await Worker(app, burst=True).run()


async def test_the_fastapi_app_stores_a_job_only_its_owner_sees_and_a_worker_runs_it(
    readme_project: Path,
) -> None:
    api: FastAPI = imported("api").api
    conveyor: Conveyor = imported("jobs").app
    transport = httpx.ASGITransport(app=api)

    async with (
        api.router.lifespan_context(api),
        httpx.AsyncClient(transport=transport, base_url="http://api") as client,
    ):
        signup = await client.post("/signup", params={"email": "ada@example.com"})
        assert signup.status_code == 202, signup.text
        job_id = signup.json()["job_id"]
        mine = await client.get(f"/api/jobs/{job_id}", headers={"X-User": "ada@example.com"})
        theirs = await client.get(f"/api/jobs/{job_id}", headers={"X-User": "eve@example.com"})

    assert mine.status_code == 200, mine.text
    assert mine.json()["state"] == "queued"
    assert theirs.status_code == 403
    try:
        await work_off(conveyor)
        [job] = await stored_jobs(conveyor)
    finally:
        await conveyor.close()
    assert (job.id, job.state, job.result) == (job_id, JobState.SUCCEEDED, b'{"status":"sent"}')
    assert (readme_project / "jobs.db").exists(), "the app uses the URL the README gives"


async def double(n: int) -> int:
    return 2 * n


async def test_the_middleware_example_marks_each_job_and_hears_how_it_ended(
    readme_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app: Conveyor = imported("timing").app
    task = app.task(double)

    try:
        handle = await task.enqueue(21)
        await work_off(app)
        [job] = await stored_jobs(app)
    finally:
        await app.close()

    assert job.headers["enqueued_by"] == "api"
    assert job.result == b"42"
    assert f"{handle.id} succeeded" in capsys.readouterr().out
