"""Worker handshake: the Hello deadline and a half-open handshake.

PR #708's first root cause: "Hello had no deadline, so a half-open handshake could hang
forever". A half-open handshake is a server (or a proxy in front of it) that accepts the
connection and the call but never answers.

Procedure
  1. The fake is scripted to hang the first HANGS Hello calls (accept, never answer); the
     worker starts with a Hello timeout of 1 s and backoff base 0.1 / cap 1.0.
  2. The test waits for the first GetWorkItems stream (opened after the first answered Hello)
     and queues a probe.
Asserts (checkers)
  - WRK-HELLO-001: every Hello reaches the server with a deadline of the Hello timeout.
  - WRK-HELLO-002: each hung Hello is abandoned by the client hello_timeout after it started.
  - WRK-HELLO-003: after the i-th failed Hello the next Hello comes within the full-jitter
    window of attempt i+1 (P's numbering, the looser), measured from the failure.
  - WRK-HELLO-004: no GetWorkItems stream is opened on a failed Hello.
  - the stream opened after the handshake succeeds completes the probe (control: the
    scenario really reached a working stream, so the checks above saw the whole handshake).
"""

import pytest

from fakes.faults import Hang
from harness.checks.verdict import for_requirement, require
from harness.checks.windows import WorkerOptions, backoff_upper, first_reconnect_bound, guard
from harness.checks.worker import (
    hello_deadline,
    hello_retried_with_backoff,
    hung_hellos_abandoned,
    no_stream_on_failed_hello,
    work_completed,
)
from harness.workload import probe, start_worker, wait_for_stream

HANGS = 2
OPTIONS = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=2.0,
                        channel_recreate_failure_threshold=5,
                        reconnect_backoff_base_seconds=0.25, reconnect_backoff_cap_seconds=1.0)


@pytest.mark.needs("resiliency_options")
@pytest.mark.at_defaults("about 70 s at the design defaults: two hung Hellos of 30 s, backoff windows 2 and 4 s")
@pytest.mark.requirement("WRK-HELLO-001", "WRK-HELLO-002", "WRK-HELLO-003", "WRK-HELLO-004")
def test_half_open_handshake(driver, fake, history, tolerance, sdk_options):
    opts = sdk_options.worker(OPTIONS)  # OPTIONS, or the build's defaults when it cannot take them
    guard(tolerance, hello_timeout=opts.hello_timeout_seconds, first_reconnect=first_reconnect_bound(opts))
    fake.inject("Hello", Hang(), count=HANGS)
    start_worker(driver, fake.address, opts)
    base, cap = opts.reconnect_backoff_base_seconds, opts.reconnect_backoff_cap_seconds
    # Longest conforming path to the first stream: HANGS timeouts plus their backoff windows.
    budget = sum(opts.hello_timeout_seconds + backoff_upper(i + 1, base, cap) + tolerance
                 for i in range(HANGS))
    first = wait_for_stream(history, timeout=budget + 5)
    token, queued_t = probe(fake, history, timeout=5)

    require(
        *for_requirement("WRK-HELLO-001", hello_deadline(history, hello_timeout=opts.hello_timeout_seconds,
                                                         tolerance=tolerance)),
        *for_requirement("WRK-HELLO-002", hung_hellos_abandoned(
            history, hello_timeout=opts.hello_timeout_seconds, tolerance=tolerance)),
        *for_requirement("WRK-HELLO-003", hello_retried_with_backoff(history, base=base, cap=cap,
                                                                     tolerance=tolerance)),
        *for_requirement("WRK-HELLO-004", no_stream_on_failed_hello(history)),
        work_completed(history, token=token, after=max(queued_t, first.t if first else queued_t),
                       within=tolerance),
        history=history,
    )
