"""The README's test module passes: pytest, with conveyor's plugin, runs it against the
README's own app (`jobs.py`, `api.py`), and the app's real store is never touched."""

from __future__ import annotations

import pytest

from .test_readme_code_runs import modules

pytest_plugins = ["pytester"]


def test_the_readme_tests_pass_with_the_plugin(pytester: pytest.Pytester) -> None:
    readme = modules()
    pytester.makepyfile(jobs=readme["jobs"], api=readme["api"], test_api=readme["test_api"])
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.syspathinsert()

    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=2)
    assert not (pytester.path / "jobs.db").exists(), "the tests ran on a store of their own"
