"""The audit log: one line per action taken, or refused, from the dashboard.

Logger `conveyor.dashboard.audit`; each record carries `user`, `role`, `client`, `action`,
`job_ids`, `at` (UTC, ISO 8601) and, where they apply, `queue` and `schedule`, for JSON
log formatters. Route it where your audit trail lives.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request

from conveyor.dashboard.access import User

audit = logging.getLogger("conveyor.dashboard.audit")


def record(
    request: Request,
    user: User | None,
    action: str,
    what: str,
    job_ids: Sequence[str] = (),
    *,
    level: int = logging.INFO,
    **extra: Any,
) -> None:
    """One line: when (UTC), who, from where, what, which jobs."""
    at = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
    client = request.client.host if request.client else "-"
    name = user.name if user else "-"
    role = user.role.value if user else "-"
    audit.log(
        level,
        "%s %s (%s) from %s: %s %s%s",
        at, name, role, client, action, what, f": {', '.join(job_ids)}" if job_ids else "",
        extra={
            "user": name, "role": role, "client": client, "action": action,
            "job_ids": list(job_ids), "at": at, **extra,
        },
    )  # fmt: skip
