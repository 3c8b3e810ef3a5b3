"""Checkers decide verdicts from a history; here they read synthetic histories.

Each checker is shown to pass on a conforming history AND to fail on a breaking one."""

import pytest

from harness.checks.client import long_polls_timed_out, no_sdk_channel_created, sdk_channel_created
from harness.checks.conn import client_saw_reset, rst_reached_client
from harness.checks.verdict import Verdict, require
from harness.checks.worker import (
    connect_attempt_within,
    exactly_once,
    hello_within,
    one_open_stream,
    reconnected_within,
    stream_abandoned_after_silence,
    work_completed,
)
from harness.history import DRIVER, FAKE, NETWORK, History

T0 = 1000.0


def stream(h, call_id, t, msgs=(), end=None, code="CANCELLED", ended_by="client", server_gen=1):
    h.record(FAKE, "rpc_start", t=t, method="GetWorkItems", call_id=call_id, peer="ipv4:127.0.0.1:1",
             server_gen=server_gen)
    for i, m in enumerate(msgs):
        h.record(FAKE, "message_sent", t=m, call_id=call_id, item="healthPing", seq=i)
    if end is not None:
        h.record(FAKE, "rpc_end", t=end, method="GetWorkItems", call_id=call_id, code=code, ended_by=ended_by)


def silent_history(give_up_after):
    h = History()
    stream(h, 1, T0, msgs=[T0 + 0.5, T0 + 1.0])
    h.record(NETWORK, "fault_start", t=T0 + 1.2, fault="blackhole")
    h.record(DRIVER, "rpc_done", t=T0 + 1.0 + give_up_after, method="GetWorkItems", code="CANCELLED")
    return h


@pytest.mark.parametrize("give_up_after, ok", [(2.0, True), (2.2, True), (1.0, False), (3.0, False)])
def test_stream_abandoned_after_silence_window(give_up_after, ok):
    h = silent_history(give_up_after)
    v = stream_abandoned_after_silence(h, call_id=1, fault_t=T0 + 1.2, silent_timeout=2.0, tolerance=0.25)
    assert v.ok is ok, v.explain(h)


def test_stream_never_abandoned_fails_with_the_expected_time():
    h = History()
    stream(h, 1, T0, msgs=[T0 + 0.5])
    v = stream_abandoned_after_silence(h, call_id=1, fault_t=T0 + 1, silent_timeout=2.0, tolerance=0.25)
    assert not v.ok and "never abandoned" in v.summary


def test_hello_within_and_reconnected_within():
    h = History()
    h.record(FAKE, "rpc_start", t=T0 + 0.3, method="Hello")
    stream(h, 2, T0 + 0.31)
    assert hello_within(h, after=T0, within=0.45).ok
    assert not hello_within(h, after=T0, within=0.2).ok
    assert reconnected_within(h, after=T0, within=0.45).ok
    assert not reconnected_within(h, after=T0 + 1, within=5).ok  # nothing after


def test_connect_attempt_is_the_hello_or_a_stream_opened_without_one():
    with_hello = History()
    with_hello.record(FAKE, "rpc_start", t=T0 + 0.3, method="Hello")
    stream(with_hello, 2, T0 + 0.31)
    v = connect_attempt_within(with_hello, after=T0, within=0.45)
    assert v.ok and v.measured["method"] == "Hello" and v.measured["reconnect_delay_s"] == pytest.approx(0.3)
    assert not connect_attempt_within(with_hello, after=T0, within=0.2).ok

    no_hello = History()  # a build that opens GetWorkItems without a Hello (Java 1.5.0): timed on its stream
    stream(no_hello, 1, T0 + 5.0)
    late = connect_attempt_within(no_hello, after=T0, within=2.18)
    assert not late.ok and "GetWorkItems, without a Hello" in late.summary
    assert connect_attempt_within(no_hello, after=T0, within=5.5).ok
    assert not connect_attempt_within(History(), after=T0, within=60).ok  # nothing at all


def test_one_open_stream_catches_a_stream_left_open_when_another_opened():
    h = History()
    stream(h, 1, T0, end=T0 + 1.0)  # ended before the second: fine
    stream(h, 2, T0 + 1.5)
    assert one_open_stream(h, at=T0 + 2.0).ok
    stream(h, 3, T0 + 3.0)  # opened while stream 2 is still open: 2 is abandoned
    v = one_open_stream(h, at=T0 + 3.5)
    assert not v.ok and v.measured["open_streams"] == 2 and "never ended" in v.summary


def test_work_completed_and_exactly_once():
    h = History()
    h.record(FAKE, "work_item_completed", t=T0 + 0.1, completion_token="a-1", duplicate=False)
    assert work_completed(h, token="a-1", after=T0, within=0.25).ok
    assert not work_completed(h, token="a-2", after=T0, within=0.25).ok
    assert exactly_once(h, token="a-1").ok
    h.record(FAKE, "work_item_completed", t=T0 + 0.2, completion_token="a-1", duplicate=True)
    assert not exactly_once(h, token="a-1").ok


def test_rst_and_reset_evidence():
    h = History()
    h.record(NETWORK, "tcp_rst_seen", t=T0, src_port=9000, dst_port=5555)
    h.record(DRIVER, "rpc_done", t=T0 + 0.01, method="GetWorkItems", code="UNAVAILABLE",
             details="recvmsg:Connection reset by peer")
    assert rst_reached_client(h, client_port=5555).ok
    assert not rst_reached_client(h, client_port=5556).ok
    assert client_saw_reset(h, after=T0 - 1).ok
    clean = History()
    clean.record(DRIVER, "rpc_done", t=T0, method="GetWorkItems", code="UNAVAILABLE", details="Socket closed")
    assert not client_saw_reset(clean, after=T0 - 1).ok


def test_channel_creation_checks_only_count_sdk_owned_channels():
    h = History()
    h.record(DRIVER, "channel_created", t=T0 + 1, owner="caller", channel_id=1)
    assert no_sdk_channel_created(h, after=T0, before=T0 + 2).ok
    h.record(DRIVER, "channel_created", t=T0 + 1.5, owner="sdk", channel_id=2)
    assert not no_sdk_channel_created(h, after=T0, before=T0 + 2).ok
    assert sdk_channel_created(h, after=T0).ok
    assert not sdk_channel_created(h, after=T0 + 1.6).ok


def test_long_polls_timed_out():
    h = History()
    for i in range(3):
        h.record(FAKE, "rpc_start", t=T0 + i, method="WaitForInstanceCompletion", deadline=0.49)
        h.record(DRIVER, "client_call_done", t=T0 + i + 0.5, client_id="c", op="wait_completion",
                 exc_type="TimeoutError", elapsed=0.51)
    assert long_polls_timed_out(h, client_id="c", timeout=0.5, count=3, tolerance=0.25).ok
    assert not long_polls_timed_out(h, client_id="c", timeout=0.5, count=4, tolerance=0.25).ok
    h.record(DRIVER, "client_call_done", t=T0 + 9, client_id="c", op="wait_completion",
             exc_type="RpcError", elapsed=0.5)
    h.record(FAKE, "rpc_start", t=T0 + 8.5, method="WaitForInstanceCompletion", deadline=0.5)
    assert not long_polls_timed_out(h, client_id="c", timeout=0.5, count=4, tolerance=0.25).ok


def test_require_explains_every_failed_verdict():
    h = History()
    ok = Verdict("a", True, "fine")
    bad = Verdict("b", False, "broken", {"x": 1.23456})
    with pytest.raises(AssertionError) as exc:
        require(ok, bad, history=h)
    assert "[FAIL] b: broken" in str(exc.value) and "x=1.235" in str(exc.value)


# -- field-report checks (harness/checks/field.py) ---------------------------------------------------
def test_stream_lasted_at_least_needs_the_run_to_last():
    from harness.checks.field import stream_lasted_at_least
    from harness.history import SCENARIO

    ended = History()
    stream(ended, 1, T0, end=T0 + 1.0)
    assert not stream_lasted_at_least(ended, min_s=2.0).ok
    assert stream_lasted_at_least(ended, min_s=0.5).ok
    short = History()
    stream(short, 1, T0)
    short.record(SCENARIO, "scenario_end", t=T0 + 1.0)
    v = stream_lasted_at_least(short, min_s=2.0)
    assert not v.ok and v.control and "too short" in v.summary  # open, but nobody watched 2 s
    long = History()
    stream(long, 1, T0)
    long.record(SCENARIO, "scenario_end", t=T0 + 3.0)
    assert stream_lasted_at_least(long, min_s=2.0).ok
    assert not stream_lasted_at_least(History(), min_s=2.0).ok


def test_activity_runs_at_most_fails_when_an_activity_never_ran():
    from harness.checks.field import activity_runs_at_most

    h = History()
    h.record(DRIVER, "activity_started", t=T0, instance_id="a")
    h.record(DRIVER, "activity_started", t=T0 + 1, instance_id="b")
    h.record(DRIVER, "activity_started", t=T0 + 2, instance_id="b")
    assert activity_runs_at_most(h, instance_ids=["a"], at_most=1).ok
    assert not activity_runs_at_most(h, instance_ids=["a", "b"], at_most=1).ok
    assert activity_runs_at_most(h, instance_ids=["a", "b"], at_most=2).ok
    never = activity_runs_at_most(h, instance_ids=["a", "c"], at_most=1)
    assert not never.ok and "never ran" in never.summary
    assert not activity_runs_at_most(h, instance_ids=[], at_most=1).ok


def test_a_failed_control_makes_require_inconclusive_not_a_failure():
    import pytest

    from harness.checks.verdict import Inconclusive, control
    with pytest.raises(Inconclusive) as ei:
        require(Verdict("the requirement", False, "not seen"), control(Verdict("the fault took effect", False, "no")))
    assert "[INCONCLUSIVE] the fault took effect" in str(ei.value) and "[FAIL] the requirement" in str(ei.value)
    with pytest.raises(AssertionError):
        require(Verdict("the requirement", False, "not seen"), control(Verdict("the fault took effect", True, "ok")))
