"""Eager mode in a user's test: code under test enqueues as always, and each job (with what
it leads to) has run when the enqueue returns."""

from __future__ import annotations

import pytest

from .support import project

pytest_plugins = ["pytester"]


def test_eager_mode_runs_jobs_before_the_enqueue_returns(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        import pytest
        from conveyor import JobFailed, JobState, chain
        from conveyor.testing import assert_enqueued
        from shop import add, doomed, fan_out, flaky, place_order, remind

        async def test_a_job_and_the_jobs_it_enqueues_have_run(conveyor_eager):
            job = await fan_out.enqueue(1)
            assert await job.status() is JobState.SUCCEEDED
            nested = assert_enqueued(add, 1, b=100)
            assert await conveyor_eager.app.job(nested.id).result() == 101

        async def test_a_workflow_runs_to_its_end(conveyor_eager):
            handle = await chain(add.s(1), add.step(b=2)).enqueue()
            assert await handle.result() == 4

        async def test_retries_run_at_once(conveyor_eager):
            assert await (await flaky.enqueue("ada")).result() == "ada on attempt 3"

        def test_sync_code_under_test_runs_its_jobs_delays_included(conveyor_eager):
            job_id = place_order("ada@example.com")
            assert conveyor_eager.app.job(job_id).result_sync() == 5
            job = assert_enqueued(remind, "ada@example.com")
            assert job.delay == 3600  # as the code asked; it ran at once all the same
            assert conveyor_eager.app.job(job.id).result_sync() is None

        async def test_a_job_that_fails_for_good_raises_from_the_enqueue(conveyor_eager):
            with pytest.raises(JobFailed, match="ValueError: never works"):
                await doomed.enqueue()
            assert_enqueued(doomed)

        async def test_failures_can_be_left_to_the_job(conveyor_jobs):
            with conveyor_jobs.eager(propagate=False):
                job = await doomed.enqueue()
            assert await job.status() is JobState.FAILED
        """,
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)
