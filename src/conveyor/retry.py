"""Backoff policies: how long to wait before attempt n+1."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Literal, TypeAlias

from conveyor.errors import ConfigurationError

BackoffName = Literal["constant", "linear", "exponential"]
# A callable gets the attempt that just failed (1 for the first) and returns seconds.
Backoff: TypeAlias = BackoffName | Callable[[int], float]

MAX_DELAY = 3600.0


def check_backoff(backoff: Backoff) -> None:
    if callable(backoff):
        return
    if backoff not in ("constant", "linear", "exponential"):
        raise ConfigurationError(
            f"backoff must be 'constant', 'linear', 'exponential' or a callable "
            f"taking the attempt number; got {backoff!r}"
        )


def check_retry_on(retry_on: object, where: str) -> None:
    if retry_on is None:
        return
    exception_types = isinstance(retry_on, tuple) and all(
        isinstance(kind, type) and issubclass(kind, BaseException) for kind in retry_on
    )
    if not exception_types:
        raise ConfigurationError(
            f"{where}: retry_on must be a list of exception classes, such as "
            f"[ConnectionError, TimeoutError], or None to retry every exception; got {retry_on!r}"
        )


def is_retried(retry_on: tuple[type[BaseException], ...] | None, raised: type | str) -> bool:
    """Whether a failed attempt may be followed by another (None retries every exception).
    `raised` is the exception's class, or its qualified name when a child process raised
    it: then that very class must be listed, since its bases did not come back."""
    if retry_on is None:
        return True
    if isinstance(raised, str):
        names = {f"{kind.__module__}.{kind.__qualname__}" for kind in retry_on}
        return raised in names or f"builtins.{raised}" in names
    return issubclass(raised, retry_on)


def retry_delay(backoff: Backoff, attempt: int, base: float) -> float:
    """Seconds to wait after `attempt` failed. Exponential backoff uses full jitter."""
    if callable(backoff):
        return max(0.0, float(backoff(attempt)))
    if backoff == "constant":
        return base
    if backoff == "linear":
        return min(MAX_DELAY, base * attempt)
    ceiling = min(MAX_DELAY, base * 2 ** (attempt - 1))
    # full jitter spreads a burst of failures instead of retrying them in lockstep
    return random.uniform(ceiling / 2, ceiling)
