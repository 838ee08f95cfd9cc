"""`@app.task(job_id=...)` derives the job id from the arguments: a format string or a callable."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import ConfigurationError, Conveyor, Task
from conveyor.backends.base import JobFilter


async def welcome(user_id: int, lang: str = "en") -> None:
    return None


def welcome_id(user_id: int, lang: str = "en") -> str:
    return f"welcome:{user_id}:{lang}"


async def test_a_format_string_rule_names_the_job(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(job_id="welcome-{user_id}")(welcome)

    first = await task.enqueue(7)
    second = await task.enqueue(user_id=7, lang="fr")

    assert (first.id, first.created) == ("welcome-7", True)
    assert (second.id, second.created) == ("welcome-7", False)


async def test_a_callable_rule_names_the_job(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(job_id=welcome_id)(welcome)

    handle = await task.enqueue(7, "fr")

    assert handle.id == "welcome:7:fr"


async def test_a_rule_sees_positional_and_keyword_arguments_alike(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(job_id="welcome-{user_id}-{lang}")(welcome)

    first = await task.enqueue(7, "fr")
    second = await task.enqueue(lang="fr", user_id=7)

    assert first.id == second.id == "welcome-7-fr"
    assert second.created is False


async def test_a_rule_sees_the_defaults_of_arguments_not_given(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(job_id="welcome-{user_id}-{lang}")(welcome)

    handle = await task.enqueue(7)

    assert handle.id == "welcome-7-en"


async def test_an_explicit_job_id_option_wins_over_the_rule(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(job_id="welcome-{user_id}")(welcome)

    handle = await task.options(job_id="by-hand").enqueue(7)

    assert handle.id == "by-hand"


async def test_a_rule_that_does_not_fit_the_arguments_is_a_configuration_error(
    app: Conveyor,
) -> None:
    task: Task[..., Any] = app.task(job_id="welcome-{account}")(welcome)

    with pytest.raises(ConfigurationError) as caught:
        await task.enqueue(7)

    message = str(caught.value)
    assert task.name in message
    assert "job_id rule" in message
    assert "account" in message
    assert await (await app.connected()).list_jobs(JobFilter()) == []
