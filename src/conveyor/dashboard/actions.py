"""What an operator can do from the pages: retry, cancel and delete jobs; pause and resume
a queue; run a schedule now. Each is a POST that the guard let through (a valid CSRF token,
a user who may act), answered by a redirect back with a notice, and logged on
`conveyor.dashboard.audit` with who did it, what, to which jobs, and when.

Jobs are chosen one by one (the checkboxes, or a job's page) or as "all that match" the
jobs page's filters. The latter first answers with a page that counts them and asks to
confirm: a filter of a state (and a queue) is counted by `Backend.counts()`, which never
reads the jobs; any other is counted by listing at most `batch_limit` + 1 of them. Only
the confirmation lists the jobs to act on, a page at a time, acting on each page before
reading the next: at most `batch_limit` per confirmation, in batches of BATCH.
"""

from __future__ import annotations

import asyncio
import dataclasses
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from conveyor.backends.base import FINISHED, Backend
from conveyor.dashboard import audit
from conveyor.dashboard.access import User
from conveyor.dashboard.filters import FIELDS, BadFilter, JobQuery, parse
from conveyor.dashboard.guard import form_of, user_of
from conveyor.dashboard.site import NOTICE_COOKIE, Site, root_of
from conveyor.job import JobRecord, JobState
from conveyor.job_ids import new_id
from conveyor.task import QUEUE_NAME, Signature

BATCH = 100  # jobs acted on together, and named together on one audit line
PAGE = 500  # jobs read per page while collecting "all that match"
PARALLEL = 16  # single-job calls to the store in flight at once
MAX_SELECTED = 1_000  # jobs chosen by checkbox in one action


@dataclasses.dataclass(frozen=True, slots=True)
class Verb:
    name: str  # "retry"
    done: str  # "retried"
    applies_to: frozenset[JobState]  # the states a job must be in for the verb to apply


VERBS = {
    "retry": Verb("retry", "retried", frozenset({JobState.FAILED, JobState.CANCELLED})),
    "cancel": Verb(
        "cancel",
        "cancelled",
        frozenset({JobState.SCHEDULED, JobState.QUEUED, JobState.ACTIVE}),
    ),
    "delete": Verb("delete", "deleted", FINISHED),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Found:
    """A job chosen for an action, as much as the action needs of it."""

    id: str
    state: JobState


class Actions:
    def __init__(self, site: Site) -> None:
        self.site = site

    async def act(self, request: Request) -> Response:
        verb = request.path_params["verb"]
        form = {key: values[0] for key, values in form_of(request).items()}
        if verb in VERBS:
            return await self._jobs(request, VERBS[verb], form)
        if verb in ("pause", "resume"):
            return await self._queue(request, verb, form.get("queue", ""), form)
        if verb == "run":
            return await self._run_schedule(request, form.get("schedule", ""), form)
        return PlainTextResponse(f"no action named {verb!r}", 404)

    # -- jobs ------------------------------------------------------------------------------

    async def _jobs(self, request: Request, verb: Verb, form: dict[str, str]) -> Response:
        backend = await self.site.backend()
        user = user_of(request)
        if form.get("scope") == "matching":
            return await self._matching(request, backend, user, verb, form)
        ids = list(dict.fromkeys(form_of(request).get("job", [])))
        if not ids:
            return self._back(request, form, "no job was chosen")
        if len(ids) > MAX_SELECTED:
            return self._back(request, form, f"choose at most {MAX_SELECTED} jobs at once")
        if verb.name == "delete":
            chosen = ids  # the store itself leaves live jobs and unknown ids alone
        else:
            records = await _read(backend, ids)
            chosen = [r.id for r in records if r is not None and r.state in verb.applies_to]
        done = await self._apply(request, backend, user, verb, chosen)
        return self._back(request, form, _words(verb, done, left=len(ids) - done))

    async def _matching(
        self, request: Request, backend: Backend, user: User, verb: Verb, form: dict[str, str]
    ) -> Response:
        now = await backend.now()
        try:
            query = parse(form, now)
        except BadFilter as exc:
            return self._back(request, form, str(exc))
        if form.get("confirmed") != "yes":
            return await self._ask(request, backend, verb, query, form, now)
        limit = self.site.settings.batch_limit
        done = seen = 0
        more = False
        cursor: str | None = None
        while seen < limit:  # a page read, then acted on, then the next one
            page = await backend.page_jobs(
                query.job_filter(cursor=cursor, limit=min(PAGE, limit - seen + 1))
            )
            taken = page.jobs[: limit - seen]
            seen += len(taken)
            chosen = [r.id for r in taken if r.state in verb.applies_to]
            done += await self._apply(request, backend, user, verb, chosen)
            cursor = page.next_cursor
            if seen >= limit:
                more = len(page.jobs) > len(taken) or cursor is not None
            if cursor is None:  # a short or empty page with a cursor: the store goes on
                break
        words = _words(verb, done, left=seen - done)
        if more:
            words += f" (the first {limit} that matched: do it again for the rest)"
        return self._back(request, form, words)

    async def _ask(
        self,
        request: Request,
        backend: Backend,
        verb: Verb,
        query: JobQuery,
        form: dict[str, str],
        now: float,
    ) -> Response:
        """The page that counts the jobs matching and asks to confirm; it changes nothing."""
        limit = self.site.settings.batch_limit
        counted = await _counted(backend, query)
        if counted is not None:
            matched = counted
            applicable = counted if query.state in verb.applies_to else 0
            more = matched > limit
        else:
            found = await collect(backend, query, limit + 1)
            more = len(found) > limit
            matched = min(len(found), limit)
            applicable = sum(r.state in verb.applies_to for r in found[:limit])
        return self.site.render(
            request, "confirm.html", now=now, page="jobs", verb=verb, query=query,
            matched=matched, applicable=applicable, acting=min(applicable, limit),
            exact=counted is not None, more=more, limit=limit, fields=FIELDS,
            next=_next_path(form),
        )  # fmt: skip

    async def _apply(
        self, request: Request, backend: Backend, user: User, verb: Verb, ids: list[str]
    ) -> int:
        """Act on the jobs, batch after batch, each batch on one audit line; how many the
        store changed."""
        done = 0
        for start in range(0, len(ids), BATCH):
            batch = ids[start : start + BATCH]
            changed = await _batch(backend, verb, batch)
            done += changed
            audit.record(request, user, verb.name, f"{changed} of {len(batch)} jobs", batch)
        return done

    # -- queues and schedules --------------------------------------------------------------

    async def _queue(
        self, request: Request, verb: str, queue: str, form: dict[str, str]
    ) -> Response:
        if not QUEUE_NAME.match(queue):
            return self._back(request, form, f"{queue!r} is not a queue name")
        backend = await self.site.backend()
        if verb == "pause":
            await backend.pause_queue(queue)
        else:
            await backend.resume_queue(queue)
        audit.record(request, user_of(request), verb, f"queue {queue}", queue=queue)
        state = "paused: workers take none of its jobs" if verb == "pause" else "resumed"
        return self._back(request, form, f"queue {queue} {state}")

    async def _run_schedule(self, request: Request, name: str, form: dict[str, str]) -> Response:
        schedule = self.site.conveyor.schedules.get(name)
        if schedule is None:
            return self._back(request, form, f"no schedule named {name!r} here")
        user = user_of(request)
        template = schedule.call.record
        record = dataclasses.replace(
            template,
            id=new_id(),
            headers={**template.headers, "cron_schedule": name, "run_by": f"dashboard:{user.name}"},
            delay=0.0,
        )
        (handle,) = await self.site.conveyor.enqueue_many([Signature(schedule.call.task, record)])
        what = "enqueued" if handle.created else "found already pending (unique)"
        audit.record(request, user, "run", f"schedule {name}: {what}", [handle.id], schedule=name)
        return self._back(request, form, f"schedule {name}: job {handle.id} {what}")

    # -- answers ---------------------------------------------------------------------------

    def _back(self, request: Request, form: dict[str, str], notice: str) -> Response:
        """Back to the page the form came from, with a notice shown there once."""
        root = root_of(request)
        response = RedirectResponse(root + _next_path(form), status_code=303)
        _set_notice(response, root, notice)
        return response


async def _batch(backend: Backend, verb: Verb, ids: list[str]) -> int:
    """Act on one batch; how many jobs it changed. A delete is one call to the store;
    retry and cancel are one per job, PARALLEL at a time."""
    if verb.name == "delete":
        return await backend.delete(ids)
    call: Callable[[str], Awaitable[JobRecord | None]] = (
        backend.retry if verb.name == "retry" else backend.cancel
    )
    changed = 0
    for record in await _limited([call(job_id) for job_id in ids]):
        if record is None:
            continue
        if verb.name == "retry":
            changed += record.state is JobState.QUEUED
        else:  # a running job is asked to stop
            changed += record.state is JobState.CANCELLED or record.cancel_requested
    return changed


def _words(verb: Verb, done: int, left: int) -> str:
    """What an action did, as its notice says it."""
    words = f"{verb.done} {_jobs(done)}"
    if left:
        states = ", ".join(sorted(s.value for s in verb.applies_to))
        words += f"; {left} left alone (gone, or not {states})"
    return words


def _jobs(count: int) -> str:
    return f"{count} job" if count == 1 else f"{count} jobs"


def _set_notice(response: Response, root: str, notice: str) -> None:
    response.set_cookie(
        NOTICE_COOKIE, urllib.parse.quote(notice[:500]), max_age=60, path=root or "/",
        httponly=True, samesite="lax",
    )  # fmt: skip


def _next_path(form: dict[str, str]) -> str:
    """Where to go back to: a path inside the dashboard, never another site."""
    path = form.get("next", "")
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/jobs"
    return path


async def _counted(backend: Backend, query: JobQuery) -> int | None:
    """How many jobs match, from `Backend.counts()` (which never reads the jobs), when the
    filter is a state and at most a queue; None for any other filter. Like a listing,
    counts() reads a scheduled job whose time has come as queued."""
    narrower = (query.task, query.id_prefix, query.since, query.until)
    if query.state is None or any(value is not None for value in narrower):
        return None
    counts = await backend.counts()
    queues = list(counts) if query.queue is None else [query.queue]
    return sum(counts.get(queue, {}).get(query.state, 0) for queue in queues)


async def collect(backend: Backend, query: JobQuery, limit: int) -> list[Found]:
    """The jobs matching the query, newest first, at most `limit`, page after page (only
    their ids and states are kept, however large their payloads)."""
    found: list[Found] = []
    cursor: str | None = None
    while len(found) < limit:
        page = await backend.page_jobs(
            query.job_filter(cursor=cursor, limit=min(PAGE, limit - len(found)))
        )
        found.extend(Found(record.id, record.state) for record in page.jobs)
        cursor = page.next_cursor
        if cursor is None:  # a short or empty page with a cursor: the store goes on
            break
    return found[:limit]


async def _read(backend: Backend, ids: Sequence[str]) -> list[JobRecord | None]:
    return await _limited([backend.get(job_id) for job_id in ids])


async def _limited(calls: Sequence[Awaitable[JobRecord | None]]) -> list[JobRecord | None]:
    limit = asyncio.Semaphore(PARALLEL)

    async def one(call: Awaitable[JobRecord | None]) -> JobRecord | None:
        async with limit:
            return await call

    return list(await asyncio.gather(*(one(call) for call in calls)))
