"""harness/checks/conn.py on synthetic histories: each checker passes a conforming history and
fails a breaking one."""

import pytest

from harness.checks import conn as cc
from harness.checks.windows import WorkerOptions
from harness.history import DRIVER, FAKE, SCENARIO, History

T0 = 1000.0
OPTS = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=2.0,
                     channel_recreate_failure_threshold=2, reconnect_backoff_base_seconds=0.1,
                     reconnect_backoff_cap_seconds=1.0)


def test_recreate_bound_derivation():
    # T + (N-1)*hello + min(cap, 0.2) + min(cap, 0.4)
    assert cc.recreate_bound(OPTS) == pytest.approx(2.0 + 1.0 + 0.2 + 0.4)
    one = WorkerOptions(**{**OPTS.as_dict(), "channel_recreate_failure_threshold": 1})
    assert cc.recreate_bound(one) == pytest.approx(2.2)


@pytest.mark.parametrize("peer, delay, ok", [("ipv4:127.0.0.1:2", 3.0, True), ("ipv4:127.0.0.1:1", 3.0, False),
                                             ("ipv4:127.0.0.1:2", 5.0, False)])
def test_hello_from_new_connection(peer, delay, ok):
    h = History()
    h.record(FAKE, "rpc_start", t=T0 + delay, method="Hello", peer=peer)
    v = cc.hello_from_new_connection_within(h, old_peer="ipv4:127.0.0.1:1", since=T0, after=T0 + 0.1, within=3.85)
    assert v.ok is ok


@pytest.mark.parametrize("codes, ok", [(["DEADLINE_EXCEEDED"], True), ([], False),
                                       (["DEADLINE_EXCEEDED", "UNAVAILABLE"], False)])
def test_hellos_failed(codes, ok):
    h = History()
    for i, code in enumerate(codes):
        h.record(DRIVER, "rpc_done", t=T0 + i, method="Hello", code=code)
    assert cc.hellos_failed_on_dead_connection(h, after=T0 - 1, before=None, expected=1).ok is ok


@pytest.mark.parametrize("completions, redelivered, ok", [
    ([False], False, True), ([], False, False), ([False, True], False, False), ([False, True], True, True),
    ([False, False], True, False)])
def test_completion_delivered_once(completions, redelivered, ok):
    h = History()
    if redelivered:
        h.record(FAKE, "work_item_redelivered", t=T0, completion_token="a-1")
    for i, dup in enumerate(completions):
        h.record(FAKE, "work_item_completed", t=T0 + 1 + i, completion_token="a-1", duplicate=dup)
    assert cc.completion_delivered_once(h, token="a-1").ok is ok


@pytest.mark.parametrize("closed_at, ok", [(3.1, True), (2.5, False), (None, False)])
def test_channel_closed_after_work(closed_at, ok):
    h = History()
    h.record(DRIVER, "activity_finished", t=T0 + 3.0, instance_id="i")
    h.record(DRIVER, "rpc_done", t=T0 + 3.05, method="CompleteActivityTask", channel_id=1, code="OK")
    if closed_at is not None:
        h.record(DRIVER, "channel_closed", t=T0 + closed_at, channel_id=1)
    assert cc.channel_closed_after_work(h, channel_id=1, instance_id="i").ok is ok


@pytest.mark.parametrize("done_at, ok", [(3.01, True), (6.01, False)])
def test_inflight_run_completion(done_at, ok):
    h = History()
    h.record(DRIVER, "activity_started", t=T0, instance_id="i")
    h.record(DRIVER, "activity_started", t=T0 + 3.0 - 1e-3, instance_id="i")  # the redelivered run
    h.record(DRIVER, "activity_finished", t=T0 + 3.0, instance_id="i")
    h.record(DRIVER, "activity_finished", t=T0 + 6.0, instance_id="i")  # the redelivered run
    h.record(FAKE, "work_item_completed", t=T0 + done_at, completion_token="a-1", duplicate=False)
    assert cc.inflight_run_completion_delivered(h, token="a-1", instance_id="i").ok is ok


@pytest.mark.parametrize("completions, ok, says", [
    ([], False, "was ever accepted"),  # no completion seen at all: the result was lost
    ([(6.01, False)], False, "never arrived"),  # dropped; the redelivered run's result taken
    ([(6.01, False), (6.5, True)], False, "as a duplicate"),  # late but not never
    ([(3.01, False), (6.01, True)], True, "before the redelivered run ended"),  # own first, redelivery's dup
    ([(2.5, False)], False, "BEFORE the in-flight run ended"),
])
def test_inflight_run_completion_fails_without_its_own(completions, ok, says):
    h = History()
    h.record(DRIVER, "activity_started", t=T0, instance_id="i")
    h.record(DRIVER, "activity_finished", t=T0 + 3.0, instance_id="i")
    h.record(FAKE, "work_item_redelivered", t=T0 + 1.0, completion_token="a-1")
    h.record(DRIVER, "activity_started", t=T0 + 1.1, instance_id="i")
    h.record(DRIVER, "activity_finished", t=T0 + 6.0, instance_id="i")
    for at, dup in completions:
        h.record(FAKE, "work_item_completed", t=T0 + at, completion_token="a-1", duplicate=dup)
    v = cc.inflight_run_completion_delivered(h, token="a-1", instance_id="i")
    assert v.ok is ok and says in v.summary, v.summary


def test_inflight_run_completion_single_run():
    h = History()
    v = cc.inflight_run_completion_delivered(h, token="a-1", instance_id="i")
    assert not v.ok and "never started" in v.summary
    h.record(DRIVER, "activity_started", t=T0, instance_id="i")
    h.record(DRIVER, "activity_finished", t=T0 + 3.0, instance_id="i")
    assert not cc.inflight_run_completion_delivered(h, token="a-1", instance_id="i").ok  # no completion
    h.record(FAKE, "work_item_completed", t=T0 + 9.0, completion_token="a-1", duplicate=False)
    assert cc.inflight_run_completion_delivered(h, token="a-1", instance_id="i").ok  # late, never redelivered


def test_channel_closed_after_work_needs_the_completion():
    h = History()
    h.record(DRIVER, "activity_finished", t=T0 + 3.0, instance_id="i")
    h.record(DRIVER, "channel_closed", t=T0 + 3.1, channel_id=1)
    v = cc.channel_closed_after_work(h, channel_id=1, instance_id="i")
    assert not v.ok and "no completion RPC ended on it" in v.summary


def test_activity_in_flight_control():
    h = History()
    h.record(DRIVER, "activity_started", t=T0, instance_id="i")
    h.record(DRIVER, "activity_finished", t=T0 + 2, instance_id="i")
    assert cc.activity_in_flight_at(h, instance_id="i", t=T0 + 1).ok
    assert not cc.activity_in_flight_at(h, instance_id="i", t=T0 + 3).ok


@pytest.mark.parametrize("closes, ok", [(True, True), (False, False)])
def test_max_open_sdk_channels(closes, ok):
    h = History()
    samples = []
    for cid in range(1, 4):
        h.record(DRIVER, "channel_created", t=T0 + cid, channel_id=cid, owner="sdk")
        if closes and cid > 1:
            h.record(DRIVER, "channel_closed", t=T0 + cid - 0.01, channel_id=cid - 1)
        samples.append(h.record(SCENARIO, "tcp_connections", t=T0 + cid + 0.5, count=1).t)
    assert cc.max_open_sdk_channels(h, at_most=1, samples=samples).ok is ok


def test_server_fault_fired_control():
    h = History()
    assert not cc.server_fault_fired(h, method="CompleteActivityTask").ok
    h.record(FAKE, "server_fault", t=T0, method="CompleteActivityTask")
    assert cc.server_fault_fired(h, method="CompleteActivityTask").ok
