"""Why a request does not decode with the fake's schema: the field, what is on the wire, what the
schema expected, and which other schema would decode it.

A silent INVALID_ARGUMENT would leave a conformance run failing for a reason nobody can see (the
SDK only logs "request did not decode"); a dapr build pointed at a microsoft-schema fake is the
usual cause (other-sdks.md §10: dapr Go >= 0.8 and dapr Java write a string ``taskExecutionId``
into ScheduleTaskAction field 5, where microsoft has a TraceContext message). sidecar.py records the
explanation as a ``decode_error`` event, logs it, and sends it as the status details.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from fakes.schemas import SCHEMAS, Schema
from fakes.transcode import is_repeated, type_label
from fakes.wire import I32, I64, LEN, VARINT, WIRE_TYPE_NAMES, WireError, fields

_I64_TYPES = {FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64, FieldDescriptor.TYPE_DOUBLE}
_I32_TYPES = {FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_SFIXED32, FieldDescriptor.TYPE_FLOAT}
_LEN_TYPES = {FieldDescriptor.TYPE_MESSAGE, FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES}


@dataclass(frozen=True)
class DecodeFailure:
    """A request that ``schema`` cannot decode, explained. ``text`` is the whole story in one line."""

    schema: str
    method: str  # the RPC, as the client named it
    message_type: str  # the request message the schema expects
    path: str  # where, in the schema's field names: "actions[0].scheduleTask.parentTraceContext"
    owner: str  # the message holding the field: "ScheduleTaskAction"
    number: int | None  # the field number (None: the bytes themselves are not a message)
    field: str | None  # the schema's name for it
    found: str  # what is on the wire there
    expected: str  # what the schema declares there
    decodes_with: str | None  # another schema that decodes the request, if any
    other_field: str | None  # that schema's field at the same place: "taskExecutionId (string)"

    @property
    def text(self) -> str:
        where = (f"{self.owner} field {self.number} ({self.field}) is {self.found}, expected {self.expected}"
                 if self.number is not None else f"{self.owner}: {self.found}")
        head = (f"{self.schema} schema: {self.method} request {self.message_type} does not decode"
                f"{' at ' + self.path if self.path else ''}: {where}")
        if self.decodes_with is None:
            return head + ". No schema the fake knows decodes it: the client sent malformed data."
        other = f", where that field is {self.other_field}" if self.other_field else ""
        return (f"{head}. It decodes with the {self.decodes_with} schema{other}: is this a {self.decodes_with} "
                f"build? Run it with the {self.decodes_with} schema (SdkBuild.schema = {self.decodes_with!r}, "
                f"FakeSidecar(schema={self.decodes_with!r})).")


@dataclass(frozen=True)
class _Spot:
    path: str
    numbers: tuple[int, ...]  # field numbers from the top, to find the same place in another schema
    owner: Descriptor
    field: FieldDescriptor | None
    found: str
    not_a_message: bool = False  # the bytes at ``path`` are not wire data at all


def _allowed_wire_types(fd: FieldDescriptor) -> set[int]:
    if fd.type in _LEN_TYPES:
        return {LEN}
    own = I64 if fd.type in _I64_TYPES else I32 if fd.type in _I32_TYPES else VARINT
    return {own, LEN} if is_repeated(fd) else {own}  # repeated scalars may be packed


def _as_text(payload: bytes) -> str | None:
    try:
        s = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return s if s and s.isprintable() else None


def _is_utf8(payload: bytes) -> bool:
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _what_is(payload: bytes) -> str:
    text = _as_text(payload)
    if text is not None:
        return f"a string on the wire ({text[:40]!r}{'...' if len(text) > 40 else ''})"
    return f"{len(payload)} bytes on the wire that are not a message"


def _locate(desc: Descriptor, data: bytes, path: str, numbers: tuple[int, ...]) -> _Spot | None:
    """The first place in ``data`` (a ``desc`` message on the wire) that does not fit ``desc``."""
    try:
        wire = list(fields(data))
    except WireError as e:
        return _Spot(path, numbers, desc, None, f"not protobuf wire data ({e})", not_a_message=True)
    seen: dict[int, int] = {}
    for f in wire:
        fd = desc.fields_by_number.get(f.number)
        if fd is None:
            continue  # unknown fields are kept, never an error
        i = seen[f.number] = seen.get(f.number, -1) + 1
        here = f"{path}.{fd.name}" if path else fd.name
        here += f"[{i}]" if is_repeated(fd) else ""
        if f.wire_type not in _allowed_wire_types(fd):
            return _Spot(here, numbers + (f.number,), desc, fd, WIRE_TYPE_NAMES[f.wire_type] + " on the wire")
        if fd.type == FieldDescriptor.TYPE_STRING and not _is_utf8(f.payload):
            return _Spot(here, numbers + (f.number,), desc, fd, "bytes on the wire that are not UTF-8")
        if fd.type == FieldDescriptor.TYPE_MESSAGE:
            inner = _locate(fd.message_type, f.payload, here, numbers + (f.number,))
            if inner is not None and (inner.not_a_message or _as_text(f.payload) is not None):
                return _Spot(here, numbers + (f.number,), desc, fd, _what_is(f.payload))
            if inner is not None:
                return inner
    return None


def _field_at(desc: Descriptor, numbers: tuple[int, ...]) -> FieldDescriptor | None:
    fd = None
    for n in numbers:
        if desc is None:
            return None
        fd = desc.fields_by_number.get(n)
        if fd is None:
            return None
        desc = fd.message_type
    return fd


def _other_schema(schema: Schema, method: str, raw: bytes, numbers: tuple[int, ...]) -> tuple[str | None, str | None]:
    """(a schema that decodes ``raw`` as ``method``'s request, its field at ``numbers``)."""
    neutral = schema.neutral_method(method)
    for other in SCHEMAS.values():
        if other is schema:
            continue
        m = other.method(method) or next((x for x in other.service() if other.neutral_method(x.name) == neutral), None)
        if m is None:
            continue
        try:
            other.msg(other.short_name(m.input_type)).FromString(raw)
        except Exception:
            continue
        fd = _field_at(m.input_type, numbers) if numbers else None
        return other.name, (f"{fd.name} ({type_label(fd)})" if fd is not None else None)
    return None, None


def explain(schema: Schema, method: str, raw: bytes) -> DecodeFailure:
    """Why ``raw`` is not a valid request of ``method`` in ``schema`` (call it after decoding failed)."""
    m = schema.method(method)
    if m is None:
        raise KeyError(f"{schema.name} schema has no method {method}")
    desc = m.input_type
    spot = _locate(desc, raw, "", ())
    if spot is None:  # protobuf refused it but every field fits: say so rather than guess
        spot = _Spot("", (), desc, None, "every field fits the schema, yet protobuf refused the bytes")
    other, other_field = _other_schema(schema, method, raw, spot.numbers)
    fd = spot.field
    return DecodeFailure(schema.name, method, schema.short_name(desc), spot.path, schema.short_name(spot.owner),
                         fd.number if fd is not None else None, fd.name if fd is not None else None, spot.found,
                         type_label(fd) if fd is not None else "", other, other_field)
