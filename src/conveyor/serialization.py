"""The JSON job codec: arguments and results typed by the task's annotations.

Values are encoded with pydantic at the call site, so whatever cannot be encoded fails
there, and decoded on the worker against the same annotations, which restores pydantic
models, dataclasses, datetimes, UUIDs, Decimals, enums and bytes (base64). Unannotated
parameters travel as plain JSON. Nothing is ever decoded as code.

pydantic is imported when a codec first needs it. A codec of plain JSON types (int, str,
lists and dicts of them...) builds its pydantic adapter at its first use, since nothing
about such types can fail; any other annotation is checked by building the adapter at
once, where the task is defined. So a worker that has not run a job yet, or whose tasks
take plain values, carries no pydantic until its first job.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, get_args, get_origin, get_type_hints

from conveyor.errors import ConfigurationError, SerializationError
from conveyor.secret_args import revealing

if TYPE_CHECKING:
    import pydantic

JSON_CONFIG: pydantic.ConfigDict = {
    "ser_json_bytes": "base64",
    "val_json_bytes": "base64",
    "ser_json_inf_nan": "constants",
    # what is written must read back: a Decimal NaN or infinity is written as its string
    "allow_inf_nan": True,
}
_PLAIN = (Any, int, float, str, bool, bytes, type(None), list, dict, tuple)
_PLAIN_CONTAINERS = (list, dict, tuple, typing.Union, types.UnionType)


def _is_plain(annotation: Any) -> bool:
    """Whether pydantic surely takes `annotation`: JSON's own types, nested."""
    if any(annotation is plain for plain in _PLAIN):
        return True
    if get_origin(annotation) in _PLAIN_CONTAINERS:
        return all(arg is Ellipsis or _is_plain(arg) for arg in get_args(annotation))
    return False


def _adapter(annotation: Any) -> pydantic.TypeAdapter[Any]:
    import pydantic

    return pydantic.TypeAdapter(tuple[annotation], config=JSON_CONFIG)


def _closed_shape(name: str, fields: dict[str, Any]) -> Any:
    """The arguments as a closed TypedDict: a stored payload with an argument the function
    lacks is refused. Made with the adapter, by which time pydantic has imported
    typing_extensions (whose TypedDict takes `closed`) anyway."""
    from typing_extensions import TypedDict

    return TypedDict(name, fields, total=False, closed=True)  # type: ignore[operator]


class ArgumentCodec:
    """Encodes bound arguments of one function to JSON bytes and back.

    The wire form is `{"param": value, ...}`: an object keyed by parameter name holding
    only the arguments the caller gave (defaults stay with the code).
    """

    def __init__(
        self, func: Callable[..., Any], skip: frozenset[str], secret: frozenset[str] = frozenset()
    ) -> None:
        self._secret = secret  # arguments whose values no message may show
        signature = inspect.signature(func)
        try:
            hints = get_type_hints(func, include_extras=True)
        except Exception as exc:  # a forward reference that cannot be resolved
            raise ConfigurationError(
                f"cannot resolve the type annotations of {func.__qualname__}: {exc}. "
                "Import every annotated type at module level."
            ) from exc
        fields: dict[str, Any] = {}
        for name, param in signature.parameters.items():
            if name in skip:
                continue
            annotation = hints.get(name, Any)
            if param.kind is inspect.Parameter.VAR_POSITIONAL:
                annotation = tuple[annotation, ...]  # type: ignore[valid-type]
            elif param.kind is inspect.Parameter.VAR_KEYWORD:
                annotation = dict[str, annotation]  # type: ignore[valid-type]
            fields[name] = revealing(annotation)
        self._shape_name = f"{func.__name__}_args"
        self._argument_types = fields
        self._fields = {name: ValueCodec(annotation) for name, annotation in fields.items()}
        if not all(_is_plain(annotation) for annotation in fields.values()):
            _ = self._adapter  # built now: an annotation pydantic cannot take fails here

    @functools.cached_property
    def _adapter(self) -> pydantic.TypeAdapter[Any]:
        return _adapter(_closed_shape(self._shape_name, self._argument_types))

    def encode(self, arguments: Mapping[str, Any]) -> bytes:
        try:
            return self._adapter.dump_json((arguments,), warnings="error")[1:-1]
        except (ValueError, TypeError) as exc:  # pydantic's errors are ValueErrors
            # pydantic's own error, chained, would quote the values
            raise SerializationError(self._problem(exc, arguments)) from (
                None if self._secret else exc
            )
        except RecursionError as exc:
            raise SerializationError("the arguments are nested too deeply to encode") from exc

    def _problem(self, exc: Exception, arguments: Mapping[str, Any]) -> str:
        """Name the argument that failed, by encoding them one at a time (only on error);
        pydantic's words may quote its value: not a secret one's."""
        for name, value in arguments.items():
            try:
                self._fields[name].encode(value)
            except SerializationError:
                culprit = f"argument {name!r} ({type(value).__name__})"
                if name in self._secret:
                    return f"cannot encode {culprit} as JSON: a secret, its value is not shown"
                return f"cannot encode {culprit} as JSON: {exc}"
        if self._secret:
            return "cannot encode the arguments as JSON (they hold secrets: not shown)"
        return f"cannot encode the arguments as JSON: {exc}"

    def decode(self, payload: bytes) -> dict[str, Any]:
        try:
            (arguments,) = self._adapter.validate_json(b"[" + payload + b"]")
        except ValueError as exc:
            if _is_validation_error(exc):
                problems = describe(exc, hidden=self._secret)
                raise SerializationError(f"the arguments do not fit the task: {problems}") from (
                    None if self._secret else exc
                )
            raise SerializationError(f"the arguments are not valid JSON: {exc}") from exc
        return dict(arguments)


class ValueCodec:
    """Encodes one value of a known annotation (a result, a checkpoint)."""

    def __init__(self, annotation: Any) -> None:
        self._annotation = annotation
        if not _is_plain(annotation):
            _ = self._adapter  # built now: an annotation pydantic cannot take fails here

    @functools.cached_property
    def _adapter(self) -> pydantic.TypeAdapter[Any]:
        # Values pass through a 1-tuple, so the codec config reaches models, dataclasses and
        # TypedDicts too; the brackets it adds are cut off on the way out, put back on the way in.
        return _adapter(self._annotation)

    def encode(self, value: Any) -> bytes:
        try:
            return self._adapter.dump_json((value,), warnings="error")[1:-1]
        except (ValueError, TypeError) as exc:  # pydantic's errors are ValueErrors
            raise SerializationError(
                f"cannot encode {type(value).__name__} as JSON: {exc}"
            ) from exc
        except RecursionError as exc:
            raise SerializationError("the value is nested too deeply to encode") from exc

    def decode(self, data: bytes) -> Any:
        try:
            (value,) = self._adapter.validate_json(b"[" + data + b"]")
            return value
        except ValueError as exc:
            if _is_validation_error(exc):
                raise SerializationError(
                    f"the stored value does not fit its type: {describe(exc)}"
                ) from exc
            raise SerializationError(f"the stored value is not valid JSON: {exc}") from exc


def _is_validation_error(exc: ValueError) -> typing.TypeGuard[pydantic.ValidationError]:
    import pydantic  # imported already: it raised `exc`

    return isinstance(exc, pydantic.ValidationError)


def describe(error: pydantic.ValidationError, hidden: frozenset[str] = frozenset()) -> str:
    """One line per problem: where (the argument, then the path inside it) and what; and
    the value, unless it is in an argument named in `hidden`."""
    problems = []
    for item in error.errors(include_url=False):
        path = [str(part) for part in item["loc"]]
        if path and path[0] == "0":  # the list that wraps the arguments object
            path = path[1:]
        where = ".".join(path) or "value"
        if path and path[0] in hidden:
            problems.append(f"{where}: {item['msg']} (a secret argument: its value is not shown)")
        else:
            problems.append(f"{where}: {item['msg']} (got {item.get('input')!r:.80})")
    return "; ".join(problems)


ANY_VALUE = ValueCodec(Any)
