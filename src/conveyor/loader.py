"""Finding the user's app from a `module:attribute` path, with errors that say what to fix."""

from __future__ import annotations

import importlib
import os
import sys
import traceback

from conveyor.app import Conveyor
from conveyor.errors import ConfigurationError


def load_app(path: str) -> Conveyor:
    """Import `package.module:attribute` (the attribute defaults to `app`)."""
    module_name, _, attribute = path.partition(":")
    attribute = attribute or "app"
    if not module_name or not all(part.isidentifier() for part in module_name.split(".")):
        raise ConfigurationError(
            f"{path!r} is not an app path: write module:attribute, such as myproject.jobs:app"
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` would: the project folder is importable
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and f"{module_name}.".startswith(f"{exc.name}."):  # the path itself
            raise ConfigurationError(
                f"no module named {module_name!r} (looked in {os.getcwd()} and sys.path): "
                "run the command from your project's folder or fix the path"
            ) from None
        raise ConfigurationError(_import_failure(module_name, exc)) from None
    except Exception as exc:  # the user's own code failed: show where in it, not our frames
        raise ConfigurationError(_import_failure(module_name, exc)) from None
    try:
        app = getattr(module, attribute)
    except AttributeError:
        raise ConfigurationError(
            f"module {module_name!r} has no attribute {attribute!r}: "
            f"point at your Conveyor object, such as {module_name}:app"
        ) from None
    if not isinstance(app, Conveyor):
        raise ConfigurationError(
            f"{path} is an object of type {type(app).__name__}, not a Conveyor app: "
            "point at the object made by Conveyor(...)"
        )
    return app


def _import_failure(module_name: str, exc: Exception) -> str:
    """One line: the user's file and line that failed, and the error, as Python names them."""
    place = ""
    if isinstance(exc, SyntaxError) and exc.filename:
        message = exc.msg
        place = _place(exc.filename, exc.lineno, exc.text)
    else:
        message = str(exc)
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename[:1] != "<"]
        # the deepest frame in the project's folder: the user's line, not a library's
        theirs = [f for f in frames if _in_project(f.filename)] or frames
        if theirs:
            place = _place(theirs[-1].filename, theirs[-1].lineno, theirs[-1].line)
    first_line = message.strip().splitlines()[0] if message.strip() else ""
    return (
        f"importing {module_name} failed{place}: {type(exc).__name__}: {first_line} "
        f"(python -c 'import {module_name}' shows the whole traceback)"
    )


def _place(filename: str, line: int | None, code: str | None) -> str:
    shown = os.path.relpath(filename) if _in_project(filename) else filename
    text = f" at {shown}, line {line}"
    return f"{text} ({code.strip()})" if code and code.strip() else text


def _in_project(filename: str) -> bool:
    return os.path.abspath(filename).startswith(os.getcwd() + os.sep)
