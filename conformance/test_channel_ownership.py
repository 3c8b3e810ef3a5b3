"""Channel ownership: what the SDK may do to a channel (promises.md §5 RECREATE-3, §7 CLIENT-4/6).

P: "Caller-supplied `channel=` is never recreated or closed"; "When the worker does not own the
channel, it keeps retrying the existing transport"; for clients "the client still tracks and logs
transport failures but does not attempt replacement". A channel the SDK rebuilds must be built
"with the existing host, interceptors, secure channel flag, and GrpcChannelOptions" (CLIENT-4), so
call metadata survives a recreation.

Procedures
- client, caller channel (sync AND async; threshold 2, interval 0): three UNAVAILABLE failures
  on ``get_state``; then a call that succeeds; then ``close()``, which must leave the caller's
  channel open (the driver closes it itself only after ``close()`` returned). Control in the same
  driver: a client with an SDK-owned channel and the same options recreates after two failures.
  The driver names the client each channel belongs to (``role``), so the control client's
  recreations are never mistaken for the caller client's, and the caller client's "no
  recreation" window runs to the end of the test.
- worker, caller channel, through Toxiproxy (threshold 2, backoff 0.1/1.0): a healthy stream
  completes a probe; the proxy is DOWN for (threshold + 1) backoff caps, so every connect attempt
  fails; then it heals and a probe must complete.
- metadata: a client (sync AND async) / a worker started with ``metadata=[["x-auth","token-1"]]``
  is driven into one recreation (two UNAVAILABLE on GetInstance / on Hello); every call the fake
  sees, before and after the recreation, carries the pair. The recreation is the control: without
  one there is nothing to show (INCONCLUSIVE, e.g. the async client of 1.12.0, finding F-1).
"""

from __future__ import annotations

import time

import grpc
import pytest

from fakes.faults import Abort
from harness.checks.client import (
    channel_not_closed,
    client_role,
    counted_failures_seen,
    later_calls_work,
    metadata_on_every_call,
    no_sdk_channel_created,
    rpcs_only_on,
    sdk_channel_created,
)
from harness.checks.verdict import control, inconclusive, require
from harness.checks.windows import (
    BACKGROUND_ACTION_WAIT_S,
    WorkerOptions,
    any_reconnect_bound,
    backoff_upper,
    guard,
)
from harness.checks.worker import work_completed
from harness.history import DRIVER, FAKE
from harness.workload import (
    create_client,
    number_word,
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
    if r.get("outcome") != "ok":
        inconclusive(f"setup: schedule failed: {r}")
    return r["value"]


def fail(driver, fake, cid, iid, n):
    with fake.fault("GetInstance", UNAVAILABLE, count=n):
        for _ in range(n):
            driver.call(cid, "get_state", instance_id=iid)


@KINDS
@pytest.mark.needs("client_resiliency_options", "rpc_observer", "channel")
@pytest.mark.at_defaults("seconds at the design defaults (threshold 5)", slow=False)
@pytest.mark.requirement("CHAN-OWN-001")
def test_client_never_replaces_or_closes_caller_channel(kind, driver, fake, history, tolerance, sdk_options):
    guard(tolerance)  # its checks add the tolerance to no option-derived window (windows.guard)
    res = sdk_options.client(CLIENT_RES)  # CLIENT_RES, or the build's defaults when it cannot take them
    n = int(res["channel_recreate_failure_threshold"])
    create_client(driver, "c", kind=kind, address=fake.address, channel="caller", resiliency=res)
    create_client(driver, "ctl", kind=kind, address=fake.address, channel="sdk", resiliency=res)
    iid = schedule(driver, "c")
    ctl_iid = schedule(driver, "ctl")  # the async client builds its channel on first use
    caller = history.last(source=DRIVER, kind="channel_created", owner="caller", role=client_role("c"))
    start = history.mark("phase", phase=f"{number_word(n + 1)} UNAVAILABLE on the caller's channel").t
    fail(driver, fake, "c", iid, n + 1)
    healed = history.mark("phase", phase="a call that succeeds").t
    driver.call("c", "get_state", instance_id=iid)
    ctl = history.mark("phase", phase=f"control: the SDK-owned client fails {number_word(n)} times").t
    fail(driver, fake, "ctl", ctl_iid, n)
    history.wait_for(WAIT_RECREATE, source=DRIVER, kind="channel_created", owner="sdk", role=client_role("ctl"),
                     after=ctl)
    driver.close_client("c")
    closed = history.wait_for(WAIT_RECREATE, source=DRIVER, kind="client_closed", client_id="c")
    if closed is None:
        inconclusive("setup: the driver did not report client c's close()")
    cid = caller.get("channel_id") if caller else None
    require(
        # Up to the end: the control client's channels are attributed to it, not to c.
        no_sdk_channel_created(history, after=start, role=client_role("c"),
                               why=f"caller-owned channel, {n + 1} UNAVAILABLE"),
        channel_not_closed(history, channel_id=cid, before=closed.t),
        later_calls_work(history, client_id="c", op="get_state", after=healed, count=1,
                         on_channel=cid if kind == "sync" else None),
        control(sdk_channel_created(history, after=ctl, role=client_role("ctl"),
                                    why=f"control: SDK-owned client, {number_word(n)} UNAVAILABLE")),
        history=history,
    )


@pytest.mark.needs("resiliency_options", "rpc_observer", "channel")
@pytest.mark.at_defaults("about 3.5 min at the design defaults: the outage lasts (threshold + 1) backoff caps, "
                         "6 x 30 s")
@pytest.mark.requirement("CHAN-OWN-002")
def test_worker_keeps_caller_channel_through_outage(driver, fake, link, history, tolerance, sdk_options):
    opts = sdk_options.worker(OPTIONS)  # OPTIONS, or the build's defaults when it cannot take them
    guard(tolerance, any_reconnect=any_reconnect_bound(opts))
    fake.set_health_ping_interval(0.5)
    start_worker(driver, link.address, opts, channel="caller")
    caller = history.last(source=DRIVER, kind="channel_created", owner="caller", role="worker")
    first = wait_for_stream(history)
    if first is None:
        inconclusive("setup: the worker never opened GetWorkItems")
    token0, _ = probe(fake, history, timeout=5)
    if not history.first(source=FAKE, kind="work_item_completed", completion_token=token0):
        inconclusive("setup: the probe before the outage did not complete")
    down_for = (opts.channel_recreate_failure_threshold + 1) * opts.reconnect_backoff_cap_seconds
    with link.down():
        down_t = time.monotonic()
        time.sleep(down_for)
    healed_t = time.monotonic()
    stream = wait_for_stream(history, after=healed_t,
                             timeout=opts.reconnect_backoff_cap_seconds + opts.hello_timeout_seconds + 5)
    token, queued = probe(fake, history, timeout=10)
    cid = caller.get("channel_id") if caller else None
    # Bound for the probe: one backoff cap after the first stream following the heal.
    require(
        control(counted_failures_seen(history, role="worker", method="Hello",
                                      codes=("UNAVAILABLE", "DEADLINE_EXCEEDED"),
                                      at_least=opts.channel_recreate_failure_threshold, after=down_t,
                                      before=healed_t)),
        no_sdk_channel_created(history, after=caller.t if caller else down_t, role="worker",
                               why="caller-owned worker channel"),
        channel_not_closed(history, channel_id=cid),
        rpcs_only_on(history, role="worker", channel_id=cid, after=down_t),
        work_completed(history, token=token, after=max(queued, stream.t if stream else queued),
                       within=opts.reconnect_backoff_cap_seconds + tolerance),
        history=history,
    )


@KINDS
@pytest.mark.needs("client_resiliency_options", "sdk_channel", "metadata")
@pytest.mark.at_defaults("seconds at the design defaults (threshold 5)", slow=False)
@pytest.mark.requirement("CHAN-OWN-003")
def test_client_metadata_survives_recreation(kind, driver, fake, history, tolerance, sdk_options):
    guard(tolerance)  # its checks add the tolerance to no option-derived window (windows.guard)
    res = sdk_options.client(CLIENT_RES)  # CLIENT_RES, or the build's defaults when it cannot take them
    n = int(res["channel_recreate_failure_threshold"])
    start = time.monotonic()
    create_client(driver, "c", kind=kind, address=fake.address, channel="sdk", resiliency=res, metadata=[AUTH])
    iid = schedule(driver, "c")
    before = time.monotonic()
    fail(driver, fake, "c", iid, n)
    history.wait_for(WAIT_RECREATE, source=DRIVER, kind="channel_created", owner="sdk", role=client_role("c"),
                     after=before)
    for _ in range(2):
        driver.call("c", "get_state", instance_id=iid)
    require(
        control(sdk_channel_created(history, after=before, role=client_role("c"),
                                    why=f"control: {number_word(n)} UNAVAILABLE with threshold {n}")),
        metadata_on_every_call(history, key=AUTH[0], value=AUTH[1], after=start, min_calls=5),
        history=history,
    )


@pytest.mark.needs("resiliency_options", "sdk_channel", "metadata")
@pytest.mark.at_defaults("about a minute at the design defaults: 5 failed Hellos with backoff windows of "
                         "2+4+8+16+30 s")
@pytest.mark.requirement("CHAN-OWN-003")
def test_worker_metadata_survives_recreation(driver, fake, history, tolerance, sdk_options):
    opts = sdk_options.worker(OPTIONS)  # OPTIONS, or the build's defaults when it cannot take them
    guard(tolerance, any_reconnect=any_reconnect_bound(opts))
    n = opts.channel_recreate_failure_threshold
    fake.set_health_ping_interval(0.5)
    fake.inject("Hello", UNAVAILABLE, count=n)
    start = time.monotonic()
    start_worker(driver, fake.address, opts, metadata=[AUTH])
    # Pacing: n failed Hellos, each followed by at most its backoff window.
    backoffs = sum(backoff_upper(k, opts.reconnect_backoff_base_seconds, opts.reconnect_backoff_cap_seconds)
                   for k in range(1, n + 1))
    stream = wait_for_stream(history, timeout=backoffs + n * tolerance + 5)
    token, queued = probe(fake, history, timeout=5)
    failures = history.select(FAKE, "server_fault", method="Hello")
    last_fail = failures[-1].t if failures else start
    require(
        control(sdk_channel_created(history, after=last_fail, before=stream.t if stream else None, role="worker",
                                    why=f"control: {number_word(n)} UNAVAILABLE on Hello with threshold {n}")),
        work_completed(history, token=token, after=queued, within=tolerance + opts.reconnect_backoff_cap_seconds),
        metadata_on_every_call(history, key=AUTH[0], value=AUTH[1], after=start, min_calls=5),
        history=history,
    )
