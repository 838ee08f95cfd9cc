"""The public API is `conveyor.__all__`, pinned here; the package ships its type hints."""

from __future__ import annotations

import importlib.resources
import types
import typing

import conveyor
import conveyor.middleware

PUBLIC_NAMES = [
    "ArgumentError",
    "AsyncTask",
    "Attempt",
    "BackendUnavailable",
    "ConfigurationError",
    "Context",
    "Conveyor",
    "ConveyorError",
    "EnqueueError",
    "EnqueueOptions",
    "JobCancelled",
    "JobError",
    "JobEvent",
    "JobFailed",
    "JobHandle",
    "JobInfo",
    "JobNotFound",
    "JobState",
    "JobTimeout",
    "PayloadTooLarge",
    "Retry",
    "Schedule",
    "SerializationError",
    "Signature",
    "SoftTimeout",
    "Step",
    "Task",
    "TaskTimeout",
    "Worker",
    "WorkflowHandle",
    "chain",
    "group",
]


def test_all_is_exactly_the_pinned_list_of_public_names() -> None:
    assert sorted(conveyor.__all__) == PUBLIC_NAMES
    assert len(set(conveyor.__all__)) == len(conveyor.__all__), "a name is listed twice"


def test_star_import_gives_every_name_in_all_and_nothing_else() -> None:
    namespace: dict[str, object] = {}
    exec("from conveyor import *", namespace)
    namespace.pop("__builtins__", None)
    assert sorted(namespace) == PUBLIC_NAMES
    assert all(value is not None for value in namespace.values())


def test_the_package_exposes_no_public_object_outside_all() -> None:
    exposed = {
        name
        for name, value in vars(conveyor).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert sorted(exposed) == PUBLIC_NAMES


def test_every_public_object_is_defined_inside_conveyor() -> None:
    for name in conveyor.__all__:
        module = getattr(conveyor, name).__module__
        assert module.startswith("conveyor."), f"{name} comes from {module}"


MIDDLEWARE_NAMES = ["Job", "Middleware", "OUTCOMES", "Outcome", "OutgoingJob"]


def test_the_middleware_package_exports_exactly_its_pinned_names() -> None:
    assert sorted(conveyor.middleware.__all__) == sorted(MIDDLEWARE_NAMES)
    namespace: dict[str, object] = {}
    exec("from conveyor.middleware import *", namespace)
    namespace.pop("__builtins__", None)
    assert sorted(namespace) == sorted(MIDDLEWARE_NAMES)
    assert conveyor.middleware.OUTCOMES == (
        "succeeded",
        "failed",
        "retried",
        "cancelled",
        "lease_lost",
        "handed_back",
    )
    assert typing.get_args(conveyor.middleware.Outcome) == conveyor.middleware.OUTCOMES


def test_the_package_ships_py_typed() -> None:
    marker = importlib.resources.files("conveyor").joinpath("py.typed")
    assert marker.is_file()
