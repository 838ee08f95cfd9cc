"""`assert_enqueued` and `assert_not_enqueued` in a user's test: calls matched as a worker
would see them, options readable, and a failure that lists what was enqueued instead."""

from __future__ import annotations

import pytest

from .support import project

pytest_plugins = ["pytester"]


def test_assertions_match_calls_and_expose_options(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        import pytest
        from conveyor import ArgumentError
        from conveyor.testing import assert_enqueued, assert_not_enqueued, enqueued
        from shop import add, place_order, remind, total

        def test_a_call_matches_with_its_defaults_and_its_options_are_there(conveyor_jobs):
            place_order("ada@example.com")
            job = assert_enqueued(remind, "ada@example.com")
            assert (job.delay, job.queue, job.retries) == (3600, "default", 3)
            assert_enqueued(add, 2, 3)  # enqueued as add(2, b=3)
            assert_enqueued(add)  # any job of the task
            assert_not_enqueued(add, 2)  # add(2) would be add(2, b=1)
            assert_not_enqueued(total)
            assert [repr(j) for j in enqueued(add)] == ["shop.add(a=2, b=3)"]
            assert len(conveyor_jobs.enqueued()) == 2

        async def test_an_idempotent_enqueue_is_one_job(conveyor_jobs):
            await add.options(job_id="once").enqueue(1)
            await add.options(job_id="once").enqueue(1)
            assert [job.id for job in enqueued(add)] == ["once"]

        def test_a_wrong_call_is_an_error_at_the_assertion(conveyor_jobs):
            with pytest.raises(ArgumentError, match="too many positional arguments"):
                assert_enqueued(total, [1], [2])

        def test_a_task_with_no_job_is_reported(conveyor_jobs):
            assert_enqueued(total)

        def test_a_missing_job_is_reported_with_what_was_there(conveyor_jobs):
            add.enqueue_sync(5)
            assert_enqueued(add, 6)
        """,
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*a job of shop.total was not enqueued; jobs of shop.total enqueued: none",
            "*Error: shop.add(6) was not enqueued; jobs of shop.add enqueued: shop.add(a=5)",
        ]
    )


def test_an_app_that_is_not_isolated_is_named(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        from conveyor.testing import assert_enqueued
        from shop import add

        def test_without_the_fixture():
            assert_enqueued(add, 1)
        """,
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*RuntimeError: assert_enqueued() reads what an isolated app*"])
