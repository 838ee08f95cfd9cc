"""Every exception conveyor raises on purpose, in one place."""

from __future__ import annotations


class ConveyorError(Exception):
    """Base class of conveyor's own errors."""


class ConfigurationError(ConveyorError):
    """A setting, URL or task definition is wrong; the message says how to fix it."""


class EnqueueError(ConveyorError):
    """A job could not be enqueued; nothing was written."""


class ArgumentError(EnqueueError, TypeError):
    """The arguments do not fit the task's signature."""


class SerializationError(EnqueueError, ValueError):
    """A value cannot be encoded (or decoded) by the job codec."""


class PayloadTooLarge(SerializationError):
    """The encoded job is larger than the configured limit."""


class BackendUnavailable(ConveyorError):
    """The backend cannot be reached or opened."""


class JobNotFound(ConveyorError, LookupError):
    """No job has that id."""


class JobTimeout(ConveyorError, TimeoutError):
    """Waiting for a job's result took longer than the caller allowed."""


class TaskTimeout(ConveyorError, TimeoutError):
    """A task ran longer than its timeout (recorded as the job's error, reason "timeout")."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the task ran longer than its {seconds:g} s timeout")
        self.seconds = seconds


class SoftTimeout(ConveyorError):
    """Raised inside an async or process task at its soft timeout: catch it to clean up,
    then return or raise. Escaping the task, it fails the attempt, reason "soft_timeout"."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the task ran past its {seconds:g} s soft timeout")
        self.seconds = seconds


class JobCancelled(ConveyorError):
    """The job was cancelled before it produced a result."""


class JobFailed(ConveyorError):
    """The job ended in the `failed` state; carries the remote error.

    `remote_type`, `remote_message` and `remote_traceback` describe the exception
    raised inside the task (or the worker's reason, such as `worker_lost`).
    """

    def __init__(
        self,
        job_id: str,
        remote_type: str,
        remote_message: str,
        remote_traceback: str | None,
        reason: str,
    ) -> None:
        self.job_id = job_id
        self.remote_type = remote_type
        self.remote_message = remote_message
        self.remote_traceback = remote_traceback
        self.reason = reason
        super().__init__(f"job {job_id} failed ({reason}): {remote_type}: {remote_message}")

    def __str__(self) -> str:
        text = self.args[0]
        if self.remote_traceback:
            text += "\n\nRemote traceback:\n" + self.remote_traceback.rstrip()
        return str(text)


class Retry(Exception):
    """Raise inside a task to retry it after `delay` seconds (counts an attempt)."""

    def __init__(self, delay: float | None = None, reason: str | None = None) -> None:
        if delay is not None and delay < 0:
            raise ValueError(f"Retry delay must be >= 0 seconds, got {delay!r}")
        self.delay = delay
        self.reason = reason
        super().__init__(reason or f"retry requested (delay={delay})")


class ProcessTaskError(Exception):
    """An exception raised by a task in a child process, carried back as text."""

    def __init__(self, type_name: str, message: str, traceback_text: str) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.traceback_text = traceback_text
