"""Run an ARQ app on conveyor by changing its imports.

    from conveyor.compat.arq import RedisSettings, Retry, create_pool, cron, func

and run its worker with `conveyor worker --arq module.WorkerSettings`. The names mirror
ARQ's modules (`connections`, `cron`, `jobs`, `worker`); docs/migration/arq.md lists what
maps how, and where conveyor differs.
"""

from .connections import ArqRedis, RedisSettings, create_pool
from .cron import CronJob, cron
from .functions import Function, func
from .jobs import Job, JobDef, JobResult, JobStatus
from .worker import Retry, conveyor_app, run_worker

__all__ = [
    "ArqRedis",
    "CronJob",
    "Function",
    "Job",
    "JobDef",
    "JobResult",
    "JobStatus",
    "RedisSettings",
    "Retry",
    "conveyor_app",
    "create_pool",
    "cron",
    "func",
    "run_worker",
]
