"""conveyor: durable, async-native background jobs for Python."""

from conveyor.app import Conveyor
from conveyor.context import Context
from conveyor.errors import (
    ArgumentError,
    BackendUnavailable,
    ConfigurationError,
    ConveyorError,
    EnqueueError,
    JobCancelled,
    JobFailed,
    JobNotFound,
    JobTimeout,
    PayloadTooLarge,
    Retry,
    SerializationError,
    SoftTimeout,
    TaskTimeout,
)
from conveyor.job import Attempt, JobError, JobEvent, JobHandle, JobInfo, JobState
from conveyor.scheduler import Schedule
from conveyor.task import AsyncTask, EnqueueOptions, Signature, Step, Task
from conveyor.worker import Worker
from conveyor.workflow import chain, group
from conveyor.workflow_handle import WorkflowHandle

__all__ = [
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
