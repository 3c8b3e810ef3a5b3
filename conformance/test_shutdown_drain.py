"""Completions drain across ``stop()``, and the final shutdown closes every channel (promises.md SHUT-1,
RETIRE-2).

P (CHANGELOG v1.5.0): "in-flight and queued work item completions keep draining across graceful gRPC
stream resets and worker shutdown before the worker retires an SDK-owned channel", and retired
channels are closed at final shutdown. N does not drain (the processor's ``finally`` disposes the
channel at once; handlers treat the cancellation as "shutting down - ignore"). We follow P: a result
computed and then thrown away at shutdown is redone by another worker after the lease expires (at
best) and is lost with it when the work had side effects; every rolling deployment stops workers.

Procedures
  - drain: a worker that runs one activity at a time receives two (A, then B, each SLOW s); stop() is
    called while A runs and B waits in the worker.
  - final shutdown: a worker runs A (SLOW s) when the server ends its stream gracefully; the worker
    reconnects on a fresh channel (P) while A's channel is retired but held by A; then stop().
Asserts
  - WRK-DRAIN-001 (P): A and B are each accepted by the server once, by completions sent after stop()
    was called, and the channel they came in on is closed only after those completion RPCs ended.
  - WRK-RETIRE-001 (P): when stop() returns (+ tolerance), every SDK-owned channel the worker built is
    closed, the retired one included.
Controls: A was running and B queued when stop() was called; a retired channel was still open then.
"""

import time

import pytest

from harness.checks.client import channel_not_closed
from harness.checks.promises import (
    channel_closed_after_completions,
    completed_after_stop,
    sdk_channels_closed_by,
    work_state_at,
)
from harness.checks.verdict import control, inconclusive, require
from harness.checks.windows import WorkerOptions, any_reconnect_bound, guard
from harness.drivers.process import DriverError
from harness.history import DRIVER, FAKE
from harness.workload import start_worker, wait_for_stream

SLOW = 0.8
OPTIONS = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=5.0,
                        channel_recreate_failure_threshold=5,
                        reconnect_backoff_base_seconds=0.1, reconnect_backoff_cap_seconds=1.0)
ACTIVITY = {"name": "slow", "sleep_seconds": SLOW, "result": None}  # echoes its input


def _stop(driver, history, opts: WorkerOptions) -> None:
    """stop(), bounded generously (a build that drains is measured, not cut off). A build whose stop()
    fails or crashes the SDK process is judged on what reached the server, like any other."""
    try:
        driver.stop_worker(timeout=2 * SLOW + any_reconnect_bound(opts) + 10)
    except DriverError as exc:
        history.mark("stop failed", error=exc.short)


def _started(history, inp: str, timeout: float):
    return history.wait_for(timeout, source=DRIVER, kind="activity_started", where=lambda e: e.get("input") == inp)


@pytest.mark.needs("resiliency_options", "rpc_observer", "concurrency_options")
@pytest.mark.at_defaults("seconds at the defaults")
@pytest.mark.requirement("WRK-DRAIN-001")
def test_completions_drain_across_stop(driver, fake, history, tolerance, sdk_options):
    opts = sdk_options.worker(OPTIONS)
    guard(tolerance, slow_activity=SLOW)
    start_worker(driver, fake.address, opts, activities=[ACTIVITY],
                 concurrency={"maximum_concurrent_activity_work_items": 1})
    if wait_for_stream(history) is None:
        inconclusive("setup: the worker never opened GetWorkItems")
    tokens = [fake.schedule_activity("slow", '"A"'), fake.schedule_activity("slow", '"B"')]
    delivered = history.wait_for(5, source=FAKE, kind="message_sent", completion_token=tokens[1])
    if _started(history, "A", 5) is None or delivered is None:
        inconclusive("setup: A never started or B was never delivered")
    stop_t = history.mark("stop requested").t
    _stop(driver, history, opts)
    channel = history.first(source=DRIVER, kind="channel_created", owner="sdk")
    require(
        control(work_state_at(history, inp="A", t=stop_t, state="running")),
        control(work_state_at(history, inp="B", t=stop_t, state="queued")),
        completed_after_stop(history, tokens=tokens, stop_t=stop_t),
        channel_closed_after_completions(history, channel_id=channel.get("channel_id") if channel else None,
                                         min_completions=len(tokens)),
        history=history,
    )


@pytest.mark.needs("resiliency_options", "rpc_observer", "sdk_channel")
@pytest.mark.at_defaults("seconds at the defaults")
@pytest.mark.requirement("WRK-RETIRE-001")
def test_final_shutdown_closes_retired_channels(driver, fake, history, tolerance, sdk_options):
    opts = sdk_options.worker(OPTIONS)
    guard(tolerance, slow_activity=SLOW)
    start_worker(driver, fake.address, opts, activities=[ACTIVITY])
    first = wait_for_stream(history)
    if first is None:
        inconclusive("setup: the worker never opened GetWorkItems")
    fake.schedule_activity("slow", '"A"')
    if _started(history, "A", 5) is None:
        inconclusive("setup: A never started")
    closed_t = time.monotonic()
    fake.end_stream(first.get("call_id"), "OK", "server closing the stream")
    if wait_for_stream(history, after=closed_t, timeout=any_reconnect_bound(opts) + 5) is None:
        inconclusive("setup: the worker did not reconnect after the graceful close")
    stop_t = history.mark("stop requested").t
    _stop(driver, history, opts)
    stopped = history.last(source=DRIVER, kind="worker_stopped")
    retired = history.first(source=DRIVER, kind="channel_created", owner="sdk")
    require(
        control(channel_not_closed(history, channel_id=retired.get("channel_id") if retired else None,
                                   before=stop_t, what="the retired channel (held by A) before stop()")),
        sdk_channels_closed_by(history, after=None, by=(stopped.t if stopped else stop_t) + tolerance,
                               what="when stop() returns (+ tolerance)"),
        history=history,
    )
