"""An ARQ app, as written for ARQ, running on conveyor: only the import lines changed.

    from arq import Retry, cron                      ->  from conveyor.compat.arq import (
    from arq.connections import RedisSettings                RedisSettings, Retry, cron)

Run its worker with `conveyor worker --arq examples.arq_migration.app.WorkerSettings`
(ARQ: `arq examples.arq_migration.app.WorkerSettings`), and enqueue with
`python -m examples.arq_migration.enqueue`. REDIS_DSN may name any conveyor store:
redis://localhost:6379, sqlite:///jobs.db, postgresql://localhost/app.
"""

from __future__ import annotations

import os
from typing import Any

from conveyor.compat.arq import RedisSettings, Retry, cron

REDIS_SETTINGS = RedisSettings.from_dsn(os.environ.get("REDIS_DSN", "redis://localhost:6379"))


class Mailer:
    """Stands in for an SMTP or HTTP mail client. Like a real provider, it sometimes asks
    the sender to slow down: here, the first message it is given."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.refused = 0

    async def send(self, to: str, subject: str) -> bool:
        if self.refused == 0:
            self.refused += 1
            return False  # "429: slow down"
        self.sent.append(f"{to}: {subject}")
        return True

    async def close(self) -> None:
        print(f"mailer closed after sending {len(self.sent)} message(s)", flush=True)


async def startup(ctx: dict[str, Any]) -> None:
    ctx["mailer"] = Mailer()


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["mailer"].close()


async def send_email(ctx: dict[str, Any], to: str, subject: str) -> dict[str, Any]:
    if not await ctx["mailer"].send(to, subject):
        raise Retry(defer=ctx["job_try"] * 5)  # 5 s, then 10 s, ...
    return {"to": to, "subject": subject, "job_try": ctx["job_try"]}


async def record_signup(ctx: dict[str, Any], user_id: int) -> str:
    # enqueued with _job_id=f"signup-{user_id}": a second signup of the same user is dropped
    enqueued = ctx["enqueue_time"]
    return f"user {user_id} signed up (job {ctx['job_id']}, enqueued {enqueued:%H:%M:%S})"


async def ping(ctx: dict[str, Any]) -> dict[str, Any]:
    """A liveness ping, every two seconds."""
    return {"mailer_ready": isinstance(ctx.get("mailer"), Mailer), "job_try": ctx["job_try"]}


class WorkerSettings:
    functions = [send_email, record_signup]
    cron_jobs = [cron(ping, second=set(range(0, 60, 2)))]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = REDIS_SETTINGS
    max_tries = 5
