"""The wire schemas the fake sidecar can speak, one per fake instance: ``FakeSidecar(..., schema=NAME)``.

- ``microsoft``: microsoft/durabletask-protobuf (proto/orchestrator_service.binpb, see pb.py). Python,
  JS, Java and .NET SDKs and microsoft/durabletask-go speak it.
- ``dapr``: the dapr fork, dapr/durabletask-protobuf @ f31a2a0 as compiled into dapr/durabletask-go
  v0.14.0 (proto/dapr/, NOTICE there). The Dapr workflow SDKs speak it: Go v0.8+ writes a string
  ``taskExecutionId`` into ScheduleTaskAction field 5 where microsoft has a TraceContext message,
  v0.12+ completes orchestrations through ``CompleteWorkflowTask``, WorkItem case 1 is
  ``workflowRequest`` and field 4 (microsoft's healthPing) is reserved.

The engine (engine.py) and every check speak ONE neutral vocabulary, the microsoft schema's: the
method names the fake records (``CompleteOrchestratorTask``), the work-item kinds
(``orchestratorRequest``) and the message classes the engine builds (pb.py). A schema only changes
the wire: its ``METHOD_NAMES`` say which neutral method each of its RPCs is (the fake records the
neutral name and adds ``wire_method`` when they differ), its ``TYPE_NAMES`` which neutral message
each of its messages is, and transcode.py carries messages across by field number, as the wire
itself would (see there for what is dropped).

Dapr-to-neutral method mapping (all other dapr RPCs have the microsoft name):

    CompleteWorkflowTask -> CompleteOrchestratorTask   (dapr v0.12+ completion RPC)
    CompleteOrchestratorTask -> CompleteOrchestratorTask (older dapr builds; same WorkflowResponse)
    ListInstanceIDs      -> ListInstanceIds
    RerunWorkflowFromEvent, GetInstanceHistory: dapr only, answered UNIMPLEMENTED like any RPC the
                            engine does not model
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, MethodDescriptor
from google.protobuf.descriptor_pb2 import FileDescriptorSet
from google.protobuf.message import Message

from fakes import pb

SERVICE = pb.SERVICE  # every schema serves /TaskHubSidecarService/<Method>, no package
PROTO_DIR = Path(__file__).parent / "proto"

# dapr message name -> neutral (microsoft) message name, where the fork renamed a message but kept
# its field numbers. Messages with the same name in both correspond without an entry.
DAPR_TYPE_NAMES: Mapping[str, str] = {
    "WorkflowRequest": "OrchestratorRequest",
    "WorkflowResponse": "OrchestratorResponse",
    "WorkflowAction": "OrchestratorAction",
    "CompleteWorkflowAction": "CompleteOrchestrationAction",
    "TerminateWorkflowAction": "TerminateOrchestrationAction",
    "CreateChildWorkflowAction": "CreateSubOrchestrationAction",
    "WorkflowInstance": "OrchestrationInstance",
    "WorkflowState": "OrchestrationState",
    "WorkflowState.TagsEntry": "OrchestrationState.TagsEntry",
    "WorkflowStartedEvent": "OrchestratorStartedEvent",
    "WorkflowCompletedEvent": "OrchestratorCompletedEvent",
    "ChildWorkflowInstanceCreatedEvent": "SubOrchestrationInstanceCreatedEvent",
    "ChildWorkflowInstanceCompletedEvent": "SubOrchestrationInstanceCompletedEvent",
    "ChildWorkflowInstanceFailedEvent": "SubOrchestrationInstanceFailedEvent",
    "ListInstanceIDsRequest": "ListInstanceIdsRequest",
    "ListInstanceIDsResponse": "ListInstanceIdsResponse",
}
DAPR_METHOD_NAMES: Mapping[str, str] = {
    "CompleteWorkflowTask": "CompleteOrchestratorTask",
    "ListInstanceIDs": "ListInstanceIds",
}


def load_pool(descriptor_set: Path) -> descriptor_pool.DescriptorPool:
    """A private pool holding every file of ``descriptor_set`` (dependencies first)."""
    pool = descriptor_pool.DescriptorPool()
    for fdp in FileDescriptorSet.FromString(descriptor_set.read_bytes()).file:
        pool.Add(fdp)
    return pool


@dataclass
class Schema:
    """One wire schema of TaskHubSidecarService, in a private descriptor pool."""

    name: str
    pool: descriptor_pool.DescriptorPool
    package: str  # "" when the schema's messages are top-level
    source: str  # where the schema came from, for messages
    method_names: Mapping[str, str] = field(default_factory=dict)  # wire RPC -> neutral RPC, where they differ
    type_names: Mapping[str, str] = field(default_factory=dict)  # message -> neutral message, where they differ
    # Whether the servers of this schema end each turn's history with orchestratorCompleted (engine.py):
    # microsoft's do; daprd never does, and durabletask-dapr (Python) fails on one.
    marks_turn_end: bool = True
    _classes: dict[str, type[Message]] = field(default_factory=dict, repr=False)

    def short_name(self, descriptor: Descriptor) -> str:
        """``WorkItem``, ``WorkflowState.TagsEntry``, ``google.protobuf.Empty``: the name without the package."""
        full = descriptor.full_name
        return full[len(self.package) + 1:] if self.package and full.startswith(self.package + ".") else full

    def message_type(self, name: str) -> Descriptor:
        full = name if name.startswith("google.protobuf.") or not self.package else f"{self.package}.{name}"
        return self.pool.FindMessageTypeByName(full)

    def msg(self, name: str) -> type[Message]:
        """The class of message ``name`` (short name, or a ``google.protobuf.`` well-known type)."""
        cls = self._classes.get(name)
        if cls is None:
            cls = self._classes[name] = message_factory.GetMessageClass(self.message_type(name))
        return cls

    def service(self) -> list[MethodDescriptor]:
        return list(self.pool.FindServiceByName(f"{self.package}.{SERVICE}" if self.package else SERVICE).methods)

    def method(self, wire_method: str) -> MethodDescriptor | None:
        return next((m for m in self.service() if m.name == wire_method), None)

    def neutral_method(self, wire_method: str) -> str:
        """The name the fake records and the checks read for this schema's RPC ``wire_method``."""
        return self.method_names.get(wire_method, wire_method)

    def neutral_type(self, descriptor: Descriptor) -> str:
        short = self.short_name(descriptor)
        return self.type_names.get(short, short)


MICROSOFT = Schema("microsoft", pb.POOL, pb.PACKAGE,
                   "microsoft/durabletask-protobuf 67a2f1d (fakes/proto/NOTICE)")
DAPR = Schema("dapr", load_pool(PROTO_DIR / "dapr" / "durabletask_dapr.binpb"), "",
              "dapr/durabletask-protobuf f31a2a0 via github.com/dapr/durabletask-go v0.14.0 (fakes/proto/dapr/NOTICE)",
              DAPR_METHOD_NAMES, DAPR_TYPE_NAMES, marks_turn_end=False)
NEUTRAL = MICROSOFT  # the engine's and the checks' vocabulary
SCHEMAS: Mapping[str, Schema] = {s.name: s for s in (MICROSOFT, DAPR)}


def get_schema(name: str) -> Schema:
    """The schema called ``name``; ValueError naming the valid ones otherwise."""
    try:
        return SCHEMAS[name]
    except KeyError:
        raise ValueError(f"unknown wire schema {name!r}; the fake speaks: {', '.join(SCHEMAS)} "
                         "(SdkBuild.schema names the one a build speaks)") from None
