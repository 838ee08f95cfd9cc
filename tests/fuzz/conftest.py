"""Hypothesis settings for the fuzz tests: a modest number of examples, so the suite stays
quick; no deadline, since a shared machine's pauses are not the code's; in CI the examples
are derived from each test's name, so a run there is repeatable."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

settings.register_profile(
    "conveyor",
    max_examples=50,
    deadline=None,
    derandomize=IN_CI,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("conveyor")
