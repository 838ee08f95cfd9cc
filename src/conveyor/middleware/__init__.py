"""Middleware: the one way to wrap the enqueue and the execution of jobs.

Subclass `Middleware`, define the hooks you need, and pass instances to
`Conveyor(middleware=[...])`. Metrics (`conveyor.middleware.prometheus`), tracing
(`conveyor.middleware.tracing`) and job log lines (`conveyor.middleware.logs`) are built on
it.
"""

from conveyor.middleware.base import OUTCOMES, Job, Middleware, Outcome, OutgoingJob

__all__ = ["OUTCOMES", "Job", "Middleware", "Outcome", "OutgoingJob"]
