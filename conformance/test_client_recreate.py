"""Client channel recreation (promises.md §7 CLIENT-1/3/4/5, §6 RETIRE-1, §5 RECREATE-4).

A client that owns its channel replaces it after ``channel_recreate_failure_threshold``
consecutive transport failures (UNAVAILABLE here, scripted by the fake on ordinary
``GetInstance`` calls), at most once per ``min_recreate_interval_seconds``, one recreation at a
time; the failing call still fails, later calls use the new channel, the old channel is retired
after a grace (calls in flight on it finish), and the new channel is a new TCP connection.

Every test runs for the sync AND the async client. On durabletask 1.12.0 the async client never
counts a failure (finding F-1), so every async case that needs a recreation fails there.

Procedures (threshold N, all calls are ``get_state`` of a scheduled, never-running instance):
- threshold: N-1 failures, one success, N-1 failures: no recreation; one more failure (the N-th
  consecutive one): exactly one recreation, created after that failure.
- interval (N=2, interval I): burst 1 (2 failures) right after the client is created: a
  recreation (the first one is not blocked by the interval, N's rule); burst 2 at once: none;
  after I has passed since the first recreation, burst 3: a recreation (control).
- new connection: one success, N failures, recreation, one success: the fake sees the last call
  before and the first call after the recreation from two different peers (client ports).
- single flight (N=2, I long): K concurrent failing calls produce exactly one recreation.
- surface & later calls: N failures each surface UNAVAILABLE, the fake saw each exactly once
  (no hidden retry), the next calls succeed (sync: on the new channel).
- long poll: a wait_completion (timeout LONG) is in flight on the old channel while N failures
  trigger a recreation; the instance is then terminated; the long poll returns the final state
  before its timeout, and the old channel is not closed meanwhile.
"""

from __future__ import annotations

import threading
import time

import grpc
import pytest

from fakes.faults import Abort
from harness.checks.client import (
    calls_failed_with,
    channel_not_closed_before,
    later_calls_work,
    long_poll_completed,
    new_peer_after,
    no_sdk_channel_created,
    recreations_exactly,
    recreations_spaced,
    sdk_channel_created,
    server_saw_calls,
)
from harness.checks.verdict import require
from harness.checks.windows import BACKGROUND_ACTION_WAIT_S
from harness.history import DRIVER, FAKE
from harness.workload import not_applicable_if_unsupported

KINDS = pytest.mark.parametrize("kind", ["sync", pytest.param("async", marks=pytest.mark.needs("async_client"))])
UNAVAILABLE = Abort(grpc.StatusCode.UNAVAILABLE, "injected transport failure")
WAIT_RECREATE = BACKGROUND_ACTION_WAIT_S  # pacing only: see harness/checks/windows.py


def make_client(driver, fake, kind, *, threshold, interval, cid="c", metadata=None):
    with not_applicable_if_unsupported():
        driver.create_client(cid, kind=kind, address=fake.address, channel="sdk", metadata=metadata,
                             resiliency={"channel_recreate_failure_threshold": threshold,
                                         "min_recreate_interval_seconds": interval})
    scheduled = driver.call(cid, "schedule", name="never_runs", input=None)
    assert scheduled.get("outcome") == "ok", f"setup: schedule failed: {scheduled}"
    return scheduled["value"]


def fail(driver, fake, cid, iid, n, fault=UNAVAILABLE):
    with fake.fault("GetInstance", fault, count=n):
        for _ in range(n):
            driver.call(cid, "get_state", instance_id=iid)


def settle(history, after, tolerance):
    """Give a (wrongly) triggered background recreation the chance to show: wait the tolerance."""
    history.wait_for(tolerance, source=DRIVER, kind="channel_created", owner="sdk", after=after)


@KINDS
@pytest.mark.needs("client_resiliency_options")
@pytest.mark.requirement("CLI-RECREATE-001")
def test_recreate_after_exactly_threshold(kind, driver, fake, history, tolerance):
    n = 3
    iid = make_client(driver, fake, kind, threshold=n, interval=0.0)
    ready = time.monotonic()
    fail(driver, fake, "c", iid, n - 1)
    assert driver.call("c", "get_state", instance_id=iid)["outcome"] == "ok", "setup: success call failed"
    fail(driver, fake, "c", iid, n - 1)
    settle(history, ready, tolerance)
    before_nth = time.monotonic()
    fail(driver, fake, "c", iid, 1)
    history.wait_for(WAIT_RECREATE, source=DRIVER, kind="channel_created", owner="sdk", after=before_nth)
    require(
        no_sdk_channel_created(history, after=ready, before=before_nth,
                               why=f"{n - 1} failures, a success, {n - 1} failures with threshold {n}"),
        recreations_exactly(history, after=before_nth, before=None, count=1,
                            why=f"the {n}-th consecutive failure"),
        history=history,
    )


@KINDS
@pytest.mark.needs("client_resiliency_options")
@pytest.mark.requirement("CLI-RECREATE-002", "CLI-RECREATE-003")
def test_min_recreate_interval(kind, driver, fake, history, tolerance):
    interval = 2.0
    iid = make_client(driver, fake, kind, threshold=2, interval=interval)
    created = time.monotonic()
    fail(driver, fake, "c", iid, 2)
    first = history.wait_for(WAIT_RECREATE, source=DRIVER, kind="channel_created", owner="sdk", after=created)
    burst2 = time.monotonic()
    fail(driver, fake, "c", iid, 2)
    settle(history, burst2, tolerance)
    burst2_end = time.monotonic()
    # Burst 3 once the interval has passed since the first recreation (or since burst 1).
    time.sleep(max(0.0, (first.t if first else burst2) + interval + tolerance - time.monotonic()))
    burst3 = time.monotonic()
    fail(driver, fake, "c", iid, 2)
    history.wait_for(WAIT_RECREATE, source=DRIVER, kind="channel_created", owner="sdk", after=burst3)
    require(
        sdk_channel_created(history, after=created, before=burst2,
                            why="the first recreation is not blocked by the interval (N)"),
        no_sdk_channel_created(history, after=burst2, before=burst2_end,
                               why=f"a second burst within min_recreate_interval_seconds={interval}"),
        recreations_spaced(history, after=created, interval=interval, tolerance=tolerance),
        sdk_channel_created(history, after=burst3, why="control: a burst after the interval has passed"),
        history=history,
    )


@KINDS
@pytest.mark.needs("client_resiliency_options")
@pytest.mark.requirement("CLI-RECREATE-004")
def test_recreation_opens_a_new_connection(kind, driver, fake, history, tolerance):
    iid = make_client(driver, fake, kind, threshold=2, interval=0.0)
    assert driver.call("c", "get_state", instance_id=iid)["outcome"] == "ok", "setup: first call failed"
    before = time.monotonic()
    fail(driver, fake, "c", iid, 2)
    rec = history.wait_for(WAIT_RECREATE, source=DRIVER, kind="channel_created", owner="sdk", after=before)
    after = time.monotonic()
    driver.call("c", "get_state", instance_id=iid)
    verdicts = [sdk_channel_created(history, after=before, why="two UNAVAILABLE with threshold 2")]
    if rec is not None:
        verdicts.append(new_peer_after(history, before_t=before, after_t=after))
    require(*verdicts, history=history)


@KINDS
@pytest.mark.needs("client_resiliency_options")
@pytest.mark.requirement("CLI-RECREATE-005")
def test_single_flight(kind, driver, fake, history, tolerance):
    k = 8
    iid = make_client(driver, fake, kind, threshold=2, interval=30.0)
    start = time.monotonic()
    with fake.fault("GetInstance", UNAVAILABLE, count=k):
        threads = [threading.Thread(target=driver.call, args=("c", "get_state"), kwargs={"instance_id": iid})
                   for _ in range(k)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    history.wait_for(WAIT_RECREATE, source=DRIVER, kind="channel_created", owner="sdk", after=start)
    settle(history, time.monotonic(), tolerance)
    require(
        server_saw_calls(history, method="GetInstance", count=k, after=start),
        recreations_exactly(history, after=start, before=None, count=1, why=f"{k} concurrent failing calls"),
        history=history,
    )


@KINDS
@pytest.mark.needs("client_resiliency_options", "rpc_observer")
@pytest.mark.requirement("CLI-RECREATE-006")
def test_failing_call_surfaces_error_and_later_calls_work(kind, driver, fake, history, tolerance):
    iid = make_client(driver, fake, kind, threshold=2, interval=0.0)
    start = time.monotonic()
    fail(driver, fake, "c", iid, 2)
    rec = history.wait_for(WAIT_RECREATE, source=DRIVER, kind="channel_created", owner="sdk", after=start)
    failed_end = time.monotonic()
    for _ in range(2):
        driver.call("c", "get_state", instance_id=iid)
    require(
        calls_failed_with(history, client_id="c", op="get_state", code="UNAVAILABLE", count=2,
                          after=start, before=failed_end),
        server_saw_calls(history, method="GetInstance", count=2, after=start, before=failed_end),
        sdk_channel_created(history, after=start, why="two UNAVAILABLE with threshold 2"),
        later_calls_work(history, client_id="c", op="get_state", after=failed_end, count=2,
                         on_channel=rec.get("channel_id") if (rec is not None and kind == "sync") else None),
        history=history,
    )


LONG_POLL = 6.0


@KINDS
@pytest.mark.needs("client_resiliency_options")
@pytest.mark.requirement("CLI-RECREATE-007")
def test_long_poll_survives_recreation(kind, driver, fake, history, tolerance):
    iid = make_client(driver, fake, kind, threshold=2, interval=0.0)
    old = history.last(source=DRIVER, kind="channel_created", owner="sdk")
    poll_start = time.monotonic()
    poll = threading.Thread(target=driver.call, args=("c", "wait_completion"),
                            kwargs={"instance_id": iid, "timeout": LONG_POLL})
    poll.start()
    assert history.wait_for(5, source=FAKE, kind="rpc_start", method="WaitForInstanceCompletion",
                            after=poll_start), "setup: the long poll never reached the fake"
    fail(driver, fake, "c", iid, 2)
    history.wait_for(WAIT_RECREATE, source=DRIVER, kind="channel_created", owner="sdk", after=poll_start)
    time.sleep(tolerance)  # an old channel closed "at once" would show by now
    done = driver.call("c", "terminate", instance_id=iid, output=None)
    assert done.get("outcome") == "ok", f"setup: terminate failed: {done}"
    poll.join(LONG_POLL + 10)
    end = time.monotonic()
    require(
        sdk_channel_created(history, after=poll_start, why="two UNAVAILABLE with threshold 2"),
        long_poll_completed(history, client_id="c", started_after=poll_start,
                            timeout=LONG_POLL),
        channel_not_closed_before(history, channel_id=old.get("channel_id") if old else None, until=end),
        history=history,
    )
