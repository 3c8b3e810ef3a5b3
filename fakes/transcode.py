"""Carry a message from one wire schema to another by field number, as the wire itself would.

The fake's engine builds and reads neutral (microsoft-schema) messages; a fake speaking the dapr
schema transcodes every request into the neutral schema and every response and work item out of
it (sidecar.py). Field by field, on the raw bytes:

- a field the target schema does not have is carried byte for byte and stays an unknown field
  there (a microsoft healthPing, WorkItem field 4, reaches a dapr client exactly as a microsoft
  fake would send it: dapr Go >= 0.11.2 reserves that number and ignores it);
- a field both schemas have with the same scalar type (or the same enum shape) is carried byte for byte;
- a sub-message is transcoded recursively when both schemas' message types are the same message
  (the same name, or a rename listed in the schema's ``type_names``: WorkflowState = OrchestrationState);
- a field the SOURCE schema does not know is dropped (reported) when the target has that number:
  the fake never guesses what an unvouched field means (monolithic-fork dapr Python puts a
  TaskRouter in ScheduleTaskAction field 4, which microsoft reads as a tags map entry);
- anything else is a real disagreement and is DROPPED, reported in the result: e.g. dapr's
  ``ScheduleTaskAction.taskExecutionId`` (field 5, a string) where microsoft has
  ``parentTraceContext`` (a TraceContext message). The engine never reads such fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from fakes.schemas import Schema
from fakes.wire import LEN, encode_len_field, fields


@dataclass(frozen=True)
class Dropped:
    """A field the target schema cannot hold: where (``path`` in the source schema's names) and why."""

    path: str
    reason: str


def is_repeated(fd: FieldDescriptor) -> bool:
    rep = getattr(fd, "is_repeated", None)  # protobuf >= 5.x; ``label`` is gone in 7.x
    return bool(rep) if rep is not None else fd.label == FieldDescriptor.LABEL_REPEATED


def type_label(fd: FieldDescriptor) -> str:
    """``repeated HistoryEvent``, ``string``, ``enum OrchestrationStatus``: for messages."""
    if fd.type == FieldDescriptor.TYPE_MESSAGE:
        base = fd.message_type.name + " message"
    elif fd.type == FieldDescriptor.TYPE_ENUM:
        base = "enum " + fd.enum_type.name
    else:
        base = _SCALAR_NAMES.get(fd.type, f"type {fd.type}")
    return ("repeated " if is_repeated(fd) else "") + base


_SCALAR_NAMES = {getattr(FieldDescriptor, n): n[5:].lower() for n in dir(FieldDescriptor)
                 if n.startswith("TYPE_") and n not in ("TYPE_MESSAGE", "TYPE_ENUM")}


class Transcoder:
    """Transcodes messages from schema ``src`` to schema ``dst`` (module docstring)."""

    def __init__(self, src: Schema, dst: Schema) -> None:
        self.src, self.dst = src, dst

    def same_message(self, a: Descriptor, b: Descriptor) -> bool:
        return self.src.neutral_type(a) == self.dst.neutral_type(b)

    def bytes(self, data: bytes, src: Descriptor, dst: Descriptor) -> tuple[bytes, list[Dropped]]:
        """``data`` (a ``src`` message on the wire) as a ``dst`` message on the wire, and what was dropped."""
        dropped: list[Dropped] = []
        return self._message(data, src, dst, self.src.short_name(src), dropped), dropped

    def _message(self, data: bytes, src: Descriptor, dst: Descriptor, path: str, dropped: list[Dropped]) -> bytes:
        out = bytearray()
        for f in fields(data):
            sf, df = src.fields_by_number.get(f.number), dst.fields_by_number.get(f.number)
            where = f"{path}.{sf.name if sf is not None else f.number}"
            if df is None:
                out += f.raw  # unknown to the target: carried, as the wire would
            elif sf is None:
                dropped.append(Dropped(where, f"unknown to the {self.src.name} schema; the {self.dst.name} "
                                              f"schema has {df.name} ({type_label(df)}) there"))
            elif sf.type == FieldDescriptor.TYPE_MESSAGE and df.type == FieldDescriptor.TYPE_MESSAGE \
                    and is_repeated(sf) == is_repeated(df) and self.same_message(sf.message_type, df.message_type) \
                    and f.wire_type == LEN:
                out += encode_len_field(f.number, self._message(f.payload, sf.message_type, df.message_type,
                                                                where, dropped))
            elif sf.type == df.type != FieldDescriptor.TYPE_MESSAGE and is_repeated(sf) == is_repeated(df):
                out += f.raw
            else:
                dropped.append(Dropped(where, f"{self.src.name} {sf.name} ({type_label(sf)}) is "
                                              f"{df.name} ({type_label(df)}) in the {self.dst.name} schema"))
        return bytes(out)

    def message(self, msg: object, dst_name: str) -> tuple[object, list[Dropped]]:
        """A ``src`` message object as the ``dst`` schema's ``dst_name`` message."""
        data, dropped = self.bytes(msg.SerializeToString(), msg.DESCRIPTOR, self.dst.message_type(dst_name))  # type: ignore[attr-defined]
        return self.dst.msg(dst_name).FromString(data), dropped
