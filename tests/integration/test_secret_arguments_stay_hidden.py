"""Secret arguments (typed `SecretStr`/`SecretBytes`, or named in `secret_args=`) reach the
task intact, and nothing conveyor writes about their job shows them: the stored error and
traceback, the worker's log lines (text and JSON, with `--log-jobs`), `conveyor jobs show`
and `jobs list`, and the errors of a call that does not fit."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import logging
import sys
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretBytes, SecretStr

from conveyor import Conveyor, JobState, SerializationError, Worker
from conveyor.job import JobRecord
from conveyor.logs import JobFieldsFilter, json_formatter

from .cli_support import conveyor

PASSWORD = "hunter2-correct-horse"
TOKEN = "tok-5up3r-s3cr3t"
KEY = b"\x00raw-key-bytes"
SECRETS = (PASSWORD, TOKEN, "raw-key-bytes")

APP_SOURCE = '''\
"""A user's app whose tasks take secrets."""

from pydantic import SecretBytes, SecretStr

from conveyor import Conveyor
from conveyor.middleware.logs import JobLogMiddleware

app = Conveyor(URL, middleware=[JobLogMiddleware()])


@app.task
async def check(user: str, password: SecretStr) -> bool:
    return password.get_secret_value() == PASSWORD


@app.task(retries=1, backoff="constant", backoff_base=0.01)
async def refuse(user: str, password: SecretStr) -> None:
    raise PermissionError(f"{user} may not log in with {password.get_secret_value()}")


@app.task(retries=0, secret_args=["token"])
def call_api(url: str, token: str) -> None:
    raise ConnectionError(f"{url} refused token {token}")


@app.task(retries=0, executor="process")
def sign(key: SecretBytes) -> None:
    raise ValueError(f"cannot sign with {key.get_secret_value()!r}")
'''


@dataclasses.dataclass(frozen=True)
class Seeded:
    url: str
    app_path: str
    checked: str
    refused: str
    marked: str
    signed: str
    log_lines: list[str]

    def job(self, job_id: str) -> JobRecord:
        async def get() -> JobRecord | None:
            app = Conveyor(self.url)
            try:
                return await (await app.connected()).get(job_id)
            finally:
                await app.close()

        record = asyncio.run(get())
        assert record is not None
        return record


class Lines(logging.Handler):
    """Every line logged, as the worker's text and JSON formats would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._json = json_formatter()
        self._text = logging.Formatter("%(message)s")
        self.addFilter(JobFieldsFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self._text.format(record))
        self.lines.append(self._json.format(record))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """One store, where a burst worker ran a job of each kind with real secrets."""
    folder = tmp_path_factory.mktemp("secrets")
    module = f"secret_app_{uuid.uuid4().hex[:12]}"
    url = f"sqlite:///{folder}/jobs.db"
    source = APP_SOURCE.replace("URL", repr(url)).replace("PASSWORD", repr(PASSWORD))
    (folder / f"{module}.py").write_text(source)
    sys.path.insert(0, str(folder))
    lines = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(lines)
    root.setLevel(logging.DEBUG)
    try:
        app: Conveyor = importlib.import_module(module).app

        async def run() -> list[str]:
            tasks = {name.rpartition(".")[2]: task for name, task in app.tasks.items()}
            try:
                handles = [
                    await tasks["check"].enqueue("ada", SecretStr(PASSWORD)),
                    await tasks["refuse"].enqueue("ada", SecretStr(PASSWORD)),
                    await tasks["call_api"].enqueue("https://api.example", TOKEN),
                    await tasks["sign"].enqueue(SecretBytes(KEY)),
                ]
                async with asyncio.timeout(20):
                    await Worker(app, burst=True, heartbeat=0.1, lease=2.0).run()
                return [handle.id for handle in handles]
            finally:
                await app.close()

        checked, refused, marked, signed = asyncio.run(run())
        yield Seeded(url, f"{module}:app", checked, refused, marked, signed, lines.lines)
    finally:
        root.removeHandler(lines)
        root.setLevel(level)
        sys.path.remove(str(folder))
        sys.modules.pop(module, None)


def sign(key: SecretBytes) -> None:
    raise ValueError(f"cannot sign with {key.get_secret_value()!r}")


def assert_hidden(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} shown in:\n{text}"


def test_the_secret_reaches_the_task_intact(seeded: Seeded) -> None:
    record = seeded.job(seeded.checked)

    assert record.state is JobState.SUCCEEDED
    assert record.result == b"true"
    # stored as it is, as it must be for a worker to run it: encryption protects it at rest
    assert PASSWORD.encode() in record.payload


@pytest.mark.parametrize("job", ["refused", "marked", "signed"])
def test_a_stored_error_and_traceback_hold_no_secret(seeded: Seeded, job: str) -> None:
    record = seeded.job(getattr(seeded, job))

    assert record.state is JobState.FAILED
    assert record.error is not None
    assert record.error.traceback is not None
    assert "[redacted]" in record.error.message, "the message says something was cut"
    assert_hidden(record.error.message)
    assert_hidden(record.error.traceback)


def test_a_secret_is_cut_from_every_attempt(seeded: Seeded) -> None:
    record = seeded.job(seeded.refused)

    assert record.attempts == 2
    assert record.error is not None
    assert record.error.message == "ada may not log in with [redacted]"


def test_no_log_line_holds_a_secret(seeded: Seeded) -> None:
    logged = "\n".join(seeded.log_lines)

    assert f"job {seeded.refused}" in logged, "the jobs were logged"
    assert "may not log in with [redacted]" in logged, "with their errors"
    assert '"job_id": "' in logged, "as JSON too"
    assert_hidden(logged)


@pytest.mark.parametrize("known", [True, False], ids=["with --app", "with --url only"])
@pytest.mark.parametrize("job", ["checked", "refused", "marked", "signed"])
def test_jobs_show_redacts_the_secret_arguments(seeded: Seeded, job: str, known: bool) -> None:
    where = ["--app", seeded.app_path] if known else ["--url", seeded.url]

    shown = conveyor("jobs", "show", getattr(seeded, job), *where)

    assert shown.exit_code == 0, shown.output
    assert "[redacted]" in shown.output
    assert_hidden(shown.output)


def test_jobs_show_still_shows_the_arguments_that_are_not_secret(seeded: Seeded) -> None:
    shown = conveyor("jobs", "show", seeded.marked, "--url", seeded.url)

    assert '"url":"https://api.example"' in shown.output
    assert '"token":"[redacted]"' in shown.output


def test_jobs_list_shows_no_secret(seeded: Seeded) -> None:
    listed = conveyor("jobs", "list", "--url", seeded.url)

    assert listed.exit_code == 0, listed.output
    assert seeded.refused in listed.output
    assert_hidden(listed.output)


async def test_an_argument_that_does_not_fit_is_refused_without_its_value(
    seeded: Seeded,
) -> None:
    module = importlib.import_module(seeded.app_path.partition(":")[0])
    refuse: Any = module.refuse

    with pytest.raises(SerializationError) as caught:
        await refuse.enqueue("ada", PASSWORD)  # a str where a SecretStr belongs

    assert "argument 'password' (str)" in str(caught.value)
    assert_hidden("".join(traceback.format_exception(caught.value)))


async def test_a_stored_secret_that_does_not_decode_is_failed_without_its_value(
    tmp_path: Path,
) -> None:
    app = Conveyor(f"sqlite:///{tmp_path}/jobs.db")
    app.task(name="sign", retries=0)(sign)
    try:
        backend = await app.connected()
        # written around the client: not base64, as a corrupted or forged payload could be
        payload = f'{{"key": "{PASSWORD}"}}'.encode()
        await backend.enqueue([JobRecord(id="bad", task="sign", queue="default", payload=payload)])
        async with asyncio.timeout(10):
            await Worker(app, burst=True).run()
        record = await backend.get("bad")
    finally:
        await app.close()

    assert record is not None
    assert record.error is not None
    assert record.error.reason == "undecodable"
    assert "key: " in record.error.message, "it says which argument"
    assert_hidden(record.error.message)
