"""`Task[P, R]` lets a type checker check `enqueue(...)` and type `await handle.result()`.

mypy runs once over a small user module; each test reads what it revealed or reported.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mypy import api

USER_CODE = """\
from conveyor import Conveyor

app = Conveyor("memory://")


@app.task
async def double(n: int) -> int:
    return n * 2


@app.task
def triple(n: int) -> int:
    return n * 3


async def produce() -> None:
    async_handle = await double.enqueue(2)
    reveal_type(await async_handle.result())  # line 18
    sync_handle = await triple.enqueue(2)
    reveal_type(await sync_handle.result())  # line 20
    await double.enqueue("two")  # line 21
    await triple.options(delay=1).enqueue(n=2, extra=True)  # line 22
"""

REVEALED_INT = r'Revealed type is "(builtins\.)?int"'


@pytest.fixture(scope="module")
def mypy_report(tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    """mypy's notes and errors about the user module, by line number."""
    folder: Path = tmp_path_factory.mktemp("typing")
    (folder / "user_code.py").write_text(USER_CODE)
    (folder / "mypy.ini").write_text("[mypy]\nstrict = True\n")
    stdout, stderr, _ = api.run(
        [
            "--config-file",
            str(folder / "mypy.ini"),
            "--cache-dir",
            str(folder / ".mypy_cache"),
            str(folder / "user_code.py"),
        ]
    )
    assert not stderr, stderr
    report: dict[int, str] = {}
    for match in re.finditer(r"user_code\.py:(\d+): (.*)", stdout):
        line = int(match.group(1))
        report[line] = report.get(line, "") + match.group(2) + "\n"
    return report


def test_the_result_of_a_sync_task_is_typed_by_its_return_annotation(
    mypy_report: dict[int, str],
) -> None:
    assert re.search(REVEALED_INT, mypy_report[20]), mypy_report[20]


def test_the_result_of_an_async_task_is_typed_by_its_return_annotation(
    mypy_report: dict[int, str],
) -> None:
    assert re.search(REVEALED_INT, mypy_report[18]), mypy_report[18]


def test_enqueue_arguments_are_checked_against_the_signature(
    mypy_report: dict[int, str],
) -> None:
    assert 'incompatible type "str"; expected "int"' in mypy_report[21]
    assert 'Unexpected keyword argument "extra"' in mypy_report[22]
