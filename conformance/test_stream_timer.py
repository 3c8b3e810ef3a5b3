"""The silent-disconnect timer at its edges: before the first message, and switched off (HEALTH-1).

N arms the timer before the first read, so the gap before the first message is bounded too; P bounds
"the maximum idle period on the GetWorkItems stream", which a stream that never delivers anything is
in from its start. A half-open connect (the server, or a proxy, accepts the call and then says
nothing: not even response headers) is exactly the silent stall, at connect time. Both designs let a
value <= 0 switch the timer off (the Python package takes 0; it rejects negative values).

Procedures (the fake holds GetWorkItems open and sends nothing at all: ``Hang``, no pings)
  - armed: silent timeout T; the worker's first stream hangs.
  - off: silent timeout 0; the worker's first stream hangs for 2·T + tolerance (T of the armed case).
Asserts
  - WRK-TIMER-001: the worker gives the silent stream up T after it opened (window T +- tolerance).
  - WRK-TIMER-002: with the timer off the worker keeps the silent stream (no give-up, no new connect
    attempt) for 2·T + tolerance. Control: when the server then ends the open stream (UNAVAILABLE), the
    driver reports a stream's end, so a give-up would have been seen.
"""

import time

import pytest

from fakes.faults import Hang
from harness.checks.promises import stream_end_observed
from harness.checks.verdict import control, inconclusive, require
from harness.checks.windows import BACKGROUND_ACTION_WAIT_S, WorkerOptions, guard
from harness.checks.worker import stream_abandoned_after_silence, stream_kept_alive
from harness.history import DRIVER
from harness.workload import start_worker, wait_for_stream

ARMED = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=1.0,
                      channel_recreate_failure_threshold=5,
                      reconnect_backoff_base_seconds=0.1, reconnect_backoff_cap_seconds=1.0)
OFF = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=0.0,
                    channel_recreate_failure_threshold=5,
                    reconnect_backoff_base_seconds=0.1, reconnect_backoff_cap_seconds=1.0)


@pytest.mark.needs("resiliency_options", "rpc_observer")
@pytest.mark.at_defaults("about 2 min at the defaults: one silent timeout (120 s) and a little more")
@pytest.mark.requirement("WRK-TIMER-001")
def test_timer_armed_before_first_message(driver, fake, history, tolerance, sdk_options):
    opts = sdk_options.worker(ARMED)
    t_silent = opts.silent_disconnect_timeout_seconds
    guard(tolerance, silent_timeout=t_silent)
    fake.inject("GetWorkItems", Hang(), count=1)
    start_worker(driver, fake.address, opts)
    first = wait_for_stream(history)
    if first is None:
        inconclusive("setup: the worker never opened GetWorkItems")
    # Pacing: long enough to tell a late give-up (up to another ARMED timeout) from none.
    time.sleep(t_silent + ARMED.silent_disconnect_timeout_seconds + tolerance)
    require(stream_abandoned_after_silence(history, call_id=first.get("call_id"), fault_t=first.t,
                                           silent_timeout=t_silent, tolerance=tolerance),
            history=history)


@pytest.mark.needs("resiliency_options", "rpc_observer")
@pytest.mark.at_defaults(infeasible="the promise is about the option's value 0, which a build without the "
                         "option cannot be given")
@pytest.mark.requirement("WRK-TIMER-002")
def test_zero_switches_the_timer_off(driver, fake, history, tolerance, sdk_options):
    hold = 2 * ARMED.silent_disconnect_timeout_seconds + tolerance
    guard(tolerance, hold=hold)
    fake.inject("GetWorkItems", Hang(), count=1)
    start_worker(driver, fake.address, sdk_options.worker(OFF))
    first = wait_for_stream(history)
    if first is None:
        inconclusive("setup: the worker never opened GetWorkItems")
    time.sleep(hold)
    until = first.t + hold
    # Control: the same observation sees a stream end when one does end (the server cuts the open one).
    fake.end_streams("UNAVAILABLE", "control: the server ends the stream")
    history.wait_for(BACKGROUND_ACTION_WAIT_S, source=DRIVER, kind="rpc_done", method="GetWorkItems", after=until)
    require(
        control(stream_end_observed(history, after=until)),
        stream_kept_alive(history, call_id=first.get("call_id"), until=until),
        history=history,
    )
