"""Channel ownership: what the SDK may do to a channel (promises.md §5 RECREATE-3, §7 CLIENT-4/6).

P: "Caller-supplied `channel=` is never recreated or closed"; "When the worker does not own the
channel, it keeps retrying the existing transport"; for clients "the client still tracks and logs
transport failures but does not attempt replacement". A channel the SDK rebuilds must be built
"with the existing host, interceptors, secure channel flag, and GrpcChannelOptions" (CLIENT-4), so
call metadata survives a recreation.

Procedures
- client, caller channel (sync AND async; threshold 2, interval 0): three UNAVAILABLE failures
  on ``get_state``; then a call that succeeds. Control in the same driver: a client with an
  SDK-owned channel and the same options recreates after two failures.
- worker, caller channel, through Toxiproxy (threshold 2, backoff 0.1/1.0): a healthy stream
  completes a probe; the proxy is DOWN for (threshold + 1) backoff caps, so every connect attempt
  fails; then it heals and a probe must complete.
- metadata: a client (sync AND async) / a worker started with ``metadata=[["x-auth","token-1"]]``
  is driven into one recreation (two UNAVAILABLE on GetInstance / on Hello); every call the fake
  sees, before and after the recreation, carries the pair.
"""

from __future__ import annotations

import time

import grpc
import pytest

from fakes.faults import Abort
from harness.checks.client import (
    channel_not_closed,
    counted_failures_seen,
    later_calls_work,
    metadata_on_every_call,
    no_sdk_channel_created,
    rpcs_only_on,
    sdk_channel_created,
)
from harness.checks.verdict import require
from harness.checks.windows import BACKGROUND_ACTION_WAIT_S, WorkerOptions
from harness.checks.worker import work_completed
from harness.history import DRIVER, FAKE
from harness.workload import (
    PROBE_ACTIVITY,
    not_applicable_if_unsupported,
    probe,
    start_worker,
    wait_for_stream,
)

KINDS = pytest.mark.parametrize("kind", ["sync", pytest.param("async", marks=pytest.mark.needs("async_client"))])
CLIENT_RES = {"channel_recreate_failure_threshold": 2, "min_recreate_interval_seconds": 0.0}
UNAVAILABLE = Abort(grpc.StatusCode.UNAVAILABLE, "injected transport failure")
WAIT_RECREATE = BACKGROUND_ACTION_WAIT_S  # pacing only: see harness/checks/windows.py
OPTIONS = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=2.0,
                        channel_recreate_failure_threshold=2,
                        reconnect_backoff_base_seconds=0.1, reconnect_backoff_cap_seconds=1.0)
AUTH = ["x-auth", "token-1"]


def schedule(driver, cid):
    r = driver.call(cid, "schedule", name="never_runs", input=None)
    assert r.get("outcome") == "ok", f"setup: schedule failed: {r}"
    return r["value"]


def fail(driver, fake, cid, iid, n):
    with fake.fault("GetInstance", UNAVAILABLE, count=n):
        for _ in range(n):
            driver.call(cid, "get_state", instance_id=iid)


@KINDS
@pytest.mark.needs("client_resiliency_options", "rpc_observer", "channel")
@pytest.mark.requirement("CHAN-OWN-001")
def test_client_never_replaces_or_closes_caller_channel(kind, driver, fake, history, tolerance):
    with not_applicable_if_unsupported():
        driver.create_client("c", kind=kind, address=fake.address, channel="caller", resiliency=CLIENT_RES)
        driver.create_client("ctl", kind=kind, address=fake.address, channel="sdk", resiliency=CLIENT_RES)
    iid = schedule(driver, "c")
    ctl_iid = schedule(driver, "ctl")  # the async client builds its channel on first use
    caller = history.last(source=DRIVER, kind="channel_created", owner="caller")
    start = time.monotonic()
    fail(driver, fake, "c", iid, 3)
    history.wait_for(tolerance, source=DRIVER, kind="channel_created", owner="sdk", after=start)
    healed = time.monotonic()
    driver.call("c", "get_state", instance_id=iid)
    end = time.monotonic()
    fail(driver, fake, "ctl", ctl_iid, 2)
    history.wait_for(WAIT_RECREATE, source=DRIVER, kind="channel_created", owner="sdk", after=end)
    cid = caller.get("channel_id") if caller else None
    require(
        no_sdk_channel_created(history, after=start, before=end, why="caller-owned channel, 3 UNAVAILABLE"),
        channel_not_closed(history, channel_id=cid, before=end),
        later_calls_work(history, client_id="c", op="get_state", after=healed, count=1,
                         on_channel=cid if kind == "sync" else None),
        sdk_channel_created(history, after=end, why="control: SDK-owned client, two UNAVAILABLE"),
        history=history,
    )


@pytest.mark.needs("resiliency_options", "rpc_observer", "channel")
@pytest.mark.requirement("CHAN-OWN-002")
def test_worker_keeps_caller_channel_through_outage(driver, fake, link, history, tolerance):
    fake.set_health_ping_interval(0.5)
    start_worker(driver, link.address, OPTIONS, channel="caller")
    caller = history.last(source=DRIVER, kind="channel_created", owner="caller")
    first = wait_for_stream(history)
    assert first is not None, "setup: the worker never opened GetWorkItems"
    token0, _ = probe(fake, history, timeout=5)
    assert history.first(source=FAKE, kind="work_item_completed", completion_token=token0), "setup: probe 1"
    down_for = (OPTIONS.channel_recreate_failure_threshold + 1) * OPTIONS.reconnect_backoff_cap_seconds
    with link.down():
        down_t = time.monotonic()
        time.sleep(down_for)
    healed_t = time.monotonic()
    stream = wait_for_stream(history, after=healed_t, timeout=15)
    token, queued = probe(fake, history, timeout=10)
    cid = caller.get("channel_id") if caller else None
    # Bound for the probe: one backoff cap after the first stream following the heal.
    require(
        counted_failures_seen(history, role="worker", method="Hello", codes=("UNAVAILABLE", "DEADLINE_EXCEEDED"),
                              at_least=OPTIONS.channel_recreate_failure_threshold, after=down_t,
                              before=healed_t),
        no_sdk_channel_created(history, after=caller.t if caller else down_t, why="caller-owned worker channel"),
        channel_not_closed(history, channel_id=cid),
        rpcs_only_on(history, role="worker", channel_id=cid, after=down_t),
        work_completed(history, token=token, after=max(queued, stream.t if stream else queued),
                       within=OPTIONS.reconnect_backoff_cap_seconds + tolerance),
        history=history,
    )


@KINDS
@pytest.mark.needs("client_resiliency_options")
@pytest.mark.requirement("CHAN-OWN-003")
def test_client_metadata_survives_recreation(kind, driver, fake, history, tolerance):
    start = time.monotonic()
    with not_applicable_if_unsupported():
        driver.create_client("c", kind=kind, address=fake.address, channel="sdk", resiliency=CLIENT_RES,
                             metadata=[AUTH])
    iid = schedule(driver, "c")
    before = time.monotonic()
    fail(driver, fake, "c", iid, 2)
    history.wait_for(WAIT_RECREATE, source=DRIVER, kind="channel_created", owner="sdk", after=before)
    for _ in range(2):
        driver.call("c", "get_state", instance_id=iid)
    require(
        sdk_channel_created(history, after=before, why="two UNAVAILABLE with threshold 2"),
        metadata_on_every_call(history, key=AUTH[0], value=AUTH[1], after=start, min_calls=5),
        history=history,
    )


@pytest.mark.needs("resiliency_options")
@pytest.mark.requirement("CHAN-OWN-003")
def test_worker_metadata_survives_recreation(driver, fake, history, tolerance):
    fake.set_health_ping_interval(0.5)
    fake.inject("Hello", UNAVAILABLE, count=OPTIONS.channel_recreate_failure_threshold)
    start = time.monotonic()
    with not_applicable_if_unsupported():
        driver.start_worker(address=fake.address, channel="sdk", resiliency=OPTIONS.as_dict(), metadata=[AUTH],
                            activities=[{"name": PROBE_ACTIVITY, "sleep_seconds": 0, "result": "probe-ok"}])
    stream = wait_for_stream(history, timeout=10)
    token, queued = probe(fake, history, timeout=5)
    failures = history.select(FAKE, "server_fault", method="Hello")
    last_fail = failures[-1].t if failures else start
    require(
        sdk_channel_created(history, after=last_fail, before=stream.t if stream else None,
                            why="two UNAVAILABLE on Hello with threshold 2"),
        work_completed(history, token=token, after=queued, within=tolerance + OPTIONS.reconnect_backoff_cap_seconds),
        metadata_on_every_call(history, key=AUTH[0], value=AUTH[1], after=start, min_calls=5),
        history=history,
    )
