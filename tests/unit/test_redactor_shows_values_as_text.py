"""The redactor shows a UUID, a Decimal and a timedelta as their text, not their repr."""

from __future__ import annotations

import datetime
import decimal
import uuid

from conveyor.redact import Redactor


def test_uuids_decimals_and_durations_are_shown_as_their_text() -> None:
    job_id = uuid.UUID("12345678-1234-5678-1234-567812345678")
    shown = Redactor().plain(
        {"id": job_id, "price": decimal.Decimal("9.90"), "wait": datetime.timedelta(minutes=2)}
    )

    assert shown == {"id": str(job_id), "price": "9.90", "wait": "0:02:00"}


def test_other_objects_are_shown_by_their_repr() -> None:
    class Point:
        def __repr__(self) -> str:
            return "Point(1, 2)"

    assert Redactor().plain([Point()]) == ["Point(1, 2)"]
