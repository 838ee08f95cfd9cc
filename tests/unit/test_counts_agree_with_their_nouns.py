"""What conveyor prints says "1 attempt" and "2 attempts", never "1 attempts"."""

from __future__ import annotations

import pytest

from conveyor.backends.base import worker_lost_error
from conveyor.wording import counted


@pytest.mark.parametrize(
    ("number", "text"), [(0, "0 jobs"), (1, "1 job"), (2, "2 jobs"), (1000, "1000 jobs")]
)
def test_a_noun_is_plural_unless_there_is_one(number: int, text: str) -> None:
    assert counted(number, "job") == text


def test_a_job_dead_lettered_at_its_first_loss_says_once() -> None:
    assert "stopped answering 1 time while running it" in worker_lost_error(0).message
    assert "stopped answering 3 times while running it" in worker_lost_error(2).message
