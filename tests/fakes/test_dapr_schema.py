"""The fake sidecar speaking either wire schema (fakes/schemas.py): a full work-item round trip with
real grpc clients built from each schema's own messages, the schema-neutral record both produce,
and the explained error for a request the fake's schema cannot decode."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest

from fakes.schemas import DAPR, MICROSOFT, SCHEMAS, Schema, get_schema
from fakes.sidecar import FakeSidecar
from harness.history import FAKE, History

STREAM_WAIT = 5.0


@dataclass(frozen=True)
class Names:
    """What a client of each schema calls the same things (the fork renamed them, same field numbers)."""

    orchestrator_case: str  # WorkItem oneof case of an orchestration work item
    complete_rpc: str
    response: str
    action: str
    complete_action: str  # OrchestratorAction oneof case
    complete_action_type: str
    status_field: str
    state_field: str  # GetInstanceResponse field
    started_event: str  # HistoryEvent case of the turn's start


NAMES = {
    "microsoft": Names("orchestratorRequest", "CompleteOrchestratorTask", "OrchestratorResponse", "OrchestratorAction",
                       "completeOrchestration", "CompleteOrchestrationAction", "orchestrationStatus",
                       "orchestrationState", "orchestratorStarted"),
    "dapr": Names("workflowRequest", "CompleteWorkflowTask", "WorkflowResponse", "WorkflowAction",
                  "completeWorkflow", "CompleteWorkflowAction", "workflowStatus", "workflowState", "workflowStarted"),
}


class Client:
    """A plain grpc client of ``schema``, its messages taken from the schema's own descriptors."""

    def __init__(self, schema: Schema, address: str) -> None:
        self.s = schema
        self.ch = grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])

    def close(self) -> None:
        self.ch.close()

    def m(self, _type: str, **fields):
        return self.s.msg(_type)(**fields)

    def sv(self, value: str):
        return self.m("google.protobuf.StringValue", value=value)

    def _resp_cls(self, method: str):
        return self.s.msg(self.s.short_name(self.s.method(method).output_type))

    def unary(self, method: str, request, timeout: float = 5.0):
        return self.ch.unary_unary(f"/TaskHubSidecarService/{method}", request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=self._resp_cls(method).FromString)(request, timeout=timeout)

    def raw_unary(self, method: str, data: bytes, timeout: float = 5.0) -> bytes:
        return self.ch.unary_unary(f"/TaskHubSidecarService/{method}")(data, timeout=timeout)

    def work_items(self, timeout: float = 30.0):
        return self.ch.unary_stream("/TaskHubSidecarService/GetWorkItems",
                                    request_serializer=lambda m: m.SerializeToString(),
                                    response_deserializer=self.s.msg("WorkItem").FromString)(
            self.m("GetWorkItemsRequest"), timeout=timeout)


@pytest.fixture
def history() -> History:
    return History("test_dapr_schema")


def _started(history: History, schema: str) -> Iterator[FakeSidecar]:
    f = FakeSidecar(history, schema=schema)
    f.start()
    try:
        yield f
    finally:
        f.stop()


@pytest.fixture
def microsoft_fake(history: History) -> Iterator[FakeSidecar]:
    yield from _started(history, "microsoft")


@pytest.fixture
def dapr_fake(history: History) -> Iterator[FakeSidecar]:
    yield from _started(history, "dapr")


# -- the registry -----------------------------------------------------------------------------------
def test_unknown_schema_names_the_valid_ones(history: History) -> None:
    with pytest.raises(ValueError, match=r"unknown wire schema 'grpc-dapr'.*microsoft, dapr"):
        FakeSidecar(history, schema="grpc-dapr")
    assert get_schema("dapr") is DAPR and get_schema("microsoft") is MICROSOFT


def test_vendored_dapr_schema_is_the_fork_the_notice_names() -> None:
    """The facts other-sdks.md §10 states about the fork, read from the vendored descriptors."""
    methods = {m.name: m for m in DAPR.service()}
    assert "CompleteWorkflowTask" in methods and "CompleteWorkflowTask" not in {m.name for m in MICROSOFT.service()}
    assert methods["CompleteWorkflowTask"].input_type.name == "WorkflowResponse"
    work_item = DAPR.message_type("WorkItem")
    assert work_item.fields_by_number[1].name == "workflowRequest"
    assert 4 not in work_item.fields_by_number  # no HealthPing
    task_execution_id = DAPR.message_type("ScheduleTaskAction").fields_by_number[5]
    assert task_execution_id.name == "taskExecutionId" and task_execution_id.message_type is None
    assert MICROSOFT.message_type("ScheduleTaskAction").fields_by_number[5].message_type.name == "TraceContext"


# -- a full round trip, both schemas ----------------------------------------------------------------
def _next_item(stream: Iterator, case: str):
    item = next(stream)
    assert item.WhichOneof("request") == case, item
    return item


def _run_orchestration(c: Client, n: Names) -> tuple[str, object]:
    """StartInstance, one activity, completion; every message built by hand in the client's schema."""
    iid = c.unary("StartInstance", c.m("CreateInstanceRequest", name="wf", input=c.sv('"in"'))).instanceId
    c.unary("Hello", c.m("google.protobuf.Empty"))
    stream = c.work_items()
    try:
        first = _next_item(stream, n.orchestrator_case)
        req = getattr(first, n.orchestrator_case)
        assert req.instanceId == iid
        assert [e.WhichOneof("eventType") for e in req.newEvents] == [n.started_event, "executionStarted"]
        assert req.newEvents[1].executionStarted.name == "wf" and req.newEvents[1].executionStarted.input.value == '"in"'
        schedule = c.m("ScheduleTaskAction", name="act", input=c.sv("1"))
        if c.s is DAPR:
            schedule.taskExecutionId = str(uuid.uuid4())  # what dapr Go v0.8+ always sends
        c.unary(n.complete_rpc, c.m(n.response, instanceId=iid, completionToken=first.completionToken,
                                    actions=[c.m(n.action, id=7, scheduleTask=schedule)]))
        act = _next_item(stream, "activityRequest")
        assert (act.activityRequest.name, act.activityRequest.taskId, act.activityRequest.input.value) == ("act", 7, "1")
        c.unary("CompleteActivityTask", c.m("ActivityResponse", instanceId=iid, taskId=7, result=c.sv('"out"'),
                                            completionToken=act.completionToken))
        replay_item = _next_item(stream, n.orchestrator_case)
        replay = getattr(replay_item, n.orchestrator_case)
        scheduled = [e for e in replay.pastEvents if e.WhichOneof("eventType") == "taskScheduled"]
        assert [(e.eventId, e.taskScheduled.name) for e in scheduled] == [(7, "act")]
        done = [e.taskCompleted for e in replay.newEvents if e.WhichOneof("eventType") == "taskCompleted"]
        assert [(d.taskScheduledId, d.result.value) for d in done] == [(7, '"out"')]
        complete = c.m(n.complete_action_type, result=c.sv('"out"'), **{n.status_field: 1})  # COMPLETED
        c.unary(n.complete_rpc, c.m(n.response, instanceId=iid, completionToken=replay_item.completionToken,
                                    actions=[c.m(n.action, id=8, **{n.complete_action: complete})]))
    finally:
        stream.cancel()
    return iid, c.unary("WaitForInstanceCompletion", c.m("GetInstanceRequest", instanceId=iid, getInputsAndOutputs=True))


def _neutral_record(history: History) -> list[tuple]:
    """The fake's record without times, ids or peers: what the checks read."""
    out = []
    for e in history.select(FAKE):
        if e.kind in ("rpc_start", "rpc_end"):
            out.append((e.kind, e.get("method"), e.get("code")))
        elif e.kind in ("message_sent", "work_item_queued", "work_item_completed"):
            out.append((e.kind, e.get("item"), e.get("method"), e.get("duplicate")))
    return out


def test_round_trip_in_each_schema_leaves_the_same_neutral_record(history: History) -> None:
    records = {}
    for name in sorted(SCHEMAS):
        h = History(f"round-trip-{name}")
        for fake in _started(h, name):
            c = Client(get_schema(name), fake.address)
            try:
                iid, resp = _run_orchestration(c, NAMES[name])
            finally:
                c.close()
            state = getattr(resp, NAMES[name].state_field)
            assert resp.exists and getattr(state, NAMES[name].status_field) == 1 and state.output.value == '"out"'
            assert fake.instance_status(iid)["status"] == "ORCHESTRATION_STATUS_COMPLETED"
        ends = [e for e in h.select(FAKE, "rpc_end") if e.get("method") != "GetWorkItems"]
        assert ends and all(e.get("code") == "OK" for e in ends), [(e.get("method"), e.get("details")) for e in ends]
        records[name] = _neutral_record(h)
    assert records["dapr"] == records["microsoft"]
    methods = [r[1] for r in records["dapr"] if r[0] == "rpc_start"]
    assert methods.count("CompleteOrchestratorTask") == 2 and "CompleteWorkflowTask" not in methods


def test_dapr_calls_keep_their_wire_name_beside_the_neutral_one(dapr_fake: FakeSidecar, history: History) -> None:
    c = Client(DAPR, dapr_fake.address)
    try:
        _run_orchestration(c, NAMES["dapr"])
    finally:
        c.close()
    started = history.first(source=FAKE, kind="server_started")
    assert started.get("schema") == "dapr" and "f31a2a0" in started.get("schema_source")
    completes = history.select(FAKE, "rpc_start", method="CompleteOrchestratorTask")
    assert [e.get("wire_method") for e in completes] == ["CompleteWorkflowTask"] * 2
    assert history.select(FAKE, "rpc_start", method="Hello")[0].get("wire_method") is None  # same name: not repeated
    # dapr's taskExecutionId has no neutral counterpart: said once, not on every call
    dropped = history.select(FAKE, "schema_dropped")
    assert [(d.get("direction"), d.get("path")) for d in dropped] == [
        ("from_client", "WorkflowResponse.actions.scheduleTask.taskExecutionId")]


def test_a_health_ping_reaches_a_dapr_client_as_the_reserved_field_4(dapr_fake: FakeSidecar, history: History) -> None:
    """dapr >= 0.11.2 reserves WorkItem field 4; the fake sends a ping's bytes unchanged, as a
    microsoft-schema server would, and records it as a healthPing."""
    dapr_fake.set_health_ping_interval(0.05)
    c = Client(DAPR, dapr_fake.address)
    try:
        stream = c.ch.unary_stream("/TaskHubSidecarService/GetWorkItems")(b"", timeout=STREAM_WAIT)
        raw = next(stream)
        stream.cancel()
    finally:
        c.close()
    assert raw == b"\x22\x00"  # field 4, length-delimited, empty: HealthPing {}
    assert DAPR.msg("WorkItem").FromString(raw).WhichOneof("request") is None
    assert history.select(FAKE, "message_sent")[0].get("item") == "healthPing"


# -- requests the schema cannot decode --------------------------------------------------------------
def _ld(number: int, payload: bytes) -> bytes:
    """A length-delimited field, hand-encoded (every length here is < 128)."""
    assert len(payload) < 128
    return bytes([(number << 3) | 2, len(payload)]) + payload


def _dapr_style_completion() -> bytes:
    """OrchestratorResponse{instanceId, actions[{id: 1, scheduleTask{name, field 5: a string}}],
    completionToken}, as dapr Go >= 0.8 and dapr Java 1.17 put it on the wire."""
    schedule = _ld(1, b"act") + _ld(5, b"3f2a9c1e-7b1d-4c6e-9a55-0c1d2e3f4a5b")
    action = bytes([0x08, 0x01]) + _ld(2, schedule)
    return _ld(1, b"inst-1") + _ld(2, action) + _ld(4, b"o-1")


def test_undecodable_request_is_explained_recorded_and_logged(microsoft_fake: FakeSidecar, history: History,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    c = Client(MICROSOFT, microsoft_fake.address)
    try:
        with caplog.at_level(logging.ERROR, logger="fakes.sidecar"), pytest.raises(grpc.RpcError) as err:
            c.raw_unary("CompleteOrchestratorTask", _dapr_style_completion())
    finally:
        c.close()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = err.value.details()
    assert details.startswith("microsoft schema: CompleteOrchestratorTask request OrchestratorResponse does not "
                              "decode at actions[0].scheduleTask.parentTraceContext: ScheduleTaskAction field 5 "
                              "(parentTraceContext) is a string on the wire ('3f2a9c1e-7b1d-4c6e-9a55-0c1d2e3f4a5b'), "
                              "expected TraceContext message.")
    assert "decodes with the dapr schema, where that field is taskExecutionId (string): is this a dapr build?" in details
    ev = history.first(source=FAKE, kind="decode_error")
    assert (ev.get("schema"), ev.get("owner"), ev.get("field_number"), ev.get("field"), ev.get("decodes_with")) == (
        "microsoft", "ScheduleTaskAction", 5, "parentTraceContext", "dapr")
    assert ev.get("message") == details
    end = history.first(source=FAKE, kind="rpc_end", call_id=ev.get("call_id"))
    assert (end.get("code"), end.get("details")) == ("INVALID_ARGUMENT", details)
    assert details in caplog.text
    assert microsoft_fake.completions("o-1") == []  # nothing half-applied


def test_the_same_bytes_decode_with_the_dapr_schema(dapr_fake: FakeSidecar, history: History) -> None:
    c = Client(DAPR, dapr_fake.address)
    try:
        c.raw_unary("CompleteOrchestratorTask", _dapr_style_completion())  # unknown token: accepted, recorded
    finally:
        c.close()
    assert history.select(FAKE, "decode_error") == []
    assert history.first(source=FAKE, kind="work_item_completed").get("completion_token") == "o-1"


def test_a_malformed_work_item_request_ends_the_stream_with_the_reason(dapr_fake: FakeSidecar, history: History) -> None:
    c = Client(DAPR, dapr_fake.address)
    try:
        stream = c.ch.unary_stream("/TaskHubSidecarService/GetWorkItems")(b"\x0a\x05ab", timeout=STREAM_WAIT)
        with pytest.raises(grpc.RpcError) as err:
            next(stream)
    finally:
        c.close()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith("dapr schema: GetWorkItems request GetWorkItemsRequest does not decode: "
                                          "GetWorkItemsRequest: not protobuf wire data (field 1 runs past the end")
    assert "No schema the fake knows decodes it" in err.value.details()
    assert history.first(source=FAKE, kind="decode_error").get("method") == "GetWorkItems"


def test_a_method_only_another_schema_has_is_named(microsoft_fake: FakeSidecar, history: History) -> None:
    c = Client(MICROSOFT, microsoft_fake.address)
    try:
        with pytest.raises(grpc.RpcError) as err:
            c.raw_unary("CompleteWorkflowTask", b"")
    finally:
        c.close()
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "the microsoft schema has no such RPC, the dapr schema has: is this a dapr build?" in err.value.details()
    assert history.first(source=FAKE, kind="rpc_start").get("method") == "/TaskHubSidecarService/CompleteWorkflowTask"


def test_dapr_only_rpcs_are_recorded_and_unimplemented(dapr_fake: FakeSidecar, history: History) -> None:
    c = Client(DAPR, dapr_fake.address)
    try:
        with pytest.raises(grpc.RpcError) as err:
            c.unary("GetInstanceHistory", c.m("GetInstanceHistoryRequest", instanceId="x"))
    finally:
        c.close()
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED and "dapr schema" in err.value.details()
    assert history.first(source=FAKE, kind="rpc_end").get("method") == "GetInstanceHistory"


def test_rig_starts_the_fake_with_the_builds_schema(history: History) -> None:
    from harness import rig
    with rig.fake_sidecar(history, schema="dapr") as fake:
        assert fake.schema is DAPR
    assert json.dumps(history.first(source=FAKE, kind="server_started").get("schema")) == '"dapr"'
