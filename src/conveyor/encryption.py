"""Encrypted values: AES-256-GCM from `cryptography`, in a text envelope every store keeps.

An envelope is `enc1:<key id>:<base64 of the 96-bit random nonce, then the ciphertext and
its tag>`. It is ASCII, so it fits a bytes column, a text column and a JSON header alike,
and no JSON value starts with "enc1:", so a reader tells an envelope from plain JSON. The
associated data binds it to its job and its place (arguments, result, checkpoint...): moved
to another job, or to another field of the same one, it no longer opens.
"""

from __future__ import annotations

import base64
import os
from typing import TYPE_CHECKING

from conveyor.errors import ConfigurationError, SerializationError
from conveyor.keys import by_id, checked_keys

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "enc1:"
_PREFIX_BYTES = PREFIX.encode()
_PURPOSE = b"encryption"
NONCE_BYTES = 12
TAG_BYTES = 16


def is_sealed(value: bytes | str | None) -> bool:
    """Whether a stored value is an envelope (an encrypted value)."""
    if isinstance(value, bytes):
        return value.startswith(_PREFIX_BYTES)
    return value is not None and value.startswith(PREFIX)


class Vault:
    """Encrypts with the first key; decrypts with the one an envelope names."""

    def __init__(self, keys: object) -> None:
        checked = checked_keys(keys, "encryption_keys", exact=True)
        try:
            from cryptography.exceptions import InvalidTag
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        except ImportError:
            raise ConfigurationError(
                "encryption_keys needs the cryptography package: pip install 'conveyor[encryption]'"
            ) from None
        self._ciphers: dict[str, AESGCM] = {
            kid: AESGCM(key) for kid, key in by_id(checked, _PURPOSE, "encryption_keys").items()
        }
        self._kid, self._cipher = next(iter(self._ciphers.items()))
        # a changed envelope: its tag does not match, or its base64 or nonce is broken
        self._refused: tuple[type[Exception], ...] = (InvalidTag, ValueError)

    def seal(self, data: bytes, job_id: str, field: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._cipher.encrypt(nonce, data, _bound(job_id, field))
        return b"%s%s:%s" % (_PREFIX_BYTES, self._kid.encode(), base64.b64encode(nonce + sealed))

    def open(self, data: bytes, job_id: str, field: str) -> bytes:
        """The plaintext of an envelope; a value that is no envelope (stored before
        encryption was turned on) as it is. SerializationError if it does not open."""
        if not data.startswith(_PREFIX_BYTES):
            return data
        kid, _, body = data[len(_PREFIX_BYTES) :].partition(b":")
        cipher = self._ciphers.get(kid.decode("ascii", "replace"))
        if cipher is None:
            raise SerializationError(
                f"cannot decrypt the job's {field}: it names a key this app does not hold "
                f"(key id {kid[:8].decode('ascii', 'replace')}); add that key to encryption_keys"
            )
        try:
            raw = base64.b64decode(body, validate=True)
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _bound(job_id, field))
        except self._refused as exc:
            raise SerializationError(
                f"cannot decrypt the job's {field} ({type(exc).__name__}): it was changed, or "
                "moved from another job or field"
            ) from None

    def seal_text(self, text: str, job_id: str, field: str) -> str:
        return self.seal(text.encode("utf-8", "surrogatepass"), job_id, field).decode()

    def open_text(self, text: str, job_id: str, field: str) -> str:
        if not text.startswith(PREFIX):
            return text
        opened = self.open(text.encode("utf-8", "surrogatepass"), job_id, field)
        return opened.decode("utf-8", "surrogatepass")

    @staticmethod
    def sealed_size(size: int) -> int:
        """The length of the envelope of `size` bytes (the key id is 8 characters)."""
        return len(PREFIX) + 9 + 4 * -(-(NONCE_BYTES + size + TAG_BYTES) // 3)


def _bound(job_id: str, field: str) -> bytes:
    return b"conveyor\0%s\0%s" % (field.encode(), job_id.encode("utf-8", "surrogatepass"))
