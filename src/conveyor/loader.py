"""Finding the user's app from a `module:attribute` path, with errors that say what to fix."""

from __future__ import annotations

import importlib
import os
import sys

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
        if exc.name and module_name.startswith(exc.name):
            raise ConfigurationError(
                f"no module named {module_name!r} (looked in {os.getcwd()} and sys.path): "
                "run the command from your project's folder or fix the path"
            ) from None
        raise
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
