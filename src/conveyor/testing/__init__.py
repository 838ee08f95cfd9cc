"""Testing an app that uses conveyor: its jobs on a backend of the test's own, drained in
the test's event loop, or run at once (eager), and assertions over what it enqueued.

The pytest plugin (installed with conveyor) wraps them in fixtures: `conveyor_jobs`,
`conveyor_eager`, `conveyor_app` and `conveyor_url`.
"""

from conveyor.testing.drain import Drained, RanJob, drain, drain_sync
from conveyor.testing.eager import eager
from conveyor.testing.isolation import IsolatedApp, isolated
from conveyor.testing.recorder import (
    EnqueuedJob,
    assert_enqueued,
    assert_not_enqueued,
    enqueued,
)

__all__ = [
    "Drained",
    "EnqueuedJob",
    "IsolatedApp",
    "RanJob",
    "assert_enqueued",
    "assert_not_enqueued",
    "drain",
    "drain_sync",
    "eager",
    "enqueued",
    "isolated",
]
