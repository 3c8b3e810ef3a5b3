"""The worker's counters and backoff after a channel recreation (promises.md RECREATE-5, BACKOFF-3).

- The failure count starts again at 0. N: a recreation builds a new Processor "whose counters start at
  0"; P does not say (promises.md section 9, "Counter after recreation: not stated | reset"). We follow N,
  at SHOULD: a count left at the threshold makes every further failure another recreation (another
  channel, another TCP connection) until a message arrives, the churn the threshold exists to prevent.
- A recreation adds no wait. N connects at once on the new channel ("before that iteration's delay");
  P's package keeps its attempt counter and sleeps the ordinary backoff of the attempt. Both stay within
  the full-jitter window of the attempt, min(cap, base·2^k) (P's numbering, the looser): a build that
  also waits for the new channel (a settle delay, a fixed pause, the cap) before its first Hello on it
  prolongs every outage by that much. MUST: both designs satisfy it.

Procedures (threshold N = 2; the fake fails the first Hellos with UNAVAILABLE, then lets the worker in)
  - counter: 2N - 1 failed Hellos, then a working stream.
  - no wait: N failed Hellos (recreation after the N-th), then a working stream.
Asserts
  - WRK-RECREATE-001 (SHOULD, N): 2N - 1 consecutive failures recreate the channel exactly once.
  - WRK-RECREATE-002: every failed Hello, the N-th included, is followed by the next Hello within the
    window of its attempt + tolerance; control: the N-th failure did recreate the channel.
"""

import grpc
import pytest

from fakes.faults import Abort
from harness.checks.client import recreations_exactly, sdk_channel_created
from harness.checks.verdict import control, inconclusive, require
from harness.checks.windows import WorkerOptions, backoff_upper, guard
from harness.checks.worker import hello_retried_with_backoff
from harness.history import DRIVER
from harness.workload import start_worker, wait_for_stream

OPTIONS = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=2.0,
                        channel_recreate_failure_threshold=2,
                        reconnect_backoff_base_seconds=0.2, reconnect_backoff_cap_seconds=2.0)
UNAVAILABLE = Abort(grpc.StatusCode.UNAVAILABLE, "injected transport failure")


def _run(driver, fake, history, opts: WorkerOptions, failures: int):
    """A worker whose first ``failures`` Hellos fail; returns (its first SDK channel, its first stream)."""
    fake.inject("Hello", UNAVAILABLE, count=failures)
    start_worker(driver, fake.address, opts)
    bound = sum(backoff_upper(k, opts.reconnect_backoff_base_seconds, opts.reconnect_backoff_cap_seconds)
                for k in range(1, failures + 1))
    stream = wait_for_stream(history, timeout=bound + failures * opts.hello_timeout_seconds + 5)
    first = history.first(source=DRIVER, kind="channel_created", owner="sdk")
    if stream is None or first is None:
        inconclusive("setup: the worker never got a stream after the failed Hellos")
    return first, stream


@pytest.mark.needs("resiliency_options", "rpc_observer", "sdk_channel")
@pytest.mark.at_defaults("up to 5 min at the defaults: threshold 5, so 9 failed Hellos with backoff up to 30 s "
                         "(durabletask 1.4.0: about 5 min, its Hellos come about 30 s apart)")
@pytest.mark.requirement("WRK-RECREATE-001")
def test_counter_restarts_after_recreation(driver, fake, history, tolerance, sdk_options):
    opts = sdk_options.worker(OPTIONS)
    n = opts.channel_recreate_failure_threshold
    guard(tolerance, first_backoff_window=2 * opts.reconnect_backoff_base_seconds)
    first, stream = _run(driver, fake, history, opts, 2 * n - 1)
    require(recreations_exactly(history, after=first.t + 1e-6, before=stream.t, count=1,
                                why=f"{2 * n - 1} consecutive failed Hellos, threshold {n}"),
            history=history)


@pytest.mark.needs("resiliency_options", "rpc_observer", "sdk_channel")
@pytest.mark.at_defaults("1-3 min at the defaults: threshold 5 failed Hellos with backoff up to 30 s")
@pytest.mark.requirement("WRK-RECREATE-002")
def test_recreation_adds_no_wait(driver, fake, history, tolerance, sdk_options):
    opts = sdk_options.worker(OPTIONS)
    n = opts.channel_recreate_failure_threshold
    guard(tolerance, first_backoff_window=2 * opts.reconnect_backoff_base_seconds)
    first, stream = _run(driver, fake, history, opts, n)
    require(
        control(sdk_channel_created(history, after=first.t + 1e-6, before=stream.t,
                                    why=f"{n} consecutive failed Hellos, threshold {n}")),
        hello_retried_with_backoff(history, base=opts.reconnect_backoff_base_seconds,
                                   cap=opts.reconnect_backoff_cap_seconds, tolerance=tolerance),
        history=history,
    )
