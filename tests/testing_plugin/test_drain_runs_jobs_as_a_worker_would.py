"""`await conveyor_jobs.drain()` in a user's test: every due job, and what they lead to,
run by a real worker in the test's loop, with retries, timeouts, middleware and workflows."""

from __future__ import annotations

import pytest

from .support import project

pytest_plugins = ["pytester"]


def test_a_drain_runs_workflows_retries_timeouts_and_middleware(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        from conveyor import JobState, chain, group
        from shop import Stamp, add, doomed, fan_out, flaky, stuck, total

        async def test_jobs_and_what_they_lead_to(conveyor_jobs):
            await chain(add.s(1, 2), add.step(b=10)).enqueue()
            await group(add.s(n) for n in range(3)).then(total.step()).enqueue()
            await fan_out.enqueue(7)

            ran = await conveyor_jobs.drain()

            assert ran.results(total) == [6]  # 1 + 2 + 3
            assert 13 in ran.results(add)  # the chain's second step: (1 + 2) + 10
            assert 107 in ran.results(add)  # enqueued by fan_out while it ran
            assert {job.state for job in ran} == {JobState.SUCCEEDED}
            assert len(await conveyor_jobs.drain()) == 0  # nothing left

        async def test_retries_run_in_the_same_drain(conveyor_jobs):
            job = await flaky.enqueue("ada")
            [ran] = await conveyor_jobs.drain()
            assert (ran.id, ran.state, ran.attempts) == (job.id, JobState.SUCCEEDED, 3)
            assert await job.result() == "ada on attempt 3"

        async def test_a_retry_can_be_left_to_wait(conveyor_jobs):
            await flaky.enqueue("bob")
            [ran] = await conveyor_jobs.drain(skip_retry_delays=False)
            assert (ran.state, ran.attempts, ran.error.message) == (
                JobState.SCHEDULED, 1, "attempt 1 failed"
            )

        async def test_timeouts_and_failures_end_as_in_production(conveyor_jobs):
            await stuck.enqueue()
            await doomed.enqueue()
            ran = await conveyor_jobs.drain()
            assert [(j.task, j.state, j.attempts, j.error.reason) for j in ran.failed] == [
                ("shop.stuck", JobState.FAILED, 1, "timeout"),
                ("shop.doomed", JobState.FAILED, 2, "exception"),
            ]

        async def test_the_apps_middleware_wraps_each_job(conveyor_jobs):
            Stamp.executed.clear()
            await add.enqueue(1)
            await conveyor_jobs.drain()
            assert Stamp.executed == ["shop.add"]
            assert conveyor_jobs.assert_enqueued(add, 1).headers["stamped"] == "yes"
        """,
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


def test_a_sync_test_drains_with_drain_sync(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        from shop import add, place_order

        def test_code_under_test_enqueues_from_sync_code(conveyor_jobs):
            job_id = place_order("ada@example.com")
            ran = conveyor_jobs.drain_sync()
            assert [(job.id, job.result) for job in ran] == [(job_id, 5)]
        """,
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_temporary_sqlite_file_instead_of_memory(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        from shop import add

        async def test_the_jobs_live_in_a_file_of_the_tests_own(conveyor_jobs, tmp_path):
            assert conveyor_jobs.url == f"sqlite:///{tmp_path}/jobs.db"
            await add.enqueue(1)
            assert (tmp_path / "jobs.db").exists()
            assert [job.result for job in await conveyor_jobs.drain()] == [2]
        """,
        ini=INI_SQLITE,
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


INI_SQLITE = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
conveyor_app = shop:app
conveyor_backend = sqlite
"""
