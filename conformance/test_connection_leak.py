"""No connection leak: K fault cycles leave the SDK process with a bounded number of connections.

Procedure
  1. The fake pings every PING s; a worker with an SDK-owned channel connects directly to the fake.
  2. K times: the fault (``graceful``: the server ends the stream with OK, after which the worker
     reconnects on a fresh SDK-owned channel and retires the old one; ``tcp_reset``: ``ss -K`` destroys
     the server's socket of the worker's current connection, a real RST); the test waits for the new
     stream's first message, then one tolerance, then samples the SDK process's own sockets
     (``driver.connections()``, ESTABLISHED to the fake's port) into a ``tcp_connections`` event.
Asserts (checkers)
  - CONN-LEAK-001: at every sample at most BOUND TCP connections are open to the server, and at most
    BOUND SDK-owned channels are open (driver channel_created minus channel_closed; counted too because
    grpc's global subchannel pool lets a leaked channel hide behind the new channel's connection).
    BOUND = 1 active + the retired channels still inside their grace period. P promises "a short grace
    period" without a number and 1.12.0 closes a retired channel as soon as no in-flight work holds it
    (``_InFlightChannelTracker``); no work is in flight here, so the grace is 0 and BOUND = 1. (N closes
    after 30 s: a .NET driver would declare RETIRE_GRACE_S = 30 and get BOUND = 1 + K.)
  - control: every cycle's fault really ended a stream (K server-ended streams / K resets) and was
    followed by a new stream, so K cycles were observed (a failed control makes the test INCONCLUSIVE;
    whether the worker reconnects is judged by WRK-GRACEFUL-001 and WRK-BACKOFF-001, not here).
"""

import time

import pytest

from harness.checks.conn import max_open_connections, max_open_sdk_channels
from harness.checks.verdict import Verdict, control, inconclusive, require
from harness.checks.windows import WorkerOptions, any_reconnect_bound, guard
from harness.history import FAKE, NETWORK, SCENARIO
from harness.net.conn import ConnectionFaults, established_to
from harness.workload import start_worker, wait_for_messages, wait_for_stream

PING = 0.3
K = 5
RETIRE_GRACE_S = 0.0  # P / durabletask-python: retired channels close once no in-flight work holds them
OPTIONS = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=2.0,
                        channel_recreate_failure_threshold=5,
                        reconnect_backoff_base_seconds=0.1, reconnect_backoff_cap_seconds=1.0)


def _sample(history, driver, port):
    conns = [c.four_tuple for c in established_to(driver, port)]
    return history.record(SCENARIO, "tcp_connections", count=len(conns), connections=conns, port=port).t


@pytest.mark.needs("resiliency_options", "sdk_channel")
@pytest.mark.at_defaults("under a minute at the design defaults: 5 cycles, each reconnect within the first "
                         "backoff window, 2 s")
@pytest.mark.requirement("CONN-LEAK-001")
@pytest.mark.parametrize("fault", ["graceful", "tcp_reset"])
def test_no_connection_leak_after_fault_cycles(driver, fake, history, tolerance, fault, sdk_options):
    guard(tolerance)  # its checks add the tolerance to no option-derived window (windows.guard)
    opts = sdk_options.worker(OPTIONS)  # OPTIONS, or the build's defaults when it cannot take them
    if fault == "tcp_reset":
        ConnectionFaults.check_available()
    faults = ConnectionFaults(history)
    fake.set_health_ping_interval(PING)
    start_worker(driver, fake.address, opts)
    stream = wait_for_stream(history)
    if stream is None:
        inconclusive("setup: the worker never opened GetWorkItems (see history)")
    if not wait_for_messages(history, stream.get("call_id"), 1, timeout=5):
        inconclusive("setup: no ping delivered")
    samples = [_sample(history, driver, fake.port)]
    cycles = 0
    for _ in range(K):
        t = time.monotonic()
        if fault == "graceful":
            fake.end_streams("OK", "server closing the stream")
        else:
            faults.reset(faults.connection_of(driver, fake.port), side="server")
        nxt = wait_for_stream(history, after=t, timeout=any_reconnect_bound(opts) + opts.hello_timeout_seconds + 5)
        if nxt is None or not wait_for_messages(history, nxt.get("call_id"), 1, timeout=5):
            break
        cycles += 1
        time.sleep(RETIRE_GRACE_S + tolerance)
        samples.append(_sample(history, driver, fake.port))
    bound = 1  # 1 active + retired channels inside RETIRE_GRACE_S (0 here: see the module docstring)
    ended = (len([e for e in history.select(FAKE, "rpc_end", method="GetWorkItems") if e.get("ended_by") == "server"])
             if fault == "graceful" else len(history.select(NETWORK, "tcp_reset")))
    require(
        control(Verdict(f"control: {K} fault cycles each followed by a new working stream",
                        cycles == K and ended >= K,
                        f"{cycles}/{K} cycles reconnected, {ended} stream(s) ended by the fault", {"cycles": cycles})),
        max_open_connections(history, at_most=bound),
        max_open_sdk_channels(history, at_most=bound, samples=samples),
        history=history,
    )
