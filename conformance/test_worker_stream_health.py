"""Worker stream health: the silent-disconnect timer, health pings, and a server that keeps
closing the stream at once.

test_silence_after_pings (WRK-STREAM-003)
  The fake sends a HealthPing every PING s; the first stream is scripted to go silent after
  MSGS pings (Silence: the stream stays open, nothing more is sent). The last message comes
  MSGS*PING s after the stream opened, so a timer measured from the stream start (or never
  re-armed by pings) gives up MSGS*PING s early.
  - the worker abandons the stream T after the LAST message (window T +- tolerance);
  - it reconnects and the new stream completes a probe.

test_pings_keep_stream_alive (WRK-STREAM-004)
  Pings every T/4 for HOLD*T: the worker must keep its one stream (no give-up, no new Hello).
  Control (rule 4): the pings are then switched off; the same observation must see the worker
  give the stream up within T + tolerance of the last ping, so it would have seen a drop. A build
  whose stream was already dropped while pinged needs no control (the drop was seen); a failed
  control makes the test INCONCLUSIVE.

test_immediate_close_loop (WRK-STREAM-005)
  Every GetWorkItems stream is ended with OK at once (EndOk(0), no limit) for STORM s. P says a
  graceful close is followed "immediately" by a reconnect; a server that keeps doing it must
  still not get a tight loop: connect attempts in the window stay under
  checkers_worker.max_attempt_rate_bound (4*window/base + 1). durabletask 1.12.0 reconnects
  with no delay after every graceful close: finding F-2; this test is expected to FAIL there.
  Afterwards the fault is lifted and a probe must complete (the worker is still alive).
"""

import time

import pytest

from fakes.faults import EndOk, Silence
from harness.checks.verdict import control, inconclusive, require
from harness.checks.windows import WorkerOptions, guard
from harness.checks.worker import (
    attempts_bounded,
    stream_abandoned_after_silence,
    stream_kept_alive,
    work_completed,
)
from harness.history import FAKE
from harness.workload import probe, start_worker, wait_for_stream

OPTIONS = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=2.0,
                        channel_recreate_failure_threshold=5,
                        reconnect_backoff_base_seconds=0.1, reconnect_backoff_cap_seconds=1.0)
T = OPTIONS.silent_disconnect_timeout_seconds
PING = 0.5
MSGS = 3
HOLD = 2.5  # the pinged stream is watched for HOLD * T
STORM = 2.0  # seconds of immediate graceful closes


@pytest.mark.needs("resiliency_options")
@pytest.mark.at_defaults("about 2.5 min at the design defaults: silent 120 s, then up to one backoff cap, 30 s")
@pytest.mark.requirement("WRK-STREAM-003")
def test_silence_after_pings(driver, fake, history, tolerance, sdk_options):
    opts = sdk_options.worker(OPTIONS)  # OPTIONS, or the build's defaults when it cannot take them
    guard(tolerance, silent_timeout=opts.silent_disconnect_timeout_seconds)
    t_silent = opts.silent_disconnect_timeout_seconds
    fake.set_health_ping_interval(PING)
    fake.inject("GetWorkItems", Silence(after_messages=MSGS), count=1)
    start_worker(driver, fake.address, opts)
    first = wait_for_stream(history)
    if first is None:
        inconclusive("setup: the worker never opened GetWorkItems (see history)")
    silent = history.wait_for(MSGS * PING + 5, source=FAKE, kind="server_fault", fault="Silence")
    if silent is None:
        inconclusive("setup: the stream never went silent")
    new_stream = wait_for_stream(history, after=silent.t, timeout=t_silent + opts.reconnect_backoff_cap_seconds + 5)
    token, queued_t = probe(fake, history, timeout=5)

    require(
        stream_abandoned_after_silence(history, call_id=first.get("call_id"), fault_t=silent.t,
                                       silent_timeout=t_silent, tolerance=tolerance),
        work_completed(history, token=token, after=max(queued_t, new_stream.t if new_stream else queued_t),
                       within=tolerance),
        history=history,
    )


@pytest.mark.needs("resiliency_options")
@pytest.mark.at_defaults(infeasible="about 7 min at the design defaults: pings at T/4 watched for 2.5 T = 300 s, "
                                    "then the control's T = 120 s")
@pytest.mark.requirement("WRK-STREAM-004")
def test_pings_keep_stream_alive(driver, fake, history, tolerance):
    guard(tolerance, silent_timeout=T)
    fake.set_health_ping_interval(T / 4)
    start_worker(driver, fake.address, OPTIONS)
    first = wait_for_stream(history)
    if first is None:
        inconclusive("setup: the worker never opened GetWorkItems (see history)")
    time.sleep(HOLD * T)
    held_until = history.mark("pings stopped").t
    fake.set_health_ping_interval(None)
    # Control: without pings the same stream must be given up T after its last ping.
    last_ping = history.last(source=FAKE, kind="message_sent", call_id=first.get("call_id"))
    history.wait_for(T + tolerance + 3, source=FAKE, kind="rpc_start", method="Hello", after=held_until)

    kept = stream_kept_alive(history, call_id=first.get("call_id"), until=held_until)
    controls = [] if not kept.ok else [control(stream_abandoned_after_silence(
        history, call_id=first.get("call_id"), fault_t=last_ping.t + 1e-6 if last_ping else held_until,
        silent_timeout=T, tolerance=tolerance))]
    require(kept, *controls, history=history)


@pytest.mark.needs("resiliency_options")
@pytest.mark.at_defaults("under a minute at the design defaults: the storm lasts STORM s, recovery within one "
                         "backoff cap, 30 s")
@pytest.mark.requirement("WRK-STREAM-005")
def test_immediate_close_loop(driver, fake, history, tolerance, sdk_options):
    guard(tolerance)  # its checks add the tolerance to no option-derived window (windows.guard)
    opts = sdk_options.worker(OPTIONS)  # OPTIONS, or the build's defaults when it cannot take them
    start_worker(driver, fake.address, opts)
    first = wait_for_stream(history)
    if first is None:
        inconclusive("setup: the worker never opened GetWorkItems (see history)")
    with fake.fault("GetWorkItems", EndOk(after_messages=0), count=None):
        fake.end_streams("OK")
        began = history.mark("closing every stream at once").t
        time.sleep(STORM)
        ended = history.mark("closes lifted").t
    new_stream = wait_for_stream(history, after=ended, timeout=opts.reconnect_backoff_cap_seconds + tolerance + 5)
    token, queued_t = probe(fake, history, timeout=5)

    require(
        attempts_bounded(history, after=began, before=ended, base=opts.reconnect_backoff_base_seconds,
                         what="server ends every stream with OK at once"),
        work_completed(history, token=token, after=max(queued_t, new_stream.t if new_stream else queued_t),
                       within=tolerance),
        history=history,
    )
