"""What an app's signing and encryption keys do to jobs on their way into the store and out.

Into the store, on every path that writes a job (enqueue, enqueue_many, `jobs.add`,
workflows, cron ticks, a step's follow-ups, a chord's callback), after the enqueue hooks
have added their headers: the arguments, and the headers that carry a workflow's later
arguments, are encrypted; then the job is signed over what is stored. Out of the store, in
the worker, before anything is decoded: the signature is checked, then those values are
decrypted. Results, checkpoints and progress messages are encrypted as the worker writes
them, and decrypted for whoever reads them holding a key; whoever holds none sees
"encrypted".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TypeVar

from conveyor.encryption import Vault, is_sealed
from conveyor.errors import SerializationError
from conveyor.job import JobError, JobRecord
from conveyor.signing import SIGNATURE_HEADER, Signer
from conveyor.workflow_records import ARGUMENT_HEADERS

T = TypeVar("T", bytes, str)

ENCRYPTED = "encrypted"  # what is shown of a value whose key is not held
ARGUMENTS, RESULT, CHECKPOINT, PROGRESS = "arguments", "result", "checkpoint", "progress message"


class Sealer:
    """An app's signer and vault (either may be absent), applied to job records."""

    def __init__(
        self, signing_keys: object | None, encryption_keys: object | None, max_payload_bytes: int
    ) -> None:
        self.signer = None if signing_keys is None else Signer(signing_keys)
        self.vault = None if encryption_keys is None else Vault(encryption_keys)
        # the longest arguments worth decrypting: those of a payload within the app's limit
        self._stored_limit = (
            max_payload_bytes if self.vault is None else Vault.sealed_size(max_payload_bytes)
        )

    # -- producing -------------------------------------------------------------------------

    def seal(self, records: Sequence[JobRecord]) -> list[JobRecord]:
        """Copies of `records` as they are stored: encrypted, then signed."""
        sealed = []
        for record in records:
            copy = dataclasses.replace(record, headers=dict(record.headers))
            vault = self.vault
            if vault is not None:
                copy.payload = vault.seal(copy.payload, copy.id, ARGUMENTS)
                for name in ARGUMENT_HEADERS:
                    if name in copy.headers:
                        copy.headers[name] = vault.seal_text(copy.headers[name], copy.id, name)
            if self.signer is not None:
                copy.headers[SIGNATURE_HEADER] = self.signer.sign(copy)
            sealed.append(copy)
        return sealed

    def result(self, job_id: str, result: bytes) -> bytes:
        return result if self.vault is None else self.vault.seal(result, job_id, RESULT)

    def update(
        self, job_id: str, message: str | None, checkpoint: bytes | None
    ) -> tuple[str | None, bytes | None]:
        """A progress message and a checkpoint as the worker writes them."""
        vault = self.vault
        if vault is None:
            return message, checkpoint
        if message is not None:
            message = vault.seal_text(message, job_id, PROGRESS)
        if checkpoint is not None:
            checkpoint = vault.seal(checkpoint, job_id, CHECKPOINT)
        return message, checkpoint

    # -- running ---------------------------------------------------------------------------

    def open(self, record: JobRecord) -> JobError | None:
        """Check a claimed job's signature, then decrypt what it carries, in place; why it
        must not run, or None."""
        if self.signer is not None:
            problem = self.signer.problem(record)
            if problem is not None:
                return JobError("BadSignature", problem, reason="bad_signature")
        vault = self.vault
        if vault is None or len(record.payload) > self._stored_limit:
            return None  # too long to be ours: the worker's size check refuses it unread
        try:
            record.payload = vault.open(record.payload, record.id, ARGUMENTS)
            for name in ARGUMENT_HEADERS:
                if name in record.headers:
                    record.headers[name] = vault.open_text(record.headers[name], record.id, name)
            if record.checkpoint is not None:
                record.checkpoint = vault.open(record.checkpoint, record.id, CHECKPOINT)
        except SerializationError as exc:
            return JobError("SerializationError", str(exc), reason="undecodable")
        return None

    # -- reading ---------------------------------------------------------------------------

    def readable(self, record: JobRecord) -> JobRecord:
        """A copy of a stored record with what this app's keys open decrypted; a value that
        does not open stays an envelope (shown as "encrypted")."""
        vault = self.vault
        if vault is None:
            return record
        copy = dataclasses.replace(record, headers=dict(record.headers))
        job_id = copy.id
        copy.payload = _attempt(vault.open, copy.payload, job_id, ARGUMENTS)
        if copy.result is not None:
            copy.result = _attempt(vault.open, copy.result, job_id, RESULT)
        if copy.checkpoint is not None:
            copy.checkpoint = _attempt(vault.open, copy.checkpoint, job_id, CHECKPOINT)
        if copy.progress_message is not None:
            copy.progress_message = _attempt(
                vault.open_text, copy.progress_message, job_id, PROGRESS
            )
        for name in ARGUMENT_HEADERS:
            if name in copy.headers:
                copy.headers[name] = _attempt(vault.open_text, copy.headers[name], job_id, name)
        return copy


def opened_result(sealer: Sealer | None, record: JobRecord) -> bytes | None:
    """A job's stored result, decrypted; SerializationError if it cannot be."""
    result = record.result
    if result is None or not is_sealed(result):
        return result
    if sealer is None or sealer.vault is None:
        raise SerializationError(
            f"job {record.id}'s result is encrypted: give this app its encryption_keys to read it"
        )
    return sealer.vault.open(result, record.id, RESULT)


def shown(value: bytes | str) -> str:
    """A stored value as text for a person: "encrypted" when it is an envelope."""
    if is_sealed(value):
        return ENCRYPTED
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _attempt(opener: Callable[[T, str, str], T], value: T, job_id: str, field: str) -> T:
    try:
        return opener(value, job_id, field)
    except SerializationError:
        return value
