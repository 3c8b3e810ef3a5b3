"""Worker reconnect backoff: full jitter, its growth and reset, and error storms.

test_backoff_distribution (WRK-BACKOFF-002)
  1. Storm: the fake aborts the first FAILURES Hello calls with UNAVAILABLE; base 0.2 s, cap 1.6 s
     (cap/base = 8, so from the 5th delay on every design is in the capped regime).
  2. Ramps: RAMPS times, a Hello is answered (the attempt counter restarts: P on the Hello, N on the
     stream's first message), the stream delivers one message and is aborted with UNAVAILABLE, and the
     next Hello is aborted too: each ramp adds the delays of attempts 1 and 2 of a fresh run, whose
     windows (2*base, 4*base) lie below the cap.
  Each delay is measured from the moment the SDK saw the failure (driver ``rpc_done``) to the next
  Hello at the fake, and numbered by its place in its run of consecutive failures.
  - every delay lies below its window min(cap, base*2^(j+1)) + tolerance;
  - the capped delays are U[0, cap): KS distance within the DKW bound at alpha = 5e-4 plus a
    latency allowance (harness/checks/worker.py backoff_distribution). Always 0, always the cap,
    a fixed delay, or no growth beyond 2*base all fail;
  - the early delays stay within their own windows (one-sided DKW test at alpha = 5e-4,
    worker.backoff_ramp): jitter over the capped window from the first attempt ("no ramp") fails.
    The test's false-failure probability is at most 1e-3 (both tests, union bound);
  - after the ramps the worker connects and completes a probe.

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

import math
import time

import grpc
import pytest

from fakes.faults import Abort, Delay
from harness.checks.verdict import require
from harness.checks.windows import WorkerOptions, first_reconnect_bound, guard
from harness.checks.worker import (
    attempts_bounded,
    backoff_distribution,
    backoff_ramp,
    delays_within_first_window,
    guard_backoff_distribution,
    ramp_windows,
    work_completed,
)
from harness.history import FAKE
from harness.workload import probe, start_worker, wait_for_stream

DIST = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=2.0,
                     channel_recreate_failure_threshold=1000,  # keep one channel: measure backoff only
                     reconnect_backoff_base_seconds=0.2, reconnect_backoff_cap_seconds=1.6)
FAILURES = 44  # 40 delays in the capped regime (the first 4 are not)
# The first attempt capped under both designs (checks.worker.backoff_distribution): 4 for DIST.
FIRST_CAPPED = math.ceil(math.log2(DIST.reconnect_backoff_cap_seconds / DIST.reconnect_backoff_base_seconds)) + 1
RAMPS = 24  # 2 early delays each (attempts 1 and 2 of a fresh run), 2 more from the storm: 50 in all

RESET = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=2.0,
                      channel_recreate_failure_threshold=1000,
                      reconnect_backoff_base_seconds=0.2, reconnect_backoff_cap_seconds=3.2)
SAMPLES = 8

STORM_OPTS = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=2.0,
                           channel_recreate_failure_threshold=5,
                           reconnect_backoff_base_seconds=0.1, reconnect_backoff_cap_seconds=1.0)
STORM = 2.0


@pytest.mark.needs("resiliency_options")
@pytest.mark.at_defaults(infeasible="about 15 min at the design defaults: 40 delays in the capped regime, mean "
                                    "15 s each, plus the ramps")
@pytest.mark.requirement("WRK-BACKOFF-002")
def test_backoff_distribution(driver, fake, history, tolerance):
    base, cap = DIST.reconnect_backoff_base_seconds, DIST.reconnect_backoff_cap_seconds
    # The windows: every attempt's own one below the cap, then the cap; and the KS test must still see a
    # build with a fixed delay (its first FIRST_CAPPED delays are not capped: checks.worker.backoff_distribution).
    guard(tolerance, **{f"backoff window of attempt {j}": w for j, w in enumerate(ramp_windows(base, cap))},
          backoff_cap=cap)
    guard_backoff_distribution(tolerance, cap=cap, samples=FAILURES - FIRST_CAPPED)
    fake.inject("Hello", Abort(grpc.StatusCode.UNAVAILABLE, "injected backoff storm"), count=FAILURES)
    for _ in range(RAMPS):  # the fake's rules fire in order: answer one Hello, then fail the next one
        fake.inject("Hello", Delay(0), count=1)
        fake.inject("Hello", Abort(grpc.StatusCode.UNAVAILABLE, "injected ramp"), count=1)
    fake.inject("GetWorkItems", Abort(grpc.StatusCode.UNAVAILABLE, "injected ramp", after_messages=1), count=RAMPS)
    start_worker(driver, fake.address, DIST)
    # Pacing only: the storm's sleeps are at most the cap, each ramp's at most 2*base + 4*base.
    budget = FAILURES * (cap + tolerance) + RAMPS * (6 * base + 2 * tolerance) + 5
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline and len(history.select(FAKE, "server_fault", method="GetWorkItems")) < RAMPS:
        time.sleep(0.05)
    last_ramp = history.last(source=FAKE, kind="server_fault", method="GetWorkItems")
    first = wait_for_stream(history, after=last_ramp.t if last_ramp else None, timeout=2 * (cap + tolerance) + 5)
    token, queued_t = probe(fake, history, timeout=5)

    require(
        backoff_distribution(history, base=base, cap=cap, tolerance=tolerance),
        backoff_ramp(history, base=base, cap=cap, tolerance=tolerance, min_samples=2 * RAMPS + 2),
        work_completed(history, token=token, after=max(queued_t, first.t if first else queued_t),
                       within=tolerance),
        history=history,
    )


@pytest.mark.needs("resiliency_options")
@pytest.mark.at_defaults("about 20 s at the design defaults (8 delays below 2 s); a build that never resets "
                         "waits up to the cap, 30 s, per delay")
@pytest.mark.requirement("WRK-BACKOFF-003")
def test_hello_success_resets_attempts(driver, fake, history, tolerance, sdk_options):
    opts = sdk_options.worker(RESET)  # RESET, or the build's defaults when it cannot take them
    guard(tolerance, first_window=first_reconnect_bound(opts))
    fake.inject("GetWorkItems", Abort(grpc.StatusCode.UNAVAILABLE, "injected after Hello"), count=SAMPLES)
    start_worker(driver, fake.address, opts)
    # Pacing only: a conforming build needs ~SAMPLES * base; a non-resetting one up to the cap each.
    deadline = time.monotonic() + SAMPLES * (opts.reconnect_backoff_cap_seconds + tolerance) + 5
    while time.monotonic() < deadline and len(history.select(FAKE, "rpc_start", method="GetWorkItems")) <= SAMPLES:
        time.sleep(0.05)
    token, queued_t = probe(fake, history, timeout=5)
    last = history.last(source=FAKE, kind="rpc_start", method="GetWorkItems")

    require(
        delays_within_first_window(history, method="GetWorkItems", base=opts.reconnect_backoff_base_seconds,
                                   cap=opts.reconnect_backoff_cap_seconds, tolerance=tolerance,
                                   min_samples=SAMPLES),
        work_completed(history, token=token, after=max(queued_t, last.t if last else queued_t), within=tolerance),
        history=history,
    )


CODES = [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INTERNAL,
         grpc.StatusCode.UNKNOWN]


@pytest.mark.parametrize("method", ["Hello", "GetWorkItems"])
@pytest.mark.parametrize("code", CODES, ids=[c.name for c in CODES])
@pytest.mark.needs("resiliency_options")
@pytest.mark.at_defaults("under a minute at the design defaults: the storm lasts STORM s, recovery within one "
                         "backoff cap, 30 s")
@pytest.mark.requirement("WRK-BACKOFF-004")
def test_error_storm(method, code, driver, fake, history, tolerance, sdk_options):
    guard(tolerance)  # its checks add the tolerance to no option-derived window (windows.guard)
    opts = sdk_options.worker(STORM_OPTS)  # STORM_OPTS, or the build's defaults when it cannot take them
    start_worker(driver, fake.address, opts)
    first = wait_for_stream(history)
    assert first is not None, "the worker never opened GetWorkItems (setup failed; see history)"
    with fake.fault(method, Abort(code, f"injected {code.name} storm"), count=None):
        fake.end_streams(code)
        began = history.mark(f"every {method} fails with {code.name}").t
        time.sleep(STORM)
        ended = history.mark("storm lifted").t
    new_stream = wait_for_stream(history, after=ended,
                                 timeout=opts.reconnect_backoff_cap_seconds + tolerance + 5)
    token, queued_t = probe(fake, history, timeout=5)

    require(
        attempts_bounded(history, after=began, before=ended, base=opts.reconnect_backoff_base_seconds,
                         what=f"{method} fails with {code.name}"),
        work_completed(history, token=token, after=max(queued_t, new_stream.t if new_stream else queued_t),
                       within=tolerance),
        history=history,
    )
