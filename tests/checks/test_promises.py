"""Checks of SPEC.md section 6 (harness/checks/promises.py) on synthetic histories: each is shown to pass
on a conforming history AND to fail on a breaking one."""

from harness.checks import promises as pc
from harness.history import DRIVER, FAKE, SCENARIO, History

T0 = 1000.0


def test_defaults_as_documented():
    doc = pc.documented_defaults()
    h = History()
    assert not pc.defaults_as_documented(h, documented=doc).ok  # never read
    h.record(SCENARIO, "sdk_defaults", t=T0, **doc)
    assert pc.defaults_as_documented(h, documented=doc).ok
    worse = {**doc, "worker": {**doc["worker"], "silent_disconnect_timeout_seconds": 0}}
    h.record(SCENARIO, "sdk_defaults", t=T0 + 1, **worse)
    v = pc.defaults_as_documented(h, documented=doc)
    assert not v.ok and "silent_disconnect_timeout_seconds: 0" in v.summary
    h.record(SCENARIO, "sdk_defaults", t=T0 + 2, worker=None, client=None, client_long_poll_timeout_seconds=60)
    v = pc.defaults_as_documented(h, documented=doc)
    assert not v.ok and "declares none" in v.summary  # a build without the settings fails, never passes


def test_pings_and_no_work_dispatched():
    h = History()
    for i in range(3):
        h.record(FAKE, "message_sent", t=T0 + i * 0.1, call_id=1, item="healthPing")
    assert pc.pings_delivered(h, call_id=1, at_least=3, before=T0 + 1).ok
    assert not pc.pings_delivered(h, call_id=1, at_least=4, before=T0 + 1).ok
    assert pc.no_work_dispatched(h, after=T0, before=T0 + 1).ok
    h.record(FAKE, "rpc_start", t=T0 + 0.15, method="CompleteActivityTask", call_id=2)
    v = pc.no_work_dispatched(h, after=T0, before=T0 + 1)
    assert not v.ok and "CompleteActivityTask" in v.summary


def test_stream_end_observed():
    h = History()
    assert not pc.stream_end_observed(h, after=T0).ok
    h.record(DRIVER, "rpc_done", t=T0 + 1, method="GetWorkItems", code="UNAVAILABLE")
    assert pc.stream_end_observed(h, after=T0).ok
    assert not pc.stream_end_observed(h, after=T0 + 2).ok


def test_faults_fired():
    h = History()
    for i in range(2):
        h.record(FAKE, "server_fault", t=T0 + i, method="Hello", code="CANCELLED", call_id=i)
    assert pc.faults_fired(h, method="Hello", code="CANCELLED", count=2).ok
    assert not pc.faults_fired(h, method="Hello", code="CANCELLED", count=3).ok


def _poll(h, t, outcome, exc=None, code=None, elapsed=0.5, op="wait_start"):
    h.record(DRIVER, "client_call_done", t=t, client_id="c", op=op, outcome=outcome, exc_type=exc,
             grpc_code=code, elapsed=elapsed)


def test_long_polls_end_at_timeout():
    h = History()
    h.record(FAKE, "rpc_start", t=T0, method="WaitForInstanceStart", deadline=0.5, call_id=1)
    _poll(h, T0 + 0.5, "error", "TimeoutError")
    ok = dict(client_id="c", op="wait_start", method="WaitForInstanceStart", timeout=0.5, count=1, tolerance=0.1)
    assert pc.long_polls_end_at_timeout(h, **ok).ok
    h2 = History()
    h2.record(FAKE, "rpc_start", t=T0, method="WaitForInstanceStart", deadline=1.0, call_id=1)  # twice the timeout
    _poll(h2, T0 + 1.0, "error", "TimeoutError", elapsed=1.0)
    assert not pc.long_polls_end_at_timeout(h2, **ok).ok


def test_long_poll_cut_at_grace():
    args = dict(client_id="c", op="wait_completion", recreated_at=T0, grace=30.0, tolerance=0.1)
    h = History()
    _poll(h, T0 + 30.02, "error", "_InactiveRpcError", "CANCELLED", op="wait_completion")
    assert pc.long_poll_cut_at_grace(h, **args).ok
    late = History()  # never closed: the poll ran to its own deadline
    _poll(late, T0 + 34, "error", "TimeoutError", None, op="wait_completion")
    assert not pc.long_poll_cut_at_grace(late, **args).ok
    wrong = History()  # on time, but reported as the caller's timeout
    _poll(wrong, T0 + 30.0, "error", "TimeoutError", None, op="wait_completion")
    assert not pc.long_poll_cut_at_grace(wrong, **args).ok
    assert not pc.long_poll_cut_at_grace(History(), **args).ok  # never returned


def _created(h, t, cid, options=(), secure=False):
    h.record(DRIVER, "channel_created", t=t, channel_id=cid, owner="sdk", options=[list(o) for o in options],
             secure=secure)


def test_calls_carry_header_and_channels_alike():
    ua = [("grpc.primary_user_agent", "probe/1")]
    h = History()
    _created(h, T0, 1, ua)
    _created(h, T0 + 1, 2, ua)
    h.record(FAKE, "rpc_start", t=T0 + 1.1, method="GetInstance", call_id=1,
             metadata=[["user-agent", "probe/1 grpc-python"], ["x-h", "kept"]])
    assert pc.sdk_channels_alike(h).ok
    assert pc.calls_carry_header(h, key="user-agent", prefix="probe/1", after=T0 + 1).ok
    assert pc.calls_carry_header(h, key="x-h", prefix="kept", after=T0 + 1).ok
    assert not pc.calls_carry_header(h, key="x-h", prefix="kept", after=T0 + 2).ok  # no call: vacuous
    assert not pc.sdk_channels_alike(h, secure=True).ok
    h.record(FAKE, "rpc_start", t=T0 + 1.2, method="GetInstance", call_id=2, metadata=[["user-agent", "grpc-python"]])
    assert not pc.calls_carry_header(h, key="user-agent", prefix="probe/1", after=T0 + 1).ok
    _created(h, T0 + 2, 3)  # rebuilt plain
    assert not pc.sdk_channels_alike(h).ok
    one = History()
    _created(one, T0, 1, ua)
    assert not pc.sdk_channels_alike(one).ok  # no recreation to compare


def test_sdk_channels_closed_by_and_after_completions():
    h = History()
    _created(h, T0, 1)
    _created(h, T0 + 1, 2)
    h.record(DRIVER, "rpc_done", t=T0 + 2, channel_id=1, method="CompleteActivityTask", code="OK")
    h.record(DRIVER, "channel_closed", t=T0 + 2.01, channel_id=1)
    h.record(DRIVER, "channel_closed", t=T0 + 1.5, channel_id=2)
    assert pc.sdk_channels_closed_by(h, after=None, by=T0 + 2.1, what="x").ok
    assert not pc.sdk_channels_closed_by(h, after=None, by=T0 + 2.0, what="x").ok
    assert pc.channel_closed_after_completions(h, channel_id=1, min_completions=1).ok
    assert not pc.channel_closed_after_completions(h, channel_id=1, min_completions=2).ok  # one short
    assert not pc.channel_closed_after_completions(h, channel_id=2, min_completions=1).ok  # nothing drained
    early = History()
    _created(early, T0, 1)
    early.record(DRIVER, "channel_closed", t=T0 + 1, channel_id=1)
    early.record(DRIVER, "rpc_done", t=T0 + 2, channel_id=1, method="CompleteActivityTask", code="CANCELLED")
    assert not pc.channel_closed_after_completions(early, channel_id=1, min_completions=1).ok
    assert not pc.sdk_channels_closed_by(History(), after=None, by=T0, what="x").ok  # setup: no channel


def test_work_state_and_completed_after_stop():
    h = History()
    h.record(DRIVER, "activity_started", t=T0, input="A")
    h.record(DRIVER, "activity_finished", t=T0 + 1, input="A")
    h.record(DRIVER, "activity_started", t=T0 + 1.01, input="B")
    assert pc.work_state_at(h, inp="A", t=T0 + 0.5, state="running").ok
    assert pc.work_state_at(h, inp="B", t=T0 + 0.5, state="queued").ok
    assert not pc.work_state_at(h, inp="B", t=T0 + 1.5, state="queued").ok
    h.record(FAKE, "work_item_completed", t=T0 + 1.0, completion_token="a", duplicate=False)
    assert not pc.completed_after_stop(h, tokens=["a", "b"], stop_t=T0 + 0.5).ok  # b never completed
    h.record(FAKE, "work_item_completed", t=T0 + 2.0, completion_token="b", duplicate=False)
    assert pc.completed_after_stop(h, tokens=["a", "b"], stop_t=T0 + 0.5).ok
    h.record(FAKE, "work_item_completed", t=T0 + 2.1, completion_token="b", duplicate=True)
    assert not pc.completed_after_stop(h, tokens=["a", "b"], stop_t=T0 + 0.5).ok
