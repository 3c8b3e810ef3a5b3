"""Requests in and responses out for one wire schema, so the engine only ever sees neutral messages.

``Codec(schema)`` makes the gRPC (de)serializers of each RPC the schema defines:

- a request is decoded with the schema's own message class first (that is what says whether the
  client's bytes fit the schema: if not, ``Request.failure`` explains why, decode_errors.py), then,
  for a non-neutral schema, transcoded into the neutral (microsoft) request the engine reads;
- a response or work item the engine built is transcoded into the schema's message on the way out.

What transcoding drops (transcode.py) is reported through ``on_dropped`` (sidecar.py records each
distinct field once per fake as ``schema_dropped``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import MethodDescriptor

from fakes.decode_errors import DecodeFailure, explain
from fakes.schemas import NEUTRAL, Schema
from fakes.transcode import Dropped, Transcoder

OnDropped = Callable[[str, str, list[Dropped]], None]  # (direction, wire method, dropped)
TO_CLIENT, FROM_CLIENT = "to_client", "from_client"


@dataclass(frozen=True)
class Request:
    """One request as received: the raw bytes (recorded as sent), the neutral message the engine
    reads (None if it did not decode) and, if it did not, why."""

    raw: bytes
    message: Any
    failure: DecodeFailure | None = None


class Codec:
    def __init__(self, schema: Schema, on_dropped: OnDropped) -> None:
        self.schema = schema
        self._on_dropped = on_dropped
        self._inbound = Transcoder(schema, NEUTRAL)
        self._outbound = Transcoder(NEUTRAL, schema)

    def neutral_method(self, wire: MethodDescriptor) -> MethodDescriptor | None:
        """The neutral RPC the engine implements for ``wire`` (None: the schema's own RPC, not modelled)."""
        return NEUTRAL.method(self.schema.neutral_method(wire.name))

    def request_deserializer(self, wire: MethodDescriptor) -> Callable[[bytes], Request]:
        own_cls = self.schema.msg(self.schema.short_name(wire.input_type))
        neutral = self.neutral_method(wire)

        def deserialize(raw: bytes) -> Request:
            # grpc turns an exception raised here into a bare INTERNAL the fake never sees: never raise
            try:
                own = own_cls.FromString(raw)
            except Exception:
                return Request(raw, None, _explained(self.schema, wire.name, raw))
            if self.schema is NEUTRAL or neutral is None:
                return Request(raw, own)
            data, dropped = self._inbound.bytes(raw, wire.input_type, neutral.input_type)
            if dropped:
                self._on_dropped(FROM_CLIENT, wire.name, dropped)
            return Request(raw, NEUTRAL.msg(NEUTRAL.short_name(neutral.input_type)).FromString(data))

        return deserialize

    def response_serializer(self, wire: MethodDescriptor) -> Callable[[Any], bytes]:
        """Serializes the engine's response (or work item) as ``wire``'s response message."""
        out_desc = wire.output_type

        def serialize(msg: Any) -> bytes:
            data = msg.SerializeToString()
            if self.schema is NEUTRAL or msg.DESCRIPTOR.file.pool is self.schema.pool:
                return data  # already in the wire schema
            data, dropped = self._outbound.bytes(data, msg.DESCRIPTOR, out_desc)
            if dropped:
                self._on_dropped(TO_CLIENT, wire.name, dropped)
            return data

        return serialize


def _explained(schema: Schema, method: str, raw: bytes) -> DecodeFailure:
    """decode_errors.explain, or, should explaining itself fail, a failure that says so."""
    try:
        return explain(schema, method, raw)
    except Exception as e:
        return DecodeFailure(schema.name, method, "?", "", "?", None, None,
                             f"undecodable, and explaining why failed too ({e!r})", "", None, None)
