"""The plugin is found through its entry point, imports no conveyor module until a fixture
is used, says in one line what is missing, and leaves the user's app as it found it."""

from __future__ import annotations

import pytest

from .support import INI, SHOP, project

pytest_plugins = ["pytester"]


def test_pytest_starts_without_importing_conveyor(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import sys

        def pytest_report_header():
            loaded = sorted(m for m in sys.modules if m.split(".")[0] == "conveyor")
            return f"conveyor modules at start-up: {loaded}"
        """
    )
    pytester.makepyfile(test_nothing="def test_nothing(): pass")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["conveyor modules at start-up: []"])
    result.stdout.fnmatch_lines(["plugins:*conveyor*"])


def test_an_app_given_by_a_fixture_and_left_as_it_was(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(shop=SHOP)
    pytester.makeini(INI.replace("conveyor_app = shop:app", ""))
    pytester.makeconftest(
        """
        import pytest
        import shop

        @pytest.fixture
        def conveyor_app():
            return shop.app
        """
    )
    pytester.makepyfile(
        test_shop="""
        import shop

        async def test_isolated(conveyor_jobs):
            assert shop.app.url == "memory://"
            await shop.add.enqueue(1)

        def test_restored_after():
            assert shop.app.url == "sqlite:///the-real-store-is-never-used.db"
            assert shop.app._backend is None
            assert [type(m).__name__ for m in shop.app.middleware] == ["JobContext", "Stamp"]
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert not (pytester.path / "the-real-store-is-never-used.db").exists()


def test_what_is_missing_is_one_line(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        """
        def test_jobs(conveyor_jobs):
            pass
        """,
        ini=INI.replace("conveyor_app = shop:app", ""),
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*the conveyor fixtures need your app: set `conveyor_app = myproject.jobs:app`*"]
    )

    pytester.makeini(INI.replace("shop:app", "shop:nope"))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*conveyor_app = shop:nope: module 'shop' has no attribute 'nope'*"]
    )

    pytester.makeini(INI + "conveyor_backend = redis\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*conveyor_backend = redis: use one of memory, sqlite*"])
