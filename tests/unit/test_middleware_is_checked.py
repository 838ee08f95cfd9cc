"""Bad middleware is refused where it is given, with one line that says what to pass."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conveyor import ConfigurationError, Conveyor
from conveyor.middleware import Middleware


class Timing(Middleware):
    pass


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ([object()], "middleware must be instances of conveyor.middleware.Middleware, got <object"),
        ([Timing], "Timing is a Middleware class: pass an instance, Timing()"),
        ("timing", "middleware must be a list of Middleware instances, got 'timing'"),
        (Timing(), "middleware must be a list of Middleware instances, got <"),
        (None, "middleware must be a list of Middleware instances, got None"),
    ],
    ids=["not a middleware", "a class", "a string", "one instance", "None"],
)
def test_bad_middleware_is_a_configuration_error_in_one_line(given: Any, says: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Conveyor("memory://", middleware=given)

    message = str(caught.value)
    assert message.startswith(says)
    assert "\n" not in message


def test_add_middleware_checks_the_same_and_keeps_the_app_as_it_was() -> None:
    app = Conveyor("memory://", middleware=[Timing()])
    before = app.middleware

    with pytest.raises(ConfigurationError, match=re.escape("pass an instance, Timing()")):
        app.add_middleware(Timing)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="got 'timing'"):
        app.add_middleware("timing")  # type: ignore[arg-type]

    assert app.middleware == before


def test_the_correlation_middleware_is_always_outermost() -> None:
    timing = Timing()
    app = Conveyor("memory://", middleware=[timing])
    later = Timing()
    app.add_middleware(later)

    assert [type(m).__name__ for m in app.middleware] == ["JobContext", "Timing", "Timing"]
    assert app.middleware[1:] == (timing, later)
