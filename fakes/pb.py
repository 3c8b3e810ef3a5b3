"""Message classes for the fake sidecar, built from a vendored FileDescriptorSet.

Why a private pool and no generated ``_pb2`` modules: the SDK under test ships its own
generated code for the same schema (no package), and loading both into the default pool
collides; fresh gencode would also pin protobuf/grpcio versions. A private
``DescriptorPool`` loaded from ``proto/orchestrator_service.binpb`` avoids both. The
well-known types (Empty, StringValue, Timestamp) must come from this same pool, or protobuf
rejects them when assigned into our messages.

Usage::

    from fakes import pb
    item = pb.WorkItem(completionToken="a-1", healthPing=pb.HealthPing())
    pb.msg("OrchestratorRequest")
    pb.ORCHESTRATION_STATUS_COMPLETED
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor_pb2 import FileDescriptorSet
from google.protobuf.message import Message

PACKAGE = "dtfake.v1"
SERVICE = "TaskHubSidecarService"  # served unqualified: /TaskHubSidecarService/<Method>
DESCRIPTOR_SET = Path(__file__).parent / "proto" / "orchestrator_service.binpb"


def _load_pool() -> descriptor_pool.DescriptorPool:
    fds = FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    # --include_imports writes dependencies first, so adding in order always resolves.
    for fdp in fds.file:
        pool.Add(fdp)
    return pool


POOL = _load_pool()
_FILE = POOL.FindFileByName("orchestrator_service.proto")
_classes: dict[str, type[Message]] = {}


def msg(name: str) -> type[Message]:
    """The message class for ``name``: a schema message ("WorkItem"), a nested one
    ("OrchestratorRequest.PropertiesEntry") or a fully qualified WKT ("google.protobuf.Empty")."""
    full = name if name.startswith("google.protobuf.") or name.startswith(PACKAGE + ".") else f"{PACKAGE}.{name}"
    cls = _classes.get(full)
    if cls is None:
        cls = message_factory.GetMessageClass(POOL.FindMessageTypeByName(full))
        _classes[full] = cls
    return cls


def method_types(method: str) -> tuple[type[Message], type[Message], bool]:
    """(request class, response class, server_streaming) for an RPC of TaskHubSidecarService."""
    m = POOL.FindServiceByName(f"{PACKAGE}.{SERVICE}").FindMethodByName(method)
    if m is None:
        raise KeyError(method)
    return (msg(m.input_type.full_name), msg(m.output_type.full_name), bool(m.server_streaming))


def method_names() -> list[str]:
    return [m.name for m in POOL.FindServiceByName(f"{PACKAGE}.{SERVICE}").methods]


# Well-known types, from the private pool (see module docstring).
Empty = msg("google.protobuf.Empty")
StringValue = msg("google.protobuf.StringValue")
Timestamp = msg("google.protobuf.Timestamp")
Int32Value = msg("google.protobuf.Int32Value")
BoolValue = msg("google.protobuf.BoolValue")

# Enum values as module constants (ORCHESTRATION_STATUS_COMPLETED, WORKER_CAPABILITY_..., ...).
ENUMS: dict[str, int] = {}
for _enum in _FILE.enum_types_by_name.values():
    for _v in _enum.values:
        ENUMS[_v.name] = _v.number
globals().update(ENUMS)

ORCHESTRATION_STATUS_RUNNING: int = ENUMS["ORCHESTRATION_STATUS_RUNNING"]
ORCHESTRATION_STATUS_COMPLETED: int = ENUMS["ORCHESTRATION_STATUS_COMPLETED"]
ORCHESTRATION_STATUS_FAILED: int = ENUMS["ORCHESTRATION_STATUS_FAILED"]
ORCHESTRATION_STATUS_TERMINATED: int = ENUMS["ORCHESTRATION_STATUS_TERMINATED"]
ORCHESTRATION_STATUS_PENDING: int = ENUMS["ORCHESTRATION_STATUS_PENDING"]


def status_name(value: int) -> str:
    return _FILE.enum_types_by_name["OrchestrationStatus"].values_by_number[value].name


def sv(value: str | None) -> Any:
    """A StringValue, or None so callers can pass it straight to a constructor kwarg."""
    return None if value is None else StringValue(value=value)


def __getattr__(name: str) -> type[Message]:
    # pb.WorkItem, pb.HistoryEvent, ... resolved lazily (PEP 562).
    if name.startswith("_") or not name[:1].isupper():
        raise AttributeError(name)
    try:
        return msg(name)
    except KeyError as e:
        raise AttributeError(name) from e
