"""The app and the store a CLI command works on, from --app and --url.

A command that only looks at a store (or tidies it) never creates one: a missing SQLite
file or a PostgreSQL schema holding no store is an error that says how to point at yours.
"""

from __future__ import annotations

import os

import click

from conveyor.app import DEFAULT_URL, Conveyor
from conveyor.backends.base import Backend
from conveyor.errors import ConveyorError
from conveyor.loader import load_app


def command_app(path: str | None, url: str | None, hint: str = "APP") -> Conveyor:
    """The app at `path` (module:attribute) on `url` if given; else an app on `url` alone."""
    if path is not None:
        try:
            app = load_app(path)
        except ConveyorError as exc:
            raise click.BadParameter(str(exc), param_hint=hint) from None
        if url is not None:
            app.url = url
        return app
    return Conveyor(url or DEFAULT_URL)


def looked_at_store(path: str | None, url: str | None) -> Conveyor:
    """The app of a command that looks at or tidies a store; such a command creates none."""
    app = looking(command_app(path, url, hint="--app"))
    missing = no_store(app, path, url)
    if missing is not None:
        raise click.ClickException(missing)
    return app


def looking(app: Conveyor) -> Conveyor:
    """`app`, set up to look at its store: opening it creates nothing and warns of nothing
    that matters only to those who write jobs (Redis's durability, say)."""
    backend_of(app).only_looking = True
    return app


def backend_of(app: Conveyor) -> Backend:
    try:
        return app.backend
    except ConveyorError as exc:  # a bad URL
        raise click.ClickException(str(exc)) from None


def no_store(app: Conveyor, path: str | None, url: str | None) -> str | None:
    """Why there is no store to look at (an SQLite file not yet created), or None."""
    from conveyor.backends.sqlite import SQLiteBackend  # not for a Redis or PostgreSQL store

    backend = backend_of(app)
    if not isinstance(backend, SQLiteBackend) or os.path.exists(backend.path):
        return None
    if path is None and url is None:
        return (
            f"no store here: {backend.path} does not exist. Point at yours with --url "
            "(sqlite:///path/to/jobs.db, redis://host:6379/0, postgresql://...) or "
            "--app module:attribute, or set $CONVEYOR_URL or $CONVEYOR_APP"
        )
    of = f" (the URL of {path})" if url is None else ""
    return (
        f"no store at {backend.path}{of}: the file does not exist. Check the path; "
        "a relative one is read from the current folder"
    )
