"""Worker reconnect backoff: full jitter, its growth and reset, and error storms.

test_backoff_distribution (WRK-BACKOFF-002)
  The fake aborts the first N Hello calls with UNAVAILABLE; base 0.03 s, cap 0.24 s (cap/base
  = 8, so from the 4th delay on every design is in the capped regime). Each delay is measured
  from the moment the SDK saw the failure (driver ``rpc_done``) to the next Hello at the fake.
  - every delay lies below its window min(cap, base*2^(i+1)) + tolerance;
  - the capped delays are U[0, cap): KS distance within the DKW bound at alpha = 1e-3 plus a
    latency allowance (checkers_worker.backoff_distribution documents both). Always 0, always
    the cap, a fixed delay, or no growth beyond 2*base all fail.
  - after the storm the worker connects and completes a probe.

test_hello_success_resets_attempts (WRK-BACKOFF-003, P)
  GetWorkItems is aborted with UNAVAILABLE SAMPLES times; each Hello before it succeeds. P:
  "Successful Hello resets the worker reconnect attempt counter", so every delay is drawn from
  the first window 2*base (base 0.05, cap 2.0: a counter that is never reset reaches windows
  of 0.4, 0.8, 1.6, 2.0 s and fails the bound 2*base + tolerance = 0.35 s).

test_error_storm (WRK-BACKOFF-004)
  For STORM s the fake fails every call of one method with one code (UNAVAILABLE,
  RESOURCE_EXHAUSTED, INTERNAL, UNKNOWN on Hello or GetWorkItems). Connect attempts in the
  window stay under checkers_worker.max_attempt_rate_bound; then the fault is lifted and a
  probe completes.
"""

import time

import grpc
import pytest

from fakes.faults import Abort
from harness.checks.verdict import require
from harness.checks.windows import WorkerOptions
from harness.checks.worker import (
    attempts_bounded,
    backoff_distribution,
    delays_within_first_window,
    work_completed,
)
from harness.history import FAKE
from harness.workload import probe, start_worker, wait_for_stream

DIST = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=2.0,
                     channel_recreate_failure_threshold=1000,  # keep one channel: measure backoff only
                     reconnect_backoff_base_seconds=0.03, reconnect_backoff_cap_seconds=0.24)
FAILURES = 44  # 40 delays in the capped regime (the first 4 are not)

RESET = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=2.0,
                      channel_recreate_failure_threshold=1000,
                      reconnect_backoff_base_seconds=0.05, reconnect_backoff_cap_seconds=2.0)
SAMPLES = 8

STORM_OPTS = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=2.0,
                           channel_recreate_failure_threshold=5,
                           reconnect_backoff_base_seconds=0.1, reconnect_backoff_cap_seconds=1.0)
STORM = 2.0


@pytest.mark.requirement("WRK-BACKOFF-002")
def test_backoff_distribution(driver, fake, history, tolerance):
    cap = DIST.reconnect_backoff_cap_seconds
    fake.inject("Hello", Abort(grpc.StatusCode.UNAVAILABLE, "injected backoff storm"), count=FAILURES)
    start_worker(driver, fake.address, DIST)
    first = wait_for_stream(history, timeout=FAILURES * (cap + tolerance) + 5)
    token, queued_t = probe(fake, history, timeout=5)

    require(
        backoff_distribution(history, method="Hello", base=DIST.reconnect_backoff_base_seconds, cap=cap,
                             tolerance=tolerance),
        work_completed(history, token=token, after=max(queued_t, first.t if first else queued_t),
                       within=tolerance),
        history=history,
    )


@pytest.mark.requirement("WRK-BACKOFF-003")
def test_hello_success_resets_attempts(driver, fake, history, tolerance):
    fake.inject("GetWorkItems", Abort(grpc.StatusCode.UNAVAILABLE, "injected after Hello"), count=SAMPLES)
    start_worker(driver, fake.address, RESET)
    # Pacing only: a conforming build needs ~SAMPLES * base; a non-resetting one up to the cap each.
    deadline = time.monotonic() + SAMPLES * (RESET.reconnect_backoff_cap_seconds + tolerance) + 5
    while time.monotonic() < deadline and len(history.select(FAKE, "rpc_start", method="GetWorkItems")) <= SAMPLES:
        time.sleep(0.05)
    token, queued_t = probe(fake, history, timeout=5)
    last = history.last(source=FAKE, kind="rpc_start", method="GetWorkItems")

    require(
        delays_within_first_window(history, method="GetWorkItems", base=RESET.reconnect_backoff_base_seconds,
                                   cap=RESET.reconnect_backoff_cap_seconds, tolerance=tolerance,
                                   min_samples=SAMPLES),
        work_completed(history, token=token, after=max(queued_t, last.t if last else queued_t), within=tolerance),
        history=history,
    )


CODES = [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INTERNAL,
         grpc.StatusCode.UNKNOWN]


@pytest.mark.parametrize("method", ["Hello", "GetWorkItems"])
@pytest.mark.parametrize("code", CODES, ids=[c.name for c in CODES])
@pytest.mark.requirement("WRK-BACKOFF-004")
def test_error_storm(method, code, driver, fake, history, tolerance):
    start_worker(driver, fake.address, STORM_OPTS)
    first = wait_for_stream(history)
    assert first is not None, "the worker never opened GetWorkItems (setup failed; see history)"
    with fake.fault(method, Abort(code, f"injected {code.name} storm"), count=None):
        fake.end_streams(code)
        began = history.mark(f"every {method} fails with {code.name}").t
        time.sleep(STORM)
        ended = history.mark("storm lifted").t
    new_stream = wait_for_stream(history, after=ended,
                                 timeout=STORM_OPTS.reconnect_backoff_cap_seconds + tolerance + 5)
    token, queued_t = probe(fake, history, timeout=5)

    require(
        attempts_bounded(history, after=began, before=ended, base=STORM_OPTS.reconnect_backoff_base_seconds,
                         what=f"{method} fails with {code.name}"),
        work_completed(history, token=token, after=max(queued_t, new_stream.t if new_stream else queued_t),
                       within=tolerance),
        history=history,
    )
