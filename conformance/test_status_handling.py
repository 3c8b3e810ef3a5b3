"""CANCELLED, UNAUTHENTICATED and NOT_FOUND from the server on Hello or GetWorkItems (CONN-4, HEALTH-6).

These statuses say the transport works: CANCELLED is what daprd sends when it shuts down and what
DTS's RST_STREAM CANCEL turns into; UNAUTHENTICATED is a token that is not valid (yet); NOT_FOUND a
task hub that does not exist yet (N's code comment). A new channel fixes none of them (P: errors
"channel recreation is unlikely to fix"; N: non-poison, retried, test
``ProcessorExecuteAsync_NonPoisonHandshakeFailures_RetryWithoutChannelRecreate``), and none of them
may stop the worker (P CHANGELOG: workers "reconnect after a peer cancellation and still exit
normally when stopped").

Procedure (for each of the three codes on Hello and on GetWorkItems; threshold N = 2)
  1. The fake fails the first N + 1 calls of the method with the code; a worker connects.
  2. Once the errors are used up, a probe activity is queued: the worker must have a working stream.
  3. Control: the fake ends the stream with UNAVAILABLE and fails the next N - 1 Hellos with
     UNAVAILABLE, N counted failures: the worker recreates its channel (the observation sees one).
Asserts
  - WRK-STATUS-001: no channel recreation while the N + 1 errors came (they are not counted).
  - WRK-STATUS-002: the worker kept retrying (it did not exit): a new stream within one backoff cap
    (+ tolerance) of the last error, and the probe completes on it.
"""

import time

import grpc
import pytest

from fakes.faults import Abort
from harness.checks.client import no_sdk_channel_created, sdk_channel_created
from harness.checks.conn import server_fault_fired
from harness.checks.promises import faults_fired
from harness.checks.verdict import control, for_requirement, require
from harness.checks.windows import BACKGROUND_ACTION_WAIT_S, WorkerOptions, any_reconnect_bound, guard
from harness.checks.worker import reconnected_within, work_completed
from harness.history import DRIVER, FAKE
from harness.workload import probe, start_worker, wait_for_stream

OPTIONS = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=2.0,
                        channel_recreate_failure_threshold=2,
                        reconnect_backoff_base_seconds=0.2, reconnect_backoff_cap_seconds=2.0)
CASES = [(m, c) for m in ("Hello", "GetWorkItems") for c in ("CANCELLED", "UNAUTHENTICATED", "NOT_FOUND")]


def _wait_faults(history, method: str, code: str, count: int, step: float) -> None:
    """Until ``count`` faults fired, or no new one within ``step`` s of the last (a worker that gave up
    does not make us wait for every error it will never draw: that would be minutes at the defaults)."""
    seen, last_progress = 0, time.monotonic()
    while seen < count and time.monotonic() - last_progress < step:
        n = len(history.select(FAKE, "server_fault", method=method, code=code))
        if n > seen:
            seen, last_progress = n, time.monotonic()
        time.sleep(0.02)


def _control_recreation(fake, history, stream, opts: WorkerOptions) -> float:
    """N counted failures (the stream ends UNAVAILABLE, then N - 1 Hellos fail UNAVAILABLE); returns
    when it began."""
    t = time.monotonic()
    n = opts.channel_recreate_failure_threshold
    if n > 1:
        fake.inject("Hello", Abort(grpc.StatusCode.UNAVAILABLE, "control: counted failure"), count=n - 1)
    fake.end_stream(stream.get("call_id"), "UNAVAILABLE", "control: counted failure")
    history.wait_for(n * (any_reconnect_bound(opts) + opts.hello_timeout_seconds) + BACKGROUND_ACTION_WAIT_S,
                     source=DRIVER, kind="channel_created", owner="sdk", after=t)
    return t


@pytest.mark.needs("resiliency_options", "rpc_observer")
@pytest.mark.at_defaults("1-3 min per case at the defaults: threshold 5, so 6 errors, each followed by a "
                         "backoff of up to min(30, 2^k) s")
@pytest.mark.requirement("WRK-STATUS-001", "WRK-STATUS-002")
@pytest.mark.parametrize("method, code", CASES, ids=[f"{m}-{c}" for m, c in CASES])
def test_non_transport_status_retried_uncounted(driver, fake, history, tolerance, method, code, sdk_options):
    opts = sdk_options.worker(OPTIONS)
    errors = opts.channel_recreate_failure_threshold + 1
    bound = any_reconnect_bound(opts) + tolerance
    guard(tolerance, first_backoff_window=2 * opts.reconnect_backoff_base_seconds)
    fake.inject(method, Abort(getattr(grpc.StatusCode, code), f"injected {code}"), count=errors)
    start_worker(driver, fake.address, opts)
    _wait_faults(history, method, code, errors, step=bound + opts.hello_timeout_seconds + 5)
    last_error = history.last(source=FAKE, kind="server_fault", method=method)
    errors_end = last_error.t if last_error is not None else time.monotonic()
    stream = wait_for_stream(history, after=errors_end, timeout=bound + 5)
    first_channel = history.first(source=DRIVER, kind="channel_created", owner="sdk")
    if stream is None:  # the worker gave up (the defect WRK-STATUS-002 names), maybe at the first error
        require(control(server_fault_fired(history, method=method)),
                *for_requirement("WRK-STATUS-002", reconnected_within(history, after=errors_end, within=bound,
                                                                      what="GetWorkItems stream")),
                history=history)
    token, queued = probe(fake, history, timeout=bound + 5)
    control_t = _control_recreation(fake, history, stream, opts)
    n = opts.channel_recreate_failure_threshold
    require(
        control(faults_fired(history, method=method, code=code, count=errors)),
        control(sdk_channel_created(history, after=control_t,
                                    why=f"control: {n} UNAVAILABLE (stream, Hello) with threshold {n}")),
        *for_requirement("WRK-STATUS-001", no_sdk_channel_created(
            history, after=(first_channel.t if first_channel else 0.0) + 1e-6, before=stream.t,
            why=f"{errors} x {code} on {method} with threshold {n}")),
        *for_requirement("WRK-STATUS-002",
                         reconnected_within(history, after=errors_end, within=bound, what="GetWorkItems stream"),
                         work_completed(history, token=token, after=max(queued, stream.t), within=tolerance)),
        history=history,
    )
