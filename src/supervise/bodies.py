"""The request body's contract, in one place (the application's ``request_class``).

A body is JSON (``application/json`` or a ``+json`` type; anything else is 415, never parsed), decoded
strictly against the operation's schema (``"start_ms": "1000"`` is refused where the document says integer),
with no key given twice (the last one would silently win) and every instant in it written with a year from
:data:`FIRST_YEAR` to :data:`LAST_YEAR`. Input that cannot be decoded at all (nesting deeper than the decoder
goes, bytes that are not UTF-8) is a 400 like any other malformed body: never a 500, and nothing is logged.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.spec import Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition

from supervise import problems
from supervise.errors import DomainError, FieldError

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator

T = TypeVar("T")

__all__ = ["FIRST_YEAR", "LAST_YEAR", "YEAR_PATTERN", "DocumentedAs", "JsonRequest", "LenientSchemas", "decode_part"]

FIRST_YEAR, LAST_YEAR = 1900, 2199
"""Every instant the API takes (sessions, expiries, filters) is written with a year in this range, whatever its
offset: wide enough for any real session or expiry (one that never comes is ``null``), far enough from the
ends of the calendar that no offset or period arithmetic on an accepted instant can overflow, and a rule the
document states as a pattern (:data:`YEAR_PATTERN`), so a client can know it before sending."""

YEAR_PATTERN = r"(19|20|21)\d{2}"
RANGE = f"must be written with a year from {FIRST_YEAR} to {LAST_YEAR}"


def instant_problem(value: dt.datetime) -> str | None:
    """Why ``value`` is not an instant the API takes, or ``None`` when it is."""
    return None if FIRST_YEAR <= value.year <= LAST_YEAR else RANGE


def _instants(value: object, path: str) -> Iterator[tuple[str, dt.datetime]]:
    if isinstance(value, dt.datetime):
        yield path, value
    elif isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            yield from _instants(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _instants(item, f"{path}[{i}]")


class _Repeated(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> None:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _Repeated(key)
        seen.add(key)


def _malformed(detail: str) -> DomainError:
    return DomainError(
        problems.INVALID_REQUEST, f"The request body is not valid JSON: {detail}.", errors=[FieldError("body", detail)]
    )


_DECODERS: dict[int, tuple[Any, msgspec.json.Decoder[Any]]] = {}
"""Per route handler (held, so its id cannot be reused): a strict decoder for the body it declares."""


def _decoder(handler: Any) -> msgspec.json.Decoder[Any]:
    known = _DECODERS.get(id(handler))
    if known is not None and known[0] is handler:
        return known[1]
    field = handler.parsed_data_field
    decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(field.annotation if field is not None else Any)
    _DECODERS[id(handler)] = (handler, decoder)
    return decoder


def _integral(value: Any) -> Any:
    """``value`` with every float that has no fractional part (``423.0``) as an int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


def _decode(decoder: msgspec.json.Decoder[Any], body: bytes) -> Any:
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as invalid:
        # JSON Schema's integer is any number without a fractional part, so ``423.0`` is one; msgspec's strict
        # decoding refuses it. Only then: the builtins again, with such floats as ints, strictly converted (a
        # number sent as a string stays refused).
        try:
            return msgspec.convert(_integral(msgspec.json.decode(body)), decoder.type)
        except (msgspec.ValidationError, RecursionError):
            raise invalid from None


class JsonRequest(Request[Any, Any, Any]):
    """Litestar's request, with the body decoded as this module says. The result is the operation's own type
    (a ``msgspec.Struct``), which Litestar's signature model then passes through unchanged."""

    async def json(self) -> Any:
        body = await self.body()
        if body:
            media_type, _ = self.content_type
            if media_type != "application/json" and not media_type.endswith("+json"):
                raise HTTPException(
                    status_code=415,
                    detail=f"The request body must be application/json, not {media_type or 'untyped'}.",
                )
        try:
            data = _decode(_decoder(self.route_handler), body or b"null")
        except msgspec.ValidationError as exc:
            raise ValidationException(detail=str(exc), extra=[{"message": str(exc), "key": ""}]) from None
        except msgspec.DecodeError as exc:
            raise _malformed(str(exc).removeprefix("JSON is malformed: ")) from None
        except RecursionError:  # only where a schema admits any JSON (none does today): typed decoding stops early
            raise _malformed("nested too deeply") from None
        except UnicodeDecodeError:
            raise _malformed("not UTF-8") from None
        if body:
            try:  # the typed decode succeeded, so the nesting is bounded by the schema
                json.loads(body, object_pairs_hook=_no_repeated_keys)
            except _Repeated as repeated:
                raise DomainError(
                    problems.INVALID_REQUEST,
                    f"The request body gives the key {repeated.key!r} more than once.",
                    errors=[FieldError(repeated.key, "given more than once")],
                ) from None
        errors = [
            FieldError(path, problem)
            for path, value in _instants(data, "")
            if (problem := instant_problem(value)) is not None
        ]
        if errors:
            summary = "; ".join(f"{e.field}: {e.message}" for e in errors)
            raise DomainError(problems.INVALID_REQUEST, f"The request is not valid: {summary}", errors=errors)
        return data


# ---------------------------------------------------------------------------------------- parts of a body


class DocumentedAs:
    """``Annotated[list[msgspec.Raw], DocumentedAs(list[Item], min_items=1)]``: a body field whose elements the
    request leaves undecoded, so that the handler decodes and validates each one on its own
    (:func:`decode_part`) and one malformed element fails only itself; the document shows the elements' real
    type (:class:`LenientSchemas`)."""

    __slots__ = ("annotation", "max_items", "min_items")

    def __init__(self, annotation: Any, *, min_items: int | None = None, max_items: int | None = None) -> None:
        self.annotation, self.min_items, self.max_items = annotation, min_items, max_items


class LenientSchemas(OpenAPISchemaPlugin):
    """Documents a :class:`DocumentedAs` field as the type it names (the application's schema plugin)."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return False

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return any(isinstance(m, DocumentedAs) for m in field_definition.metadata)

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        documented = next(m for m in field_definition.metadata if isinstance(m, DocumentedAs))
        schema = schema_creator.for_field_definition(FieldDefinition.from_annotation(documented.annotation))
        assert isinstance(schema, Schema), "DocumentedAs names a list, whose schema is inline"
        schema.min_items, schema.max_items = documented.min_items, documented.max_items
        return schema


def decode_part(raw: msgspec.Raw, kind: type[T]) -> T:
    """One element of a :class:`DocumentedAs` field, decoded as a whole body is (:class:`JsonRequest`): strictly,
    integral floats as integers, every instant in range. A part that does not fit raises a 400
    :class:`DomainError` whose ``errors`` name fields within the part."""
    decoder: msgspec.json.Decoder[T] = msgspec.json.Decoder(kind)
    try:
        data: T = _decode(decoder, bytes(raw))
    except msgspec.ValidationError as exc:
        message = str(exc)
        at = re.search(r" - at `\$\.?([^`]*)`", message)
        named = re.search(r"field `([^`]+)`", message)
        path = [part for part in (at.group(1) if at else "", named.group(1) if named else "") if part]
        field = ".".join(path) or "body"
        text = message.split(" - at `")[0]
        raise DomainError(
            problems.INVALID_REQUEST, f"The item is not valid: {field}: {text}", errors=[FieldError(field, text)]
        ) from None
    errors = [FieldError(path, why) for path, value in _instants(data, "") if (why := instant_problem(value))]
    if errors:
        summary = "; ".join(f"{e.field}: {e.message}" for e in errors)
        raise DomainError(problems.INVALID_REQUEST, f"The item is not valid: {summary}", errors=errors)
    return data
