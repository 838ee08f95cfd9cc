"""Secret keys given to an app (signing, encryption): checked once, named by a short id.

A key id is derived from the key with HMAC, so it names the key in the store without
telling anything about it, and a reader picks the one key to try instead of trying each.
"""

from __future__ import annotations

from collections.abc import Sequence

from conveyor.errors import ConfigurationError

KEY_BYTES = 32  # 256 bits: the least a signing key may have, and what AES-256 takes


def checked_keys(keys: object, option: str, *, exact: bool) -> list[bytes]:
    """The keys of `option` (newest first), or a ConfigurationError saying what to change.

    exact: every key must be KEY_BYTES long (an AES-256 key); else at least that long.
    """
    if isinstance(keys, str | bytes | bytearray) or not isinstance(keys, Sequence):
        raise ConfigurationError(
            f"{option} must be a list of keys, newest first, such as {option}=[key]; "
            f"got {type(keys).__name__}"
        )
    if not keys:
        raise ConfigurationError(
            f"{option} is empty: give at least one key (the first is used to write), "
            f"or leave {option} out"
        )
    checked: list[bytes] = []
    for index, key in enumerate(keys):
        where = f"{option}[{index}]"
        if not isinstance(key, bytes | bytearray):
            raise ConfigurationError(
                f"{where} is a {type(key).__name__}: keys are bytes, such as "
                "bytes.fromhex(os.environ['MY_KEY']) for a key kept as hex"
            )
        size = len(key)
        if size < KEY_BYTES or (exact and size != KEY_BYTES):
            need = "exactly" if exact else "at least"
            raise ConfigurationError(
                f"{where} is {size} bytes: a key needs {need} {KEY_BYTES} random bytes, "
                f"such as secrets.token_bytes({KEY_BYTES})"
            )
        if bytes(key) in checked:
            raise ConfigurationError(
                f"{where} repeats {option}[{checked.index(bytes(key))}]: list each key once"
            )
        checked.append(bytes(key))
    return checked


def key_id(key: bytes, purpose: bytes) -> str:
    """8 hex characters that name `key` for one purpose, and reveal nothing of it."""
    import hashlib  # once per key, and an app without keys never needs them
    import hmac

    return hmac.new(key, b"conveyor key id: " + purpose, hashlib.sha256).hexdigest()[:8]


def by_id(keys: Sequence[bytes], purpose: bytes, option: str) -> dict[str, bytes]:
    """The keys by their id, in the order given."""
    found: dict[str, bytes] = {}
    for index, key in enumerate(keys):
        kid = key_id(key, purpose)
        if kid in found:  # two distinct keys, one id: 1 chance in 4 billion
            raise ConfigurationError(
                f"{option}[{index}] has the same key id as another key: generate another"
            )
        found[kid] = key
    return found
