"""Client/ownership checkers (harness/checks/client.py) on synthetic histories: each is shown to
pass on a conforming history AND to fail on a breaking one."""

from harness.checks import client as cc
from harness.history import DRIVER, FAKE, History

T0 = 1000.0


def created(h, t, cid, owner="sdk"):
    h.record(DRIVER, "channel_created", t=t, channel_id=cid, owner=owner)


def call_done(h, t, outcome="error", code="UNAVAILABLE", op="get_state", client="c", elapsed=0.01):
    h.record(DRIVER, "client_call_done", t=t, client_id=client, op=op, outcome=outcome,
             grpc_code=code if outcome == "error" else None, elapsed=elapsed)


def test_recreations_exactly():
    h = History()
    created(h, T0, 1)
    created(h, T0 + 1, 2)
    assert cc.recreations_exactly(h, after=T0 + 0.5, before=None, count=1, why="x").ok
    created(h, T0 + 1.01, 3)
    v = cc.recreations_exactly(h, after=T0 + 0.5, before=None, count=1, why="x")
    assert not v.ok and "2 SDK-owned" in v.summary
    assert not cc.recreations_exactly(h, after=T0 + 2, before=None, count=1, why="x").ok  # none


def test_recreations_spaced():
    h = History()
    created(h, T0, 1)
    created(h, T0 + 2.1, 2)
    assert cc.recreations_spaced(h, after=T0 - 1, interval=2.0, tolerance=0.25).ok
    created(h, T0 + 2.5, 3)
    v = cc.recreations_spaced(h, after=T0 - 1, interval=2.0, tolerance=0.25)
    assert not v.ok and v.measured["min_gap_s"] < 0.5
    assert cc.recreations_spaced(h, after=T0 + 3, interval=2.0, tolerance=0.25).ok  # nothing to space


def test_calls_failed_with_and_server_saw_calls():
    h = History()
    for i in range(2):
        h.record(FAKE, "rpc_start", t=T0 + i * 0.1, method="GetInstance", call_id=i, peer="p")
        call_done(h, T0 + i * 0.1 + 0.01)
    assert cc.calls_failed_with(h, client_id="c", op="get_state", code="UNAVAILABLE", count=2, after=T0 - 1).ok
    assert cc.server_saw_calls(h, method="GetInstance", count=2, after=T0 - 1).ok
    h.record(FAKE, "rpc_start", t=T0 + 0.3, method="GetInstance", call_id=9, peer="p")  # hidden retry
    call_done(h, T0 + 0.31, outcome="ok")
    assert not cc.server_saw_calls(h, method="GetInstance", count=2, after=T0 - 1).ok
    v = cc.calls_failed_with(h, client_id="c", op="get_state", code="UNAVAILABLE", count=2, after=T0 - 1)
    assert not v.ok and "1 did not end" in v.summary


def test_later_calls_work_on_channel():
    h = History()
    call_done(h, T0 + 1, outcome="ok")
    h.record(DRIVER, "rpc_done", t=T0 + 1, role="client:c", channel_id=2, method="GetInstance", code="OK")
    assert cc.later_calls_work(h, client_id="c", op="get_state", after=T0, count=1, on_channel=2).ok
    assert not cc.later_calls_work(h, client_id="c", op="get_state", after=T0, count=1, on_channel=1).ok
    assert not cc.later_calls_work(h, client_id="c", op="get_state", after=T0, count=2).ok
    call_done(h, T0 + 2)
    assert not cc.later_calls_work(h, client_id="c", op="get_state", after=T0, count=1).ok


def test_long_poll_completed():
    h = History()
    h.record(FAKE, "rpc_end", t=T0 + 2, method="WaitForInstanceCompletion", call_id=1, code="OK")
    call_done(h, T0 + 2, outcome="ok", op="wait_completion", elapsed=2.0)
    assert cc.long_poll_completed(h, client_id="c", started_after=T0, timeout=6).ok
    h2 = History()
    h2.record(FAKE, "rpc_end", t=T0 + 0.5, method="WaitForInstanceCompletion", call_id=1, code="CANCELLED")
    call_done(h2, T0 + 0.5, outcome="error", code="CANCELLED", op="wait_completion", elapsed=0.5)
    assert not cc.long_poll_completed(h2, client_id="c", started_after=T0, timeout=6).ok
    assert not cc.long_poll_completed(History(), client_id="c", started_after=T0, timeout=6).ok


def test_new_peer_after():
    h = History()
    h.record(FAKE, "rpc_start", t=T0, method="GetInstance", call_id=1, peer="ipv4:127.0.0.1:1")
    h.record(FAKE, "rpc_start", t=T0 + 2, method="GetInstance", call_id=2, peer="ipv4:127.0.0.1:2")
    assert cc.new_peer_after(h, before_t=T0 + 1, after_t=T0 + 1.5).ok
    h.record(FAKE, "rpc_start", t=T0 + 1.6, method="GetInstance", call_id=3, peer="ipv4:127.0.0.1:1")
    v = cc.new_peer_after(h, before_t=T0 + 1, after_t=T0 + 1.5)
    assert not v.ok and v.measured["old_peer"] == v.measured["new_peer"]
    assert not cc.new_peer_after(h, before_t=T0 - 1, after_t=T0 + 1.5).ok  # nothing before


def test_channel_not_closed_and_rpcs_only_on():
    h = History()
    created(h, T0, 7, owner="caller")
    h.record(DRIVER, "rpc_done", t=T0 + 1, role="worker", channel_id=7, method="Hello", code="UNAVAILABLE")
    assert cc.channel_not_closed(h, channel_id=7).ok
    assert cc.rpcs_only_on(h, role="worker", channel_id=7, after=T0).ok
    assert not cc.channel_not_closed(h, channel_id=None).ok
    h.record(DRIVER, "channel_closed", t=T0 + 2, channel_id=7)
    h.record(DRIVER, "rpc_done", t=T0 + 3, role="worker", channel_id=8, method="Hello", code="OK")
    assert not cc.channel_not_closed(h, channel_id=7).ok
    assert cc.channel_not_closed_before(h, channel_id=7, until=T0 + 1.5).ok
    assert not cc.rpcs_only_on(h, role="worker", channel_id=7, after=T0).ok


def test_counted_failures_seen():
    h = History()
    for i in range(2):
        h.record(DRIVER, "rpc_done", t=T0 + i, role="worker", method="Hello", code="UNAVAILABLE")
    assert cc.counted_failures_seen(h, role="worker", method="Hello", codes=("UNAVAILABLE",), at_least=2,
                                    after=T0 - 1).ok
    assert not cc.counted_failures_seen(h, role="worker", method="Hello", codes=("UNAVAILABLE",), at_least=3,
                                        after=T0 - 1).ok


def test_metadata_on_every_call():
    h = History()
    md = [["user-agent", "x"], ["x-auth", "token-1"]]
    for i in range(3):
        h.record(FAKE, "rpc_start", t=T0 + i, method="GetInstance", call_id=i, metadata=md)
    assert cc.metadata_on_every_call(h, key="x-auth", value="token-1", after=T0 - 1, min_calls=3).ok
    assert not cc.metadata_on_every_call(h, key="x-auth", value="token-1", after=T0 - 1, min_calls=4).ok
    h.record(FAKE, "rpc_start", t=T0 + 5, method="Hello", call_id=9, metadata=[["user-agent", "x"]])
    v = cc.metadata_on_every_call(h, key="x-auth", value="token-1", after=T0 - 1)
    assert not v.ok and "Hello" in v.summary


# -- attribution by owner (driver ``role``) ----------------------------------------------------------
def created_by(h, t, cid, role, owner="sdk"):
    h.record(DRIVER, "channel_created", t=t, channel_id=cid, owner=owner, role=role)


def test_recreations_are_attributed_to_their_client():
    h = History()
    created_by(h, T0, 1, "client:c")
    created_by(h, T0 + 1, 2, "client:ctl")  # the control client's recreation
    assert cc.no_sdk_channel_created(h, after=T0 + 0.5, role="client:c").ok
    assert not cc.no_sdk_channel_created(h, after=T0 + 0.5).ok  # without a role: every SDK channel
    assert cc.sdk_channel_created(h, after=T0 + 0.5, role="client:ctl").ok
    assert not cc.sdk_channel_created(h, after=T0 + 0.5, role="client:c").ok
    assert cc.recreations_exactly(h, after=T0 + 0.5, before=None, count=0, why="x", role="client:c").ok
    created_by(h, T0 + 2, 3, "client:c")
    v = cc.no_sdk_channel_created(h, after=T0 + 0.5, role="client:c")
    assert not v.ok and v.measured["channels_created"] == 1


def test_unattributed_channel_counts_against_no_recreation_never_for_a_recreation():
    h = History()
    created_by(h, T0 + 1, 2, None)
    v = cc.no_sdk_channel_created(h, after=T0, role="client:c")
    assert not v.ok and v.measured["unattributed"] == 1
    assert not cc.sdk_channel_created(h, after=T0, role="client:c").ok
    assert not cc.recreations_exactly(h, after=T0, before=None, count=0, why="x", role="client:c").ok
    created_by(h, T0 + 1.1, 3, "client:c")
    assert not cc.recreations_exactly(h, after=T0, before=None, count=1, why="x", role="client:c").ok
    assert not cc.recreations_spaced(h, after=T0, interval=2.0, tolerance=0.25, role="client:c").ok


def test_recreated_promptly():
    h = History()
    call_done(h, T0 + 1)  # the N-th failure returns
    created_by(h, T0 + 1.02, 2, "client:c")
    assert cc.recreated_promptly(h, client_id="c", after=T0, tolerance=0.03).ok
    late = History()
    call_done(late, T0 + 1)
    created_by(late, T0 + 1.6, 2, "client:c")  # "late, not never"
    v = cc.recreated_promptly(late, client_id="c", after=T0, tolerance=0.03)
    assert not v.ok and abs(v.measured["delay_s"] - 0.6) < 1e-9
    early = History()  # the background recreation may finish before the driver reports the call
    created_by(early, T0 + 0.999, 2, "client:c")
    call_done(early, T0 + 1)
    assert cc.recreated_promptly(early, client_id="c", after=T0, tolerance=0.03).ok
    before = History()  # a recreation before the N-th failure even began was caused by something earlier
    created_by(before, T0 + 0.5, 2, "client:c")
    call_done(before, T0 + 1, elapsed=0.01)
    v = cc.recreated_promptly(before, client_id="c", after=T0, tolerance=0.03)
    assert not v.ok and "not its doing" in v.summary
    other = History()  # another client's recreation does not count
    call_done(other, T0 + 1)
    created_by(other, T0 + 1.01, 2, "client:ctl")
    assert not cc.recreated_promptly(other, client_id="c", after=T0, tolerance=0.03).ok


def test_channels_closed_at_close():
    def history(close_retired_at):
        h = History()
        created_by(h, T0, 1, "client:c")
        created_by(h, T0 + 1, 2, "client:c")  # recreation: channel 1 retired
        h.record(DRIVER, "channel_closed", t=T0 + 2.0, channel_id=2, role="client:c")
        if close_retired_at is not None:
            h.record(DRIVER, "channel_closed", t=close_retired_at, channel_id=1, role="client:c")
        h.record(DRIVER, "client_closed", t=T0 + 2.001, client_id="c", elapsed=0.002)
        return h

    assert cc.channels_closed_at_close(history(T0 + 1.999), client_id="c", tolerance=0.03).ok
    assert not cc.channels_closed_at_close(history(T0 + 2.6), client_id="c", tolerance=0.03).ok  # late
    v = cc.channels_closed_at_close(history(None), client_id="c", tolerance=0.03)  # never
    assert not v.ok and v.measured["open"] == 1
    assert not cc.channels_closed_at_close(History(), client_id="c", tolerance=0.03).ok  # never closed
