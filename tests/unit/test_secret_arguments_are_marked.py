"""Which arguments are secret: typed as pydantic secrets (also inside Optional, list, dict),
or named by the task. Their values are stored as they are and come back intact; the job
names them, so readers that do not know the task can hide them."""

from __future__ import annotations

import re
from typing import Annotated, Any

import pytest
from pydantic import Field, Secret, SecretBytes, SecretStr

from conveyor import ConfigurationError, Conveyor, Task, chain
from conveyor.backends.base import JobFilter
from conveyor.redact import Redactor


def connect(
    host: str,
    password: SecretStr,
    key: SecretBytes | None = None,
    spares: list[SecretStr] | None = None,
    pins: dict[str, Secret[int]] | None = None,
    note: Annotated[SecretStr, Field(min_length=1)] | None = None,
) -> None:
    return None


def call(url: str, token: str) -> None:
    return None


def test_arguments_typed_as_secrets_are_secret_and_named_on_the_job() -> None:
    task: Task[..., Any] = Conveyor("memory://").task(connect)

    record = task.s("db", SecretStr("pw")).record

    assert task.secret_params == {"password", "key", "spares", "pins", "note"}
    assert record.headers == {"secret_args": "key,note,password,pins,spares"}


def test_every_secret_value_is_stored_as_it_is_and_comes_back_intact() -> None:
    task: Task[..., Any] = Conveyor("memory://").task(connect)
    call = task.s(
        "db",
        SecretStr("pw-1"),
        SecretBytes(b"\x00key"),
        [SecretStr("pw-2")],
        {"a": Secret[int](1234)},
        SecretStr("pw-3"),
    )

    decoded = task.codec.decode(call.record.payload)

    assert decoded["password"].get_secret_value() == "pw-1"
    assert decoded["key"].get_secret_value() == b"\x00key"
    assert [s.get_secret_value() for s in decoded["spares"]] == ["pw-2"]
    assert decoded["pins"]["a"].get_secret_value() == 1234
    assert decoded["note"].get_secret_value() == "pw-3"
    assert b"**********" not in call.record.payload


def test_arguments_named_by_the_task_are_secret() -> None:
    task: Task[..., Any] = Conveyor("memory://").task(secret_args=["token"])(call)

    assert task.secret_params == {"token"}
    assert task.s("https://api.example", "t0k").record.headers == {"secret_args": "token"}


def test_a_task_without_secrets_adds_nothing_to_its_jobs() -> None:
    task: Task[..., Any] = Conveyor("memory://").task(call)

    assert task.secret_params == frozenset()
    assert task.s("https://api.example", "t0k").record.headers == {}


@pytest.mark.parametrize("marked", [["tokn"], "token"])
def test_secret_args_must_name_parameters_of_the_task(marked: Any) -> None:
    app = Conveyor("memory://")

    with pytest.raises(ConfigurationError) as caught:
        app.task(secret_args=marked)(call)

    message = str(caught.value)
    assert re.search(r"secret_args must list parameter names of the task, got", message)
    assert "\n" not in message
    assert app.tasks == {}


async def first_step() -> str:
    return "db"


async def log_in(host: str, password: SecretStr) -> None:
    return None


async def look_up(host: str, user: str) -> None:
    return None


async def test_a_workflow_header_holding_a_later_secret_is_hidden_whole() -> None:
    app = Conveyor("memory://")
    first: Task[..., Any] = app.task(first_step)
    then = app.task(log_in)
    plain = app.task(look_up)

    hidden = await chain(first.s(), then.step(SecretStr("pw-1"))).enqueue()
    shown = await chain(first.s(), plain.step("ada")).enqueue()
    backend = await app.connected()
    [hidden_job] = [j for j in await backend.list_jobs(JobFilter()) if j.id.startswith(hidden.id)]
    [shown_job] = [j for j in await backend.list_jobs(JobFilter()) if j.id.startswith(shown.id)]

    assert "pw-1" in hidden_job.headers["workflow_next"], "stored as it is, for the next step"
    assert Redactor().headers(hidden_job.headers)["workflow_next"] == "[redacted]"
    assert (
        Redactor().headers(shown_job.headers)["workflow_next"] == shown_job.headers["workflow_next"]
    )
