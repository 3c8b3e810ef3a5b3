"""The protobuf wire format, read field by field without a schema.

Why the fake reads raw wire data at all: two schemas (microsoft, dapr) disagree on a few field
numbers, and the only honest way to say *which* field a request does not decode at, or to carry a
field across from one schema to the other exactly as the client sent it, is to look at the bytes.
protobuf's own parser only says "Error parsing message".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5
WIRE_TYPE_NAMES = {VARINT: "a varint", I64: "a 64-bit fixed value", LEN: "length-delimited bytes",
                   SGROUP: "a group start", EGROUP: "a group end", I32: "a 32-bit fixed value"}


class WireError(ValueError):
    """The bytes are not protobuf wire data; ``offset`` is where reading failed."""

    def __init__(self, offset: int, problem: str) -> None:
        super().__init__(f"{problem} at byte {offset}")
        self.offset, self.problem = offset, problem


@dataclass(frozen=True)
class WireField:
    """One field as it sits on the wire. ``raw`` is the whole field (tag included), so it can be
    copied into another message byte for byte; ``payload`` is a LEN field's content."""

    number: int
    wire_type: int
    raw: bytes
    payload: bytes = b""


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it)."""
    value, shift, start = 0, 0, pos
    while True:
        if pos >= len(data):
            raise WireError(start, "truncated varint")
        b = data[pos]
        value |= (b & 0x7F) << shift
        pos += 1
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift >= 64:
            raise WireError(start, "varint longer than 10 bytes")


def fields(data: bytes) -> Iterator[WireField]:
    """Every top-level field of ``data`` in order; WireError at the first byte that is not wire data.
    Groups (wire types 3/4, deprecated and used by neither schema) are reported as errors: in a
    proto3 message a group tag is the usual sign that the bytes are text, not a message."""
    pos = 0
    while pos < len(data):
        start = pos
        tag, pos = read_varint(data, pos)
        number, wire_type = tag >> 3, tag & 7
        if number == 0:
            raise WireError(start, "field number 0")
        payload = b""
        if wire_type == VARINT:
            _, pos = read_varint(data, pos)
        elif wire_type == I64:
            pos += 8
        elif wire_type == I32:
            pos += 4
        elif wire_type == LEN:
            length, pos = read_varint(data, pos)
            payload = data[pos:pos + length]
            pos += length
        else:
            raise WireError(start, f"field {number} has wire type {wire_type} ({WIRE_TYPE_NAMES.get(wire_type, 'invalid')})")
        if pos > len(data):
            raise WireError(start, f"field {number} runs past the end of the message")
        yield WireField(number, wire_type, data[start:pos], payload)


def encode_len_field(number: int, payload: bytes) -> bytes:
    """A LEN field (a sub-message, string or bytes) with ``payload``."""
    return _varint((number << 3) | LEN) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)
