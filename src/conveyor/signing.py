"""Signed jobs: an HMAC-SHA256 over what a worker acts on, checked before anything is read.

The signature covers the task name, the job id, the stored arguments (as stored: the
ciphertext when payloads are encrypted) and every header but the signature itself. It
travels in a header, `conveyor_signature: v1:<key id>:<base64 MAC>`, so every backend
stores it without a schema change, and a job copied by hand (a retry) keeps it.
"""

from __future__ import annotations

import base64

from conveyor.job import JobRecord
from conveyor.keys import by_id, checked_keys

SIGNATURE_HEADER = "conveyor_signature"
VERSION = "v1"
_PURPOSE = b"signing"
_DOMAIN = b"conveyor job v1"


class Signer:
    """Signs with the first key; accepts a signature by any of them."""

    def __init__(self, keys: object) -> None:
        checked = checked_keys(keys, "signing_keys", exact=False)
        self._keys = by_id(checked, _PURPOSE, "signing_keys")
        self._current = next(iter(self._keys.items()))

    def sign(self, record: JobRecord) -> str:
        """The signature header's value for `record` as it will be stored."""
        kid, key = self._current
        return f"{VERSION}:{kid}:{_mac(key, record)}"

    def problem(self, record: JobRecord) -> str | None:
        """Why the stored `record` must not run, or None when its signature holds."""
        signature = record.headers.get(SIGNATURE_HEADER)
        if signature is None:
            return (
                "the job carries no signature and this app requires one (signing_keys): it "
                "was stored by a producer without the key, or written into the store by hand"
            )
        version, _, rest = signature.partition(":")
        kid, _, mac = rest.partition(":")
        if version != VERSION or not kid or not mac:
            return f"the job's signature header is malformed ({signature[:40]!r})"
        key = self._keys.get(kid)
        if key is None:
            return (
                f"the job is signed with a key this app does not hold (key id {kid}): add "
                "that key to signing_keys, after the current one"
            )
        import hmac  # see _mac

        if not hmac.compare_digest(mac, _mac(key, record)):
            return f"the job's signature (key id {kid}) does not match it: it was changed after"
        return None


def _mac(key: bytes, record: JobRecord) -> str:
    import hmac  # a cached lookup; an app that signs nothing never loads hmac and hashlib

    digest = hmac.digest(key, _message(record), "sha256")
    return base64.urlsafe_b64encode(digest).decode()


def _message(record: JobRecord) -> bytes:
    """The signed fields, each length-prefixed, so no two jobs sign the same bytes."""
    parts: list[bytes] = [_DOMAIN, _utf8(record.task), _utf8(record.id), record.payload]
    for name, value in sorted(record.headers.items()):
        if name != SIGNATURE_HEADER:
            parts += (_utf8(name), _utf8(value))
    return b"".join(len(part).to_bytes(8, "big") + part for part in parts)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")
