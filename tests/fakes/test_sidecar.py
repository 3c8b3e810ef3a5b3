"""Tests of the fake sidecar (fakes/) with plain grpc clients, plus one end-to-end run of the
real Python SDK in a subprocess (never imported here: its generated proto must not share our
process)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from fakes import pb
from fakes.faults import Abort, Delay, EndOk, Hang, Silence
from fakes.sidecar import FakeSidecar
from harness.checks.windows import GRPC_TIMEOUT_ROUND_UP
from harness.history import FAKE, History

SDK_PYTHON = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "python"


@pytest.fixture
def history() -> History:
    return History("test_fake")


@pytest.fixture
def fake(history: History) -> Iterator[FakeSidecar]:
    f = FakeSidecar(history)
    f.start()
    try:
        yield f
    finally:
        f.stop()


@pytest.fixture
def channel(fake: FakeSidecar) -> Iterator[grpc.Channel]:
    ch = grpc.insecure_channel(fake.address, options=[("grpc.use_local_subchannel_pool", 1)])
    try:
        yield ch
    finally:
        ch.close()


def unary(ch: grpc.Channel, method: str) -> grpc.UnaryUnaryMultiCallable:
    _, resp, _ = pb.method_types(method)
    return ch.unary_unary(f"/TaskHubSidecarService/{method}", request_serializer=lambda m: m.SerializeToString(),
                          response_deserializer=resp.FromString)


def work_items(ch: grpc.Channel, timeout: float | None = None) -> grpc.Call:
    return ch.unary_stream("/TaskHubSidecarService/GetWorkItems",
                           request_serializer=lambda m: m.SerializeToString(),
                           response_deserializer=pb.WorkItem.FromString)(pb.GetWorkItemsRequest(), timeout=timeout)


def ends(history: History, call_id: int, timeout: float = 2.0):
    return history.wait_for(timeout, source=FAKE, kind="rpc_end", call_id=call_id)


def test_hello_recorded(fake: FakeSidecar, channel: grpc.Channel, history: History) -> None:
    unary(channel, "Hello")(pb.Empty(), timeout=2.0, metadata=[("x-test", "1")])
    unary(channel, "Hello")(pb.Empty())
    starts = history.select(FAKE, "rpc_start", method="Hello")
    assert len(starts) == 2
    s = starts[0]
    assert s.get("peer").startswith("ipv4:127.0.0.1:")
    assert ["x-test", "1"] in s.get("metadata")
    assert any(k == "user-agent" for k, _ in s.get("metadata"))
    # grpc-core rounds the encoded grpc-timeout up (harness/checks/windows.py GRPC_TIMEOUT_ROUND_UP)
    assert 1.5 < s.get("deadline") <= 2.0 + GRPC_TIMEOUT_ROUND_UP
    assert s.get("server_gen") == 1 and s.get("request") == ""
    assert starts[1].get("deadline") is None
    end = ends(history, s.get("call_id"))
    assert end.get("code") == "OK" and end.get("ended_by") == "server"


def test_unknown_method_unimplemented(fake: FakeSidecar, channel: grpc.Channel, history: History) -> None:
    with pytest.raises(grpc.RpcError) as e:
        unary(channel, "QueryInstances")(pb.QueryInstancesRequest(), timeout=2)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    with pytest.raises(grpc.RpcError) as e:
        channel.unary_unary("/TaskHubSidecarService/NoSuchRpc")(b"", timeout=2)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    # rpc_end is written when grpc reports the call finished, which may trail the client's view.
    calls = [e.get("call_id") for e in history.select(FAKE, "rpc_start")]
    assert len(calls) == 2
    assert [ends(history, c).get("code") for c in calls] == ["UNIMPLEMENTED", "UNIMPLEMENTED"]


def test_health_pings_at_cadence(fake: FakeSidecar, channel: grpc.Channel, history: History) -> None:
    fake.set_health_ping_interval(0.1)
    stream = work_items(channel)
    times = []
    for msg in stream:
        assert msg.WhichOneof("request") == "healthPing"
        times.append(time.monotonic())
        if len(times) == 4:
            break
    stream.cancel()
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(0.05 < g < 0.25 for g in gaps), gaps
    cid = history.first(source=FAKE, kind="rpc_start", method="GetWorkItems").get("call_id")
    end = ends(history, cid)
    assert end.get("ended_by") == "client" and end.get("code") == "CANCELLED"
    assert len(history.select(FAKE, "message_sent", call_id=cid)) >= 4


@pytest.mark.parametrize("n", [0, 2])
def test_end_ok_after_n_messages(fake: FakeSidecar, channel: grpc.Channel, history: History, n: int) -> None:
    fake.inject("GetWorkItems", EndOk(after_messages=n))
    stream = work_items(channel, timeout=3)
    msgs = list(stream)
    assert len(msgs) == n and stream.code() == grpc.StatusCode.OK
    end = history.wait_for(2, source=FAKE, kind="rpc_end", method="GetWorkItems")
    assert (end.get("code"), end.get("ended_by"), end.get("messages")) == ("OK", "server", n)
    assert history.first(source=FAKE, kind="server_fault").get("fault") == "EndOk"
    # count=1: the next stream is normal (stays open)
    s2 = work_items(channel, timeout=0.3)
    with pytest.raises(grpc.RpcError) as e:
        list(s2)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_abort_unary_and_stream(fake: FakeSidecar, channel: grpc.Channel, history: History) -> None:
    fake.inject("Hello", Abort(grpc.StatusCode.UNAVAILABLE, "try later"))
    with pytest.raises(grpc.RpcError) as e:
        unary(channel, "Hello")(pb.Empty(), timeout=2)
    assert (e.value.code(), e.value.details()) == (grpc.StatusCode.UNAVAILABLE, "try later")
    unary(channel, "Hello")(pb.Empty(), timeout=2)  # rule consumed

    token = fake.schedule_activity("act", '"x"')
    fake.inject("GetWorkItems", Abort(grpc.StatusCode.RESOURCE_EXHAUSTED, after_messages=2))
    got = []
    with pytest.raises(grpc.RpcError) as e:
        for m in work_items(channel, timeout=3):
            got.append(m)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert [m.WhichOneof("request") for m in got] == ["activityRequest", "healthPing"]
    assert got[0].completionToken == token
    assert history.wait_for(2, source=FAKE, kind="rpc_end", method="GetWorkItems") is not None
    codes = [(ev.get("method"), ev.get("code")) for ev in history.select(FAKE, "rpc_end")]
    assert codes[:3] == [("Hello", "UNAVAILABLE"), ("Hello", "OK"), ("GetWorkItems", "RESOURCE_EXHAUSTED")]


def test_hang_gives_client_deadline(fake: FakeSidecar, channel: grpc.Channel, history: History) -> None:
    fake.inject("Hello", Hang())
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        unary(channel, "Hello")(pb.Empty(), timeout=0.3)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    start = history.first(source=FAKE, kind="rpc_start", method="Hello")
    end = ends(history, start.get("call_id"))
    assert (end.get("code"), end.get("ended_by")) == ("DEADLINE_EXCEEDED", "client")
    assert 0.2 < end.t - t0 < 0.6

    fake.set_health_ping_interval(0.05)
    fake.inject("GetWorkItems", Hang())
    stream = work_items(channel, timeout=0.4)
    with pytest.raises(grpc.RpcError) as e:
        list(stream)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    sid = history.first(source=FAKE, kind="rpc_start", method="GetWorkItems").get("call_id")
    assert ends(history, sid).get("ended_by") == "client"
    assert history.select(FAKE, "message_sent", call_id=sid) == []


def test_silence_and_delay(fake: FakeSidecar, channel: grpc.Channel, history: History) -> None:
    fake.set_health_ping_interval(0.05)
    with fake.fault("GetWorkItems", Silence(after_messages=1)):
        stream = work_items(channel, timeout=0.5)
        got = []
        with pytest.raises(grpc.RpcError) as e:
            for m in stream:
                got.append(m)
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED and len(got) == 1
    assert fake._faults.rules == []  # scoped rule removed on exit
    fake.inject("Hello", Delay(0.3))
    t0 = time.monotonic()
    unary(channel, "Hello")(pb.Empty(), timeout=2)
    assert time.monotonic() - t0 >= 0.28


def test_lease_redelivery_and_duplicate(fake: FakeSidecar, channel: grpc.Channel, history: History) -> None:
    token = fake.schedule_activity("probe", '"ping"')
    s1 = work_items(channel)
    item = next(s1)
    assert item.completionToken == token and item.activityRequest.name == "probe"
    c1 = fake.wait_for_stream(1)
    s1.cancel()
    assert ends(history, c1).get("ended_by") == "client"
    s2 = work_items(channel)
    again = next(s2)
    assert again.completionToken == token
    red = history.wait_for(1, source=FAKE, kind="work_item_redelivered", completion_token=token)
    assert red.get("from_call_id") == c1

    done = unary(channel, "CompleteActivityTask")
    res = pb.ActivityResponse(instanceId=again.activityRequest.orchestrationInstance.instanceId,
                              taskId=again.activityRequest.taskId, result=pb.sv('"pong"'), completionToken=token)
    done(res, timeout=2)
    done(res, timeout=2)
    comps = history.select(FAKE, "work_item_completed", completion_token=token)
    assert [c.get("duplicate") for c in comps] == [False, True]
    assert [c["duplicate"] for c in fake.completions(token)] == [False, True]
    # fallback match on (instanceId, taskId) when the token is empty
    t2 = fake.schedule_activity("probe", None)
    it2 = next(s2)
    assert it2.completionToken == t2
    done(pb.ActivityResponse(instanceId=it2.activityRequest.orchestrationInstance.instanceId,
                             taskId=it2.activityRequest.taskId), timeout=2)
    assert len(fake.completions(t2)) == 1
    s2.cancel()


def _drive_orchestration(ch: grpc.Channel, stream: grpc.Call) -> None:
    """Play the worker by hand: schedule one activity, run it, complete the orchestration."""
    complete_orch, complete_act = unary(ch, "CompleteOrchestratorTask"), unary(ch, "CompleteActivityTask")
    first = next(stream)
    req = first.orchestratorRequest
    assert [e.WhichOneof("eventType") for e in req.newEvents] == ["orchestratorStarted", "executionStarted"]
    complete_orch(pb.OrchestratorResponse(instanceId=req.instanceId, completionToken=first.completionToken,
                                          actions=[pb.OrchestratorAction(id=1, scheduleTask=pb.ScheduleTaskAction(
                                              name="say", input=pb.sv('"hi"')))]), timeout=2)
    act = next(stream)
    assert act.activityRequest.taskId == 1 and act.activityRequest.orchestrationInstance.instanceId == req.instanceId
    complete_act(pb.ActivityResponse(instanceId=req.instanceId, taskId=1, result=pb.sv('"said hi"'),
                                     completionToken=act.completionToken), timeout=2)
    replay = next(stream).orchestratorRequest
    past = [e.WhichOneof("eventType") for e in replay.pastEvents]
    assert past == ["orchestratorStarted", "executionStarted", "taskScheduled", "orchestratorCompleted"]
    assert replay.pastEvents[2].eventId == 1
    assert [e.WhichOneof("eventType") for e in replay.newEvents] == ["orchestratorStarted", "taskCompleted"]
    assert replay.newEvents[1].taskCompleted.taskScheduledId == 1
    complete_orch(pb.OrchestratorResponse(
        instanceId=req.instanceId, completionToken="",  # empty token: fallback on instanceId
        actions=[pb.OrchestratorAction(id=2, completeOrchestration=pb.CompleteOrchestrationAction(
            orchestrationStatus=pb.ORCHESTRATION_STATUS_COMPLETED, result=pb.sv('"done"')))]), timeout=2)


def test_wait_for_completion_long_poll(fake: FakeSidecar, channel: grpc.Channel, history: History) -> None:
    iid = fake.start_orchestration("orch", '"in"')
    assert fake.instance_status(iid)["status"] == "ORCHESTRATION_STATUS_PENDING"
    wait = unary(channel, "WaitForInstanceCompletion")
    fut = wait.future(pb.GetInstanceRequest(instanceId=iid, getInputsAndOutputs=True), timeout=5)
    time.sleep(0.3)
    assert not fut.done()  # really blocking server-side
    stream = work_items(channel)
    _drive_orchestration(channel, stream)
    resp = fut.result(timeout=3)
    assert resp.exists and resp.orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED
    assert resp.orchestrationState.output.value == '"done"'
    assert fake.instance_status(iid)["output"] == '"done"'
    stream.cancel()

    other = fake.start_orchestration("never-run")
    with pytest.raises(grpc.RpcError) as e:
        wait(pb.GetInstanceRequest(instanceId=other), timeout=0.3)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    second = history.last(source=FAKE, kind="rpc_start", method="WaitForInstanceCompletion")
    last = ends(history, second.get("call_id"))  # recorded by grpc's callback, maybe after the client saw it
    assert (last.get("code"), last.get("ended_by")) == ("DEADLINE_EXCEEDED", "client"), last


def test_goaway_with_handover(fake: FakeSidecar, channel: grpc.Channel, history: History) -> None:
    fake.set_health_ping_interval(0.05)
    stream = work_items(channel, timeout=5)
    next(stream)
    sid = fake.wait_for_stream(1)
    fake.goaway(grace=0.5, handover=True)
    rest = list(stream)  # ends with OK, no exception
    assert stream.code() == grpc.StatusCode.OK and all(m.HasField("healthPing") for m in rest)
    assert ends(history, sid).get("code") == "OK"
    unary(channel, "Hello")(pb.Empty(), timeout=2)
    hello = history.last(source=FAKE, kind="rpc_start", method="Hello")
    assert hello.get("server_gen") == 2
    assert history.first(source=FAKE, kind="goaway").get("server_gen") == 1
    assert history.wait_for(3, source=FAKE, kind="server_stopped", server_gen=1) is not None


def test_goaway_without_handover_then_restart(fake: FakeSidecar, history: History) -> None:
    fake.goaway(grace=0.1, handover=False).wait(2)
    ch = grpc.insecure_channel(fake.address, options=[("grpc.use_local_subchannel_pool", 1)])
    try:
        with pytest.raises(grpc.RpcError) as e:
            unary(ch, "Hello")(pb.Empty(), timeout=0.5)
        assert e.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        fake.restart()
        unary(ch, "Hello")(pb.Empty(), timeout=5, wait_for_ready=True)
    finally:
        ch.close()
    assert history.last(source=FAKE, kind="rpc_start", method="Hello").get("server_gen") == 2


def test_end_streams_with_code(fake: FakeSidecar, channel: grpc.Channel, history: History) -> None:
    stream = work_items(channel, timeout=3)
    assert fake.wait_for_stream(2) is not None
    fake.end_streams(grpc.StatusCode.UNAVAILABLE, "drain")
    with pytest.raises(grpc.RpcError) as e:
        list(stream)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    end = history.wait_for(2, source=FAKE, kind="rpc_end", method="GetWorkItems")
    assert (end.get("code"), end.get("details"), end.get("ended_by")) == ("UNAVAILABLE", "drain", "server")
    assert fake.open_streams() == []


def test_stop_leaves_no_threads(history: History) -> None:
    before = {t for t in threading.enumerate()}
    fake = FakeSidecar(history, health_ping_interval=0.05)
    fake.start()
    ch = grpc.insecure_channel(fake.address)
    stream = work_items(ch)
    next(stream)
    fake.inject("Hello", Hang())
    fut = unary(ch, "Hello").future(pb.Empty())
    fake.wait_for_stream(1)
    time.sleep(0.1)
    t0 = time.monotonic()
    fake.stop()
    assert time.monotonic() - t0 < 3
    with pytest.raises(grpc.RpcError):
        list(stream)
    with pytest.raises(grpc.RpcError):
        fut.result(timeout=2)
    ch.close()
    time.sleep(0.2)
    left = [t for t in threading.enumerate() if t not in before and not t.daemon and t.is_alive()]
    assert left == []
    starts = {e.get("call_id") for e in history.select(FAKE, "rpc_start")}
    assert starts == {e.get("call_id") for e in history.select(FAKE, "rpc_end")}


SDK_SCRIPT = textwrap.dedent("""
    import json, sys
    from durabletask import client, task, worker

    def greet(ctx: task.ActivityContext, name: str) -> str:
        return f"Hello, {name}!"

    def hello_orch(ctx: task.OrchestrationContext, name: str):
        result = yield ctx.call_activity(greet, input=name)
        return result

    w = worker.TaskHubGrpcWorker(host_address=sys.argv[1])
    w.add_orchestrator(hello_orch)
    w.add_activity(greet)
    w.start()
    try:
        c = client.TaskHubGrpcClient(host_address=sys.argv[1])
        iid = c.schedule_new_orchestration(hello_orch, input="fake")
        st = c.wait_for_orchestration_completion(iid, timeout=15)
        print(json.dumps({"id": iid, "status": st.runtime_status.name, "output": st.serialized_output}))
    finally:
        w.stop()
""")


def test_real_sdk_end_to_end(fake: FakeSidecar, history: History, tmp_path: Path) -> None:
    script = tmp_path / "sdk_e2e.py"
    script.write_text(SDK_SCRIPT)
    proc = subprocess.run([str(SDK_PYTHON), str(script), fake.address], capture_output=True, text=True,
                          timeout=40)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == "COMPLETED" and json.loads(out["output"]) == "Hello, fake!"
    assert fake.instance_status(out["id"])["status"] == "ORCHESTRATION_STATUS_COMPLETED"
    seq = [e.get("method") for e in history.select(FAKE, "rpc_start")]
    wanted = ["StartInstance", "CompleteOrchestratorTask", "CompleteActivityTask", "CompleteOrchestratorTask"]
    it = iter(seq)
    assert all(m in it for m in wanted), seq  # in this order
    assert {"Hello", "GetWorkItems", "WaitForInstanceCompletion"} <= set(seq)
    assert len(history.select(FAKE, "work_item_completed", duplicate=False)) == 3


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q", "-p", "no:durabletask_conformance"]))


# -- hooks for scripted scenarios (harness/repro) --------------------------------------------------
def test_end_stream_ends_one_stream_and_records_it(fake: FakeSidecar, channel: grpc.Channel,
                                                   history: History) -> None:
    s1 = work_items(channel, timeout=3)
    first = fake.wait_for_stream(2)
    s2 = work_items(channel, timeout=0.5)
    deadline = time.monotonic() + 2
    while len(fake.open_streams()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.end_stream(first, "UNKNOWN", "stream timeout", fault="IdleCutoff", step=3) is True
    assert fake.end_stream(first, "UNKNOWN", "again") is False  # already asked to end: nothing recorded
    with pytest.raises(grpc.RpcError) as e:
        list(s1)
    assert (e.value.code(), e.value.details()) == (grpc.StatusCode.UNKNOWN, "stream timeout")
    with pytest.raises(grpc.RpcError) as e:  # the other stream was left alone
        list(s2)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    (fault,) = history.select(FAKE, "server_fault")
    assert fault.data == {"fault": "IdleCutoff", "method": "GetWorkItems", "call_id": first,
                          "peer": fault.get("peer"), "messages": 0, "code": "UNKNOWN",
                          "details": "stream timeout", "step": 3}
    assert ends(history, first).get("code") == "UNKNOWN"


def test_abort_after_cuts_a_long_poll_still_waiting(fake: FakeSidecar, channel: grpc.Channel,
                                                    history: History) -> None:
    from fakes.faults import AbortAfter
    wait = unary(channel, "WaitForInstanceCompletion")
    never = fake.start_orchestration("never-finishes")
    fake.inject("WaitForInstanceCompletion", AbortAfter(0.3, grpc.StatusCode.DEADLINE_EXCEEDED, "cut"), count=None)
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        wait(pb.GetInstanceRequest(instanceId=never), timeout=5)
    assert (e.value.code(), e.value.details()) == (grpc.StatusCode.DEADLINE_EXCEEDED, "cut")
    assert 0.28 <= time.monotonic() - t0 < 2
    fault = history.first(source=FAKE, kind="server_fault")
    assert (fault.get("fault"), fault.get("code"), fault.get("details")) == ("Abort", "DEADLINE_EXCEEDED", "cut")
    # the call's own answer comes first: answered normally, nothing recorded as a fault
    done = fake.start_orchestration("finishes")
    fut = wait.future(pb.GetInstanceRequest(instanceId=done), timeout=5)
    time.sleep(0.1)
    fake.engine.terminate(done, '"finished"')
    assert fut.result(timeout=3).exists
    assert len(history.select(FAKE, "server_fault")) == 1
