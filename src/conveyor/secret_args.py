"""Secret arguments: which of a task's arguments are secret, and what their values are.

A parameter is secret when its annotation holds `pydantic.SecretStr`, `SecretBytes` or
`Secret[...]` (alone, or inside `Optional`, `list`, `dict`...), or when the task names it in
`@app.task(secret_args=[...])`. The value itself is stored in the payload as it is, since the
worker must hand it to the task (`Conveyor(encryption_keys=...)` protects it at rest), and
the job carries the names of its secret arguments in a header, so that every reader redacts
them, even one that does not know the task (`conveyor jobs show` without `--app`).
"""

from __future__ import annotations

import functools
import sys
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, get_args, get_origin

from conveyor.errors import ConfigurationError

SECRET_ARGS_HEADER = "secret_args"  # the secret parameters' names, comma-separated


def secret_types() -> tuple[type, ...]:
    """pydantic's secret types; none while pydantic is not imported, as then no annotation
    or value can be one (a worker need not import it to find that out)."""
    pydantic = sys.modules.get("pydantic")
    if pydantic is None:
        return ()
    return (pydantic.SecretStr, pydantic.SecretBytes, pydantic.Secret)


@functools.cache
def _reveal() -> Any:
    """pydantic writes a secret as "**********" in JSON; the payload must carry the value
    itself."""
    import pydantic

    return pydantic.PlainSerializer(_secret_value, return_type=Any, when_used="json")


def _secret_value(secret: Any) -> Any:
    return secret.get_secret_value()


def _is_secret_type(annotation: Any) -> bool:
    found = get_origin(annotation) or annotation
    return isinstance(found, type) and issubclass(found, secret_types())


def holds_secret(annotation: Any) -> bool:
    """Whether a value of this annotation is, or holds, a pydantic secret."""
    return _is_secret_type(annotation) or any(holds_secret(arg) for arg in get_args(annotation))


def revealing(annotation: Any) -> Any:
    """`annotation`, with every pydantic secret in it written to JSON as its value."""
    if _is_secret_type(annotation):
        return Annotated[annotation, _reveal()]
    args = get_args(annotation)
    if not args or not holds_secret(annotation):
        return annotation
    origin = get_origin(annotation)
    if origin is Annotated:
        return Annotated[revealing(args[0]), *annotation.__metadata__]
    revealed = tuple(revealing(arg) for arg in args)
    if origin is typing.Union or origin is types.UnionType:
        return typing.Union[revealed]  # noqa: UP007 (built at run time)
    return origin[revealed]


def secret_params(
    hints: Mapping[str, Any], params: Iterable[str], marked: Sequence[str], where: str
) -> frozenset[str]:
    """The names of a task's secret parameters: typed as secrets, or marked by the task."""
    params = list(params)
    unknown = sorted(set(marked) - set(params))
    if isinstance(marked, str) or unknown:
        raise ConfigurationError(
            f"{where}: secret_args must list parameter names of the task, got {marked!r}"
        )
    return frozenset(marked) | {n for n in params if holds_secret(hints.get(n, Any))}


def secret_names(headers: Mapping[str, str]) -> frozenset[str]:
    """The secret arguments a stored job names in its header."""
    names = headers.get(SECRET_ARGS_HEADER)
    return frozenset(names.split(",")) if names else frozenset()


def secret_texts(arguments: Mapping[str, Any], names: Iterable[str]) -> list[str]:
    """The secret arguments' values, as they would read inside a message or traceback."""
    texts: list[str] = []
    for name in names:
        if name in arguments:
            _collect(arguments[name], texts, 0)
    return [text for text in texts if text]


def _collect(value: Any, texts: list[str], depth: int) -> None:
    if depth > 20:
        return
    if isinstance(value, secret_types()):
        value = _secret_value(value)
    if isinstance(value, bytes | bytearray):
        texts.append(repr(bytes(value))[2:-1])  # as an f-string or repr would show it
        texts.append(bytes(value).decode("utf-8", "replace"))
    elif isinstance(value, Mapping):
        for item in value.values():
            _collect(item, texts, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _collect(item, texts, depth + 1)
    elif value is not None:
        texts.append(str(value))
