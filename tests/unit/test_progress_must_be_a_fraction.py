"""`ctx.progress` takes a fraction between 0.0 and 1.0; anything else is a ValueError."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Context


@pytest.mark.parametrize(
    "fraction",
    [
        pytest.param(1.5, id="above-one"),
        pytest.param(-0.1, id="negative"),
        pytest.param(float("nan"), id="nan"),
        pytest.param("0.5", id="string"),
        pytest.param(None, id="none"),
    ],
)
def test_progress_outside_zero_to_one_raises_value_error(fraction: Any) -> None:
    ctx = Context.inline("tests.report")

    with pytest.raises(ValueError, match=r"between 0\.0 and 1\.0") as caught:
        ctx.progress(fraction)
    assert repr(fraction) in str(caught.value), "the message shows the value given"
