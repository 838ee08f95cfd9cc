"""Bad signing and encryption keys are refused where they are given, in one line."""

from __future__ import annotations

import builtins
import secrets
from typing import Any

import pytest

from conveyor import ConfigurationError, Conveyor

KEY = secrets.token_bytes(32)


@pytest.mark.parametrize("option", ["signing_keys", "encryption_keys"])
@pytest.mark.parametrize(
    ("given", "says"),
    [
        ([], "{option} is empty: give at least one key"),
        (KEY, "{option} must be a list of keys, newest first, such as {option}=[key]; got bytes"),
        (
            KEY.hex(),
            "{option} must be a list of keys, newest first, such as {option}=[key]; got str",
        ),
        ([KEY.hex()], "{option}[0] is a str: keys are bytes, such as bytes.fromhex("),
        ([KEY, b""], "{option}[1] is 0 bytes: a key needs"),
        ([b"short"], "{option}[0] is 5 bytes: a key needs"),
        ([KEY[:31]], "{option}[0] is 31 bytes: a key needs"),
        ([KEY, KEY], "{option}[1] repeats {option}[0]: list each key once"),
    ],
    ids=["empty", "one key", "a str", "a str key", "an empty key", "5 bytes", "31 bytes", "twice"],
)
def test_a_bad_key_is_a_configuration_error_in_one_line(option: str, given: Any, says: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Conveyor("memory://", **{option: given})

    message = str(caught.value)
    assert message.startswith(says.format(option=option))
    assert "\n" not in message


def test_a_signing_key_may_be_longer_than_32_bytes_an_encryption_key_may_not() -> None:
    long = secrets.token_bytes(64)
    assert Conveyor("memory://", signing_keys=[long]).sealer is not None
    with pytest.raises(
        ConfigurationError, match=r"encryption_keys\[0\] is 64 bytes: .* exactly 32"
    ):
        Conveyor("memory://", encryption_keys=[long])


def test_encryption_without_the_cryptography_package_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_import = builtins.__import__

    def without_cryptography(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("cryptography"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_cryptography)
    with pytest.raises(ConfigurationError) as caught:
        Conveyor("memory://", encryption_keys=[KEY])
    assert str(caught.value) == (
        "encryption_keys needs the cryptography package: pip install 'conveyor[encryption]'"
    )


def test_no_keys_no_sealer() -> None:
    """Without keys the app has nothing to sign or encrypt with: jobs cost nothing more."""
    assert Conveyor("memory://").sealer is None
