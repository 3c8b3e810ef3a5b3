"""Silent stall: a load balancer black-holes the established connection.

Procedure
  1. The fake sends a HealthPing every PING s (well under the silent timeout, so a healthy
     stream never trips it). A worker connects through Toxiproxy with OPTIONS.
  2. Once its GetWorkItems stream has delivered two pings, Toxiproxy's ``timeout`` toxic
     (timeout 0) drops every byte in both directions: the TCP connection stays open, nothing
     arrives.
  3. The black hole is held for silent timeout + Hello timeout + tolerance, then removed
     (Toxiproxy closes the black-holed connections when the toxic goes).
  4. A probe activity is queued.
Asserts (checkers)
  - WRK-STREAM-001: the worker abandons the stream T_silent after the last message it
    received (window T_silent +- tolerance).
  - WRK-STREAM-002: once the path heals, a new GetWorkItems stream arrives within one
    backoff cap (+ tolerance) and completes the probe.
"""

import time

import pytest

from harness.checks.verdict import for_requirement, inconclusive, require
from harness.checks.windows import WorkerOptions, any_reconnect_bound, guard
from harness.checks.worker import reconnected_within, stream_abandoned_after_silence, work_completed
from harness.history import NETWORK
from harness.workload import probe, start_worker, wait_for_messages, wait_for_stream

PING = 0.5
OPTIONS = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=2.0,
                        channel_recreate_failure_threshold=5,
                        reconnect_backoff_base_seconds=0.1, reconnect_backoff_cap_seconds=1.0)


@pytest.mark.needs("resiliency_options", "rpc_observer")
@pytest.mark.at_defaults("about 3 min at the design defaults: the black hole is held for silent 120 s + Hello 30 s, "
                         "then up to one backoff cap, 30 s")
@pytest.mark.requirement("WRK-STREAM-001", "WRK-STREAM-002")
def test_silent_stall_blackhole(driver, fake, link, history, tolerance, sdk_options):
    opts = sdk_options.worker(OPTIONS)  # OPTIONS, or the build's defaults when it cannot take them
    guard(tolerance, silent_timeout=opts.silent_disconnect_timeout_seconds, any_reconnect=any_reconnect_bound(opts))
    fake.set_health_ping_interval(PING)
    start_worker(driver, link.address, opts)
    first = wait_for_stream(history)
    if first is None:
        inconclusive("setup: the worker never opened GetWorkItems (see history)")
    if not wait_for_messages(history, first.get("call_id"), 2, timeout=5):
        inconclusive("setup: no pings delivered")

    with link.blackhole(stream="both"):
        fault_t = history.last(source=NETWORK, kind="fault_start").t
        time.sleep(opts.silent_disconnect_timeout_seconds + opts.hello_timeout_seconds + tolerance)
    healed_t = history.last(source=NETWORK, kind="fault_end").t

    bound = any_reconnect_bound(opts) + tolerance
    new_stream = wait_for_stream(history, after=healed_t, timeout=bound + 5)
    token, queued_t = probe(fake, history, timeout=bound + 5)

    require(
        *for_requirement("WRK-STREAM-001", stream_abandoned_after_silence(
            history, call_id=first.get("call_id"), fault_t=fault_t,
            silent_timeout=opts.silent_disconnect_timeout_seconds, tolerance=tolerance)),
        *for_requirement("WRK-STREAM-002", reconnected_within(history, after=healed_t, within=bound),
                         work_completed(history, token=token,
                                        after=max(queued_t, new_stream.t if new_stream else queued_t),
                                        within=tolerance)),
        history=history,
    )
