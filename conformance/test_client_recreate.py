"""Client channel recreation (promises.md §7 CLIENT-1/3/4/5, §6 RETIRE-1, §5 RECREATE-4).

A client that owns its channel replaces it after ``channel_recreate_failure_threshold``
consecutive transport failures (UNAVAILABLE here, scripted by the fake on ordinary
``GetInstance`` calls), at most once per ``min_recreate_interval_seconds``, one recreation at a
time; the failing call still fails, later calls use the new channel, the old channel is retired
after a grace (calls in flight on it finish), and the new channel is a new TCP connection.

Every test runs for the sync AND the async client. On durabletask 1.12.0 the async client never
counts a failure (finding F-1), so every async case that needs a recreation fails there.

Procedures (threshold N, all calls are ``get_state`` of a scheduled, never-running instance):
- threshold: phase A = N-1 failures, one success, N-1 failures: no recreation; phase B = one more
  failure (the N-th consecutive one): exactly one recreation, within the tolerance of that failure.
- first recreation (N=2, interval I): a burst of 2 failures right after the client is created
  recreates (it is not blocked by the interval, N's rule).
- interval (N=2, interval I): burst 1 recreates (control: the observation sees a recreation); burst 2
  at once: none; after I has passed since the first recreation, burst 3: a recreation (the interval
  is the configured one, not longer).
- new connection: one success, N failures, recreation, one success: the fake sees the last call
  before and the first call after the recreation from two different peers (client ports).
- single flight (N=2, I long): K concurrent failing calls produce exactly one recreation.
- surface & later calls: N failures each surface UNAVAILABLE, the fake saw each exactly once
  (no hidden retry), the next calls succeed (sync: on the new channel).
- long poll: a wait_completion (timeout LONG) is in flight on the old channel while N failures
  trigger a recreation; the instance is then terminated; the long poll returns the final state
  before its timeout, and the old channel is not closed meanwhile. Then ``close()``: the retired
  channel (still in its grace) and the current one are closed when it returns (RETIRE-2).

Phases and attribution. The driver names the client that owns each channel (``role``), so a
recreation is charged to the client that made it, never to another client or the worker. A
phase's window opens at its mark and closes when the next phase starts: everything the SDK does
before the next phase's calls begin is the earlier phase's doing. Between phases the test lets the
phase's own work finish: its calls have returned, and a conforming client acts on a failure within
the tolerance (``recreated_promptly``, CLI-RECREATE-001), so one tolerance later its reaction, if
any, has shown. A recreation that needs a recreation to be observable first (INCONCLUSIVE when
the client never recreates, as the async client of 1.12.0, finding F-1) marks that step as a
control; the requirement that promises the recreation itself (CLI-STATUS-001, CLI-RECREATE-001,
CLI-RECREATE-003) still fails on such a build.
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
    channels_closed_at_close,
    client_role,
    later_calls_work,
    long_poll_completed,
    new_peer_after,
    no_sdk_channel_created,
    recreated_promptly,
    recreations_exactly,
    recreations_spaced,
    sdk_channel_created,
    server_saw_calls,
)
from harness.checks.verdict import control, for_requirement, inconclusive, require
from harness.checks.windows import BACKGROUND_ACTION_WAIT_S, guard
from harness.history import DRIVER, FAKE
from harness.workload import create_client, number_word

KINDS = pytest.mark.parametrize("kind", ["sync", pytest.param("async", marks=pytest.mark.needs("async_client"))])
UNAVAILABLE = Abort(grpc.StatusCode.UNAVAILABLE, "injected transport failure")
WAIT_RECREATE = BACKGROUND_ACTION_WAIT_S  # pacing only: see harness/checks/windows.py
ROLE = client_role("c")


def options(sdk_options, *, threshold, interval):
    """The client options the test runs with: these, or the build's defaults when it cannot take them;
    returns (options, threshold, interval) in force."""
    res = sdk_options.client({"channel_recreate_failure_threshold": threshold,
                              "min_recreate_interval_seconds": interval})
    return res, int(res["channel_recreate_failure_threshold"]), float(res["min_recreate_interval_seconds"])


def make_client(driver, fake, kind, res, *, cid="c", metadata=None):
    create_client(driver, cid, kind=kind, address=fake.address, channel="sdk", metadata=metadata, resiliency=res)
    scheduled = driver.call(cid, "schedule", name="never_runs", input=None)
    if scheduled.get("outcome") != "ok":
        inconclusive(f"setup: schedule failed: {scheduled}")
    return scheduled["value"]


def fail(driver, fake, cid, iid, n, fault=UNAVAILABLE):
    with fake.fault("GetInstance", fault, count=n):
        for _ in range(n):
            driver.call(cid, "get_state", instance_id=iid)


def phase(history, name):
    """Start a phase: its window opens here and closes where the next phase starts."""
    return history.mark("phase", phase=name).t


def settle(history, after, tolerance):
    """Pacing: let the phase that just returned finish its own work before the next one starts. A
    conforming client acts on a failure within the tolerance (recreated_promptly), so one tolerance
    after the phase's last call its reaction, if any, has shown."""
    history.wait_for(tolerance, source=DRIVER, kind="channel_created", owner="sdk", role=ROLE, after=after)


def wait_recreated(history, after):
    """Pacing: wait for a recreation of client c (a build that never recreates waits the whole bound)."""
    return history.wait_for(WAIT_RECREATE, source=DRIVER, kind="channel_created", owner="sdk", role=ROLE,
                            after=after)


def finish_recreation(tolerance):
    """Pacing: ``channel_created`` shows the new channel being built; the SDK swaps its stub right
    after. A conforming client has finished within the tolerance of the failure (recreated_promptly),
    so a call made one tolerance later must find the new stub, and the swap cannot race the check."""
    time.sleep(tolerance)


def recreated(history, after, before=None, why="two UNAVAILABLE with threshold 2"):
    """Control: client c recreated its channel (the observation the other verdicts need can see one)."""
    return control(sdk_channel_created(history, after=after, before=before, role=ROLE, why=f"control: {why}"))


@KINDS
@pytest.mark.needs("client_resiliency_options", "sdk_channel")
@pytest.mark.at_defaults("seconds at the design defaults (threshold 5, interval 30 s)", slow=False)
@pytest.mark.requirement("CLI-RECREATE-001")
def test_recreate_after_exactly_threshold(kind, driver, fake, history, tolerance, sdk_options):
    guard(tolerance)  # its checks add the tolerance to no option-derived window (windows.guard)
    res, n, _ = options(sdk_options, threshold=3, interval=0.0)
    iid = make_client(driver, fake, kind, res)
    a = phase(history, f"A: {n - 1} failures, a success, {n - 1} failures")
    fail(driver, fake, "c", iid, n - 1)
    if driver.call("c", "get_state", instance_id=iid)["outcome"] != "ok":
        inconclusive("setup: the success call between the failures failed")
    fail(driver, fake, "c", iid, n - 1)
    settle(history, a, tolerance)
    b = phase(history, f"B: the {n}-th consecutive failure")
    fail(driver, fake, "c", iid, 1)
    wait_recreated(history, b)
    require(
        no_sdk_channel_created(history, after=a, before=b, role=ROLE,
                               why=f"{n - 1} failures, a success, {n - 1} failures with threshold {n}"),
        recreations_exactly(history, after=b, before=None, count=1, role=ROLE,
                            why=f"the {n}-th consecutive failure"),
        recreated_promptly(history, client_id="c", after=b, tolerance=tolerance),
        history=history,
    )


INTERVAL = 2.0


@KINDS
@pytest.mark.needs("client_resiliency_options", "sdk_channel")
@pytest.mark.at_defaults("seconds at the design defaults (threshold 5, interval 30 s)", slow=False)
@pytest.mark.requirement("CLI-RECREATE-003")
def test_first_recreation_not_blocked(kind, driver, fake, history, tolerance, sdk_options):
    guard(tolerance)  # its checks add the tolerance to no option-derived window (windows.guard)
    res, n, _ = options(sdk_options, threshold=2, interval=INTERVAL)
    iid = make_client(driver, fake, kind, res)
    start = phase(history, "burst 1, right after the client was built")
    fail(driver, fake, "c", iid, n)
    wait_recreated(history, start)
    require(
        sdk_channel_created(history, after=start, role=ROLE,
                            why="the first recreation is not blocked by the interval (N)"),
        history=history,
    )


@KINDS
@pytest.mark.needs("client_resiliency_options", "sdk_channel")
@pytest.mark.at_defaults("about 40 s at the design defaults: burst 3 waits out the interval, 30 s")
@pytest.mark.requirement("CLI-RECREATE-002")
def test_min_recreate_interval(kind, driver, fake, history, tolerance, sdk_options):
    res, n, interval = options(sdk_options, threshold=2, interval=INTERVAL)
    guard(tolerance, min_recreate_interval=interval)
    iid = make_client(driver, fake, kind, res)
    start = phase(history, "burst 1")
    fail(driver, fake, "c", iid, n)
    first = wait_recreated(history, start)
    if first is None:  # nothing to space: stop here rather than wait out the interval
        require(recreated(history, start, why="burst 1 recreates"), history=history)
    burst2 = phase(history, "burst 2, inside the interval")
    fail(driver, fake, "c", iid, n)
    settle(history, burst2, tolerance)
    # Burst 3 once the interval has passed since the first recreation.
    time.sleep(max(0.0, first.t + interval + tolerance - time.monotonic()))
    burst3 = phase(history, "burst 3, after the interval")
    fail(driver, fake, "c", iid, n)
    wait_recreated(history, burst3)
    require(
        recreated(history, start, before=burst2, why="burst 1 recreates"),
        no_sdk_channel_created(history, after=burst2, before=burst3, role=ROLE,
                               why=f"a second burst within min_recreate_interval_seconds={interval}"),
        recreations_spaced(history, after=start, interval=interval, tolerance=tolerance, role=ROLE),
        sdk_channel_created(history, after=burst3, role=ROLE,
                            why="the first threshold crossing after the interval has passed"),
        history=history,
    )


@KINDS
@pytest.mark.needs("client_resiliency_options", "sdk_channel")
@pytest.mark.at_defaults("seconds at the design defaults (threshold 5, interval 30 s)", slow=False)
@pytest.mark.requirement("CLI-RECREATE-004")
def test_recreation_opens_a_new_connection(kind, driver, fake, history, tolerance, sdk_options):
    guard(tolerance)  # its checks add the tolerance to no option-derived window (windows.guard)
    res, n, _ = options(sdk_options, threshold=2, interval=0.0)
    why = f"{number_word(n)} UNAVAILABLE with threshold {n}"
    iid = make_client(driver, fake, kind, res)
    if driver.call("c", "get_state", instance_id=iid)["outcome"] != "ok":
        inconclusive("setup: the first call failed")
    before = phase(history, f"{number_word(n)} failures")
    fail(driver, fake, "c", iid, n)
    if wait_recreated(history, before) is None:
        require(recreated(history, before, why=why), history=history)
    finish_recreation(tolerance)
    after = phase(history, "the first call after the recreation")
    driver.call("c", "get_state", instance_id=iid)
    require(recreated(history, before, before=after, why=why), new_peer_after(history, before_t=before, after_t=after),
            history=history)


@KINDS
@pytest.mark.needs("client_resiliency_options", "sdk_channel")
@pytest.mark.at_defaults("seconds at the design defaults (threshold 5, interval 30 s)", slow=False)
@pytest.mark.requirement("CLI-RECREATE-005")
def test_single_flight(kind, driver, fake, history, tolerance, sdk_options):
    guard(tolerance)  # its checks add the tolerance to no option-derived window (windows.guard)
    res, n, _ = options(sdk_options, threshold=2, interval=30.0)
    k = max(8, n + 3)  # several calls cross the threshold at once
    iid = make_client(driver, fake, kind, res)
    start = phase(history, f"{k} concurrent failing calls")
    with fake.fault("GetInstance", UNAVAILABLE, count=k):
        threads = [threading.Thread(target=driver.call, args=("c", "get_state"), kwargs={"instance_id": iid})
                   for _ in range(k)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    wait_recreated(history, start)
    settle(history, time.monotonic(), tolerance)
    require(
        recreated(history, start, why=f"{k} concurrent UNAVAILABLE with threshold {n}"),
        server_saw_calls(history, method="GetInstance", count=k, after=start),
        recreations_exactly(history, after=start, before=None, count=1, role=ROLE,
                            why=f"{k} concurrent failing calls"),
        history=history,
    )


@KINDS
@pytest.mark.needs("client_resiliency_options", "rpc_observer", "sdk_channel")
@pytest.mark.at_defaults("seconds at the design defaults (threshold 5, interval 30 s)", slow=False)
@pytest.mark.requirement("CLI-RECREATE-006")
def test_failing_call_surfaces_error_and_later_calls_work(kind, driver, fake, history, tolerance, sdk_options):
    guard(tolerance)  # its checks add the tolerance to no option-derived window (windows.guard)
    res, n, _ = options(sdk_options, threshold=2, interval=0.0)
    iid = make_client(driver, fake, kind, res)
    start = phase(history, f"{number_word(n)} failures")
    fail(driver, fake, "c", iid, n)
    rec = wait_recreated(history, start)
    finish_recreation(tolerance)
    failed_end = phase(history, "later calls")
    for _ in range(2):
        driver.call("c", "get_state", instance_id=iid)
    require(
        calls_failed_with(history, client_id="c", op="get_state", code="UNAVAILABLE", count=n,
                          after=start, before=failed_end),
        server_saw_calls(history, method="GetInstance", count=n, after=start, before=failed_end),
        recreated(history, start, before=failed_end, why=f"{number_word(n)} UNAVAILABLE with threshold {n}"),
        later_calls_work(history, client_id="c", op="get_state", after=failed_end, count=2,
                         on_channel=rec.get("channel_id") if (rec is not None and kind == "sync") else None),
        history=history,
    )


LONG_POLL = 6.0


@KINDS
@pytest.mark.needs("client_resiliency_options", "sdk_channel")
@pytest.mark.at_defaults("seconds at the design defaults (threshold 5, interval 30 s)", slow=False)
@pytest.mark.requirement("CLI-RECREATE-007", "CLI-RECREATE-008")
def test_long_poll_survives_recreation(kind, driver, fake, history, tolerance, sdk_options):
    guard(tolerance)  # its checks add the tolerance to no option-derived window (windows.guard)
    res, n, _ = options(sdk_options, threshold=2, interval=0.0)
    iid = make_client(driver, fake, kind, res)
    old = history.last(source=DRIVER, kind="channel_created", owner="sdk", role=ROLE)
    poll_start = phase(history, f"a long poll, then {number_word(n)} failures")
    poll = threading.Thread(target=driver.call, args=("c", "wait_completion"),
                            kwargs={"instance_id": iid, "timeout": LONG_POLL})
    poll.start()
    if not history.wait_for(5, source=FAKE, kind="rpc_start", method="WaitForInstanceCompletion",
                            after=poll_start):
        inconclusive("setup: the long poll never reached the fake")
    fail(driver, fake, "c", iid, n)
    wait_recreated(history, poll_start)
    time.sleep(tolerance)  # an old channel closed "at once" would show by now
    done = driver.call("c", "terminate", instance_id=iid, output=None)
    if done.get("outcome") != "ok":
        inconclusive(f"setup: terminate failed: {done}")
    poll.join(LONG_POLL + 10)
    end = phase(history, "close()")
    driver.close_client("c")
    wait_closed(history, tolerance)
    require(
        recreated(history, poll_start, before=end, why=f"{number_word(n)} UNAVAILABLE with threshold {n}"),
        *for_requirement("CLI-RECREATE-007",
                         long_poll_completed(history, client_id="c", started_after=poll_start, timeout=LONG_POLL),
                         channel_not_closed_before(history, channel_id=old.get("channel_id") if old else None,
                                                   until=end)),
        *for_requirement("CLI-RECREATE-008", channels_closed_at_close(history, client_id="c", tolerance=tolerance)),
        history=history,
    )


def wait_closed(history, tolerance):
    """Pacing: wait until every channel of client c is closed or one tolerance has passed since close()
    returned, plus the time the driver's events take to arrive (BACKGROUND_ACTION_WAIT_S bounds it)."""
    closed = history.wait_for(WAIT_RECREATE, source=DRIVER, kind="client_closed", client_id="c")
    if closed is None:
        return
    deadline = time.monotonic() + WAIT_RECREATE
    for ch in history.select(DRIVER, "channel_created", before=closed.t, owner="sdk", role=ROLE):
        history.wait_for(max(0.0, deadline - time.monotonic()), source=DRIVER, kind="channel_closed",
                         channel_id=ch.get("channel_id"))
    time.sleep(max(0.0, closed.t + tolerance - time.monotonic()))
