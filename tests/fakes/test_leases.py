"""The fake's lease modes (fakes/engine.py) with plain grpc clients: what happens to the unfinished
work of a GetWorkItems stream that ends -- redelivered at once, after its lease expires, or never --
and that every requeue, orphaning, expiry and redelivery is in the history."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import grpc
import pytest

from fakes import pb
from fakes.engine import AT_ONCE, EXPIRY, NEVER, check_lease_mode
from fakes.sidecar import FakeSidecar
from harness.history import FAKE, History
from tests.fakes.test_sidecar import unary, work_items

PING = 0.05  # the fake's ping cadence here: a stream with no work still yields, so reads never block long
LEASE = 0.6


@pytest.fixture
def history() -> History:
    return History("test_leases")


@pytest.fixture
def fake(history: History) -> Iterator[FakeSidecar]:
    f = FakeSidecar(history, health_ping_interval=PING)
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


def next_work(stream: grpc.Call, timeout: float) -> pb.WorkItem | None:
    """The next non-ping message of ``stream`` within ``timeout`` s, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = next(stream)
        if not msg.HasField("healthPing"):
            return msg
    return None


def complete(ch: grpc.Channel, item: pb.WorkItem) -> None:
    req = item.activityRequest
    unary(ch, "CompleteActivityTask")(pb.ActivityResponse(
        instanceId=req.orchestrationInstance.instanceId, taskId=req.taskId, result=pb.sv('"ok"'),
        completionToken=item.completionToken), timeout=2)


def lose_stream(fake: FakeSidecar, history: History, channel: grpc.Channel) -> tuple[str, int, float]:
    """Queue one activity, receive it on a stream, cancel that stream: (token, its call id, delivery time)."""
    token = fake.schedule_activity("work", '"x"')
    s1 = work_items(channel)
    item = next_work(s1, 2)
    assert item is not None and item.completionToken == token
    sent = history.first(source=FAKE, kind="message_sent", completion_token=token)
    c1 = sent.get("call_id")
    s1.cancel()
    assert history.wait_for(2, source=FAKE, kind="rpc_end", call_id=c1) is not None
    return token, c1, sent.t


def test_lease_mode_is_validated() -> None:
    for mode, lease in ((AT_ONCE, None), (NEVER, None), (EXPIRY, 1.0)):
        check_lease_mode(mode, lease)
    for mode, lease in (("soon", None), (EXPIRY, None), (EXPIRY, 0.0), (AT_ONCE, 1.0), (NEVER, 2.0)):
        with pytest.raises(ValueError):
            check_lease_mode(mode, lease)
    with pytest.raises(ValueError):
        FakeSidecar(History("x"), lease_mode="later")


def test_mode_recorded_on_start_and_on_change(fake: FakeSidecar, history: History) -> None:
    started = history.first(source=FAKE, kind="server_started")
    assert started.get("lease_mode") == AT_ONCE and started.get("lease_s") is None
    fake.set_lease_mode(EXPIRY, 2.5)
    ev = history.last(source=FAKE, kind="lease_mode")
    assert ev.get("lease_mode") == EXPIRY and ev.get("lease_s") == 2.5
    with pytest.raises(ValueError):
        fake.set_lease_mode(EXPIRY)
    assert fake.engine.lease_mode == EXPIRY  # a refused change changes nothing


def test_at_once_redelivers_when_the_stream_ends(fake: FakeSidecar, history: History,
                                                  channel: grpc.Channel) -> None:
    token, c1, _ = lose_stream(fake, history, channel)
    req = history.first(source=FAKE, kind="work_item_requeued", completion_token=token)
    assert req.get("from_call_id") == c1 and req.get("lease_mode") == AT_ONCE
    s2 = work_items(channel)
    again = next_work(s2, 2)
    assert again is not None and again.completionToken == token
    red = history.wait_for(1, source=FAKE, kind="work_item_redelivered", completion_token=token)
    assert red.get("from_call_id") == c1 and red.get("cause") == "stream ended" and red.get("delivery") == 2
    assert red.t - req.t < 1.0
    s2.cancel()


def test_expiry_redelivers_after_the_lease_not_at_the_stream_end(fake: FakeSidecar, history: History,
                                                                  channel: grpc.Channel) -> None:
    fake.set_lease_mode(EXPIRY, LEASE)
    token, c1, delivered_t = lose_stream(fake, history, channel)
    orphan = history.first(source=FAKE, kind="work_item_orphaned", completion_token=token)
    assert orphan.get("call_id") == c1 and orphan.get("lease_mode") == EXPIRY
    assert 0 < orphan.get("expires_in_s") <= LEASE
    assert history.first(source=FAKE, kind="work_item_requeued", completion_token=token) is None
    s2 = work_items(channel)
    again = next_work(s2, LEASE + 2)
    assert again is not None and again.completionToken == token
    expired = history.first(source=FAKE, kind="work_item_lease_expired", completion_token=token)
    red = history.first(source=FAKE, kind="work_item_redelivered", completion_token=token)
    assert expired.get("stream_ended") is True and expired.get("call_id") == c1
    assert expired.t - delivered_t >= LEASE - 0.01  # not before the lease ran out
    assert expired.t - delivered_t < LEASE + 0.5
    assert red.get("cause") == "lease expired" and red.t >= expired.t
    # The redelivered run's completion is accepted; a late one from the first run is a duplicate.
    complete(channel, again)
    complete(channel, again)
    assert [c["duplicate"] for c in fake.completions(token)] == [False, True]
    s2.cancel()


def test_expiry_also_ends_a_lease_on_a_live_stream(fake: FakeSidecar, history: History,
                                                    channel: grpc.Channel) -> None:
    fake.set_lease_mode(EXPIRY, LEASE)
    token = fake.schedule_activity("work", None)
    s1 = work_items(channel)
    first = next_work(s1, 2)
    again = next_work(s1, LEASE + 2)  # never completed: the server gives it out again, here the same stream
    assert first.completionToken == again.completionToken == token
    red = history.first(source=FAKE, kind="work_item_redelivered", completion_token=token)
    assert red.get("from_call_id") == red.get("to_call_id")
    assert history.first(source=FAKE, kind="work_item_lease_expired").get("stream_ended") is False
    s1.cancel()


def test_expiry_completed_in_time_never_expires(fake: FakeSidecar, history: History,
                                                channel: grpc.Channel) -> None:
    fake.set_lease_mode(EXPIRY, LEASE)
    token, _, _ = lose_stream(fake, history, channel)
    # The orphaned run's own completion arrives (over the same channel, another call) before expiry.
    unary(channel, "CompleteActivityTask")(pb.ActivityResponse(completionToken=token, result=pb.sv('"r"')),
                                           timeout=2)
    time.sleep(LEASE + 0.3)
    assert history.first(source=FAKE, kind="work_item_lease_expired") is None
    assert [c["duplicate"] for c in fake.completions(token)] == [False]
    assert not [t for t in threading.enumerate() if t.name.startswith("fake-lease-")]


def test_never_keeps_the_item_for_its_own_completion(fake: FakeSidecar, history: History,
                                                     channel: grpc.Channel) -> None:
    fake.set_lease_mode(NEVER)
    token, c1, _ = lose_stream(fake, history, channel)
    orphan = history.first(source=FAKE, kind="work_item_orphaned", completion_token=token)
    assert orphan.get("lease_mode") == NEVER and orphan.get("expires_in_s") is None
    s2 = work_items(channel)
    assert next_work(s2, 0.8) is None  # only pings: nothing is redelivered
    assert history.first(source=FAKE, kind="work_item_redelivered") is None
    unary(channel, "CompleteActivityTask")(pb.ActivityResponse(completionToken=token, result=pb.sv('"r"')),
                                           timeout=2)
    assert [c["duplicate"] for c in fake.completions(token)] == [False]
    # An Abandon still gives the item back at once, whatever the lease mode.
    t2 = fake.schedule_activity("work", None)
    it2 = next_work(s2, 2)
    unary(channel, "AbandonTaskActivityWorkItem")(pb.AbandonActivityTaskRequest(completionToken=t2), timeout=2)
    assert next_work(s2, 2).completionToken == t2
    assert history.first(source=FAKE, kind="work_item_redelivered", completion_token=t2).get("cause") == "abandoned"
    assert it2.completionToken == t2
    s2.cancel()


def test_stop_cancels_pending_expiries(history: History) -> None:
    fake = FakeSidecar(history, health_ping_interval=PING, lease_mode=EXPIRY, lease_s=30.0)
    fake.start()
    ch = grpc.insecure_channel(fake.address)
    try:
        fake.schedule_activity("work", None)
        s1 = work_items(ch)
        assert next_work(s1, 2) is not None
        assert [t for t in threading.enumerate() if t.name.startswith("fake-lease-")]
    finally:
        fake.stop()
        ch.close()
    time.sleep(0.1)
    assert not [t for t in threading.enumerate() if t.name.startswith("fake-lease-") and t.is_alive()]
    assert history.first(source=FAKE, kind="work_item_lease_expired") is None
