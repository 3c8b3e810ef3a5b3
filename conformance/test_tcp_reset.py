"""TCP RST on the established GetWorkItems connection.

Procedure
  1. The fake sends HealthPings every PING s; a worker connects through Toxiproxy.
  2. The driver reports the SDK process's own TCP sockets; the one connected to the proxy is
     the worker's connection. ``ss -K`` destroys the proxy's end of it, so the kernel sends a
     real RST to the SDK's socket (Toxiproxy's ``reset_peer`` toxic cannot reset an already
     established connection with an RST: see harness/net/link.py). A raw-socket sniffer on
     loopback records the RST segment as evidence.
  3. A probe activity is queued after the worker reconnects.
Asserts (checkers)
  - NET-RST-001 (harness self-check, so its verdicts are controls: a failure makes the test
    INCONCLUSIVE, never a FAIL of the SDK): an RST segment reached the SDK's port and the SDK's
    GetWorkItems call failed with a connection reset, not a clean close.
  - WRK-BACKOFF-001: the first connect attempt after the failure (the Hello; a GetWorkItems for a
    build that opens its stream without one) comes within the first full-jitter window,
    min(cap, 2*base) + tolerance.
  - WRK-STREAM-002: the new stream is a working one (the probe completes).
Variants: "configured" sets OPTIONS; "sdk-defaults" sets nothing and holds the SDK to the
promised defaults (base 1 s, cap 30 s: first window 2 s), so it runs on builds that predate
the resiliency options too.
Needs root (ss -K and the packet sniffer); without it the test reports what is missing.
"""

import pytest

from harness.checks.conn import client_saw_reset, rst_reached_client
from harness.checks.verdict import control, for_requirement, inconclusive, require
from harness.checks.windows import WorkerOptions, first_reconnect_bound, guard
from harness.checks.worker import connect_attempt_within, work_completed
from harness.history import DRIVER, NETWORK
from harness.workload import probe, start_worker, wait_for_messages, wait_for_stream

PING = 0.5
OPTIONS = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=2.0,
                        channel_recreate_failure_threshold=5,
                        reconnect_backoff_base_seconds=0.25, reconnect_backoff_cap_seconds=1.0)


@pytest.mark.parametrize("options", [
    pytest.param(OPTIONS, id="configured", marks=[pytest.mark.needs("resiliency_options"), pytest.mark.at_defaults(
        "seconds: at the design defaults the first backoff window is 2 s, as in sdk-defaults", slow=False)]),
    pytest.param(None, id="sdk-defaults"),  # runs on every version, with the promised default window
])
@pytest.mark.needs("rpc_observer")
@pytest.mark.requirement("NET-RST-001", "WRK-BACKOFF-001", "WRK-STREAM-002")
def test_tcp_reset_on_established_stream(options, driver, fake, link, history, tolerance, sdk_options):
    from harness.net.rst_sniffer import RstSniffer

    # configured: OPTIONS, or (a build without them) its own declared defaults; sdk-defaults: the PROMISED
    # defaults (promises.md §1), whatever the build declares -- a build whose defaults differ (Java's
    # fixed 5 s retry) is held to the documented first window of 2 s here, not to its own.
    opts = sdk_options.worker(options) if options is not None else WorkerOptions()
    guard(tolerance, first_reconnect=first_reconnect_bound(opts))
    fake.set_health_ping_interval(PING)
    start_worker(driver, link.address, None if options is None else opts)  # sdk-defaults: configure nothing
    first = wait_for_stream(history)
    if first is None:
        inconclusive("setup: the worker never opened GetWorkItems (see history)")
    if not wait_for_messages(history, first.get("call_id"), 1, timeout=5):
        inconclusive("setup: no ping delivered")

    client_port = link.client_port_of(driver)
    with RstSniffer(history, ports={link.listen_port}):
        link.tcp_reset(client_port)
        # ss -K acts while the command runs: the RST leaves before the tcp_reset event is
        # written, so the window starts when the reset was requested.
        reset_t = history.last(source=NETWORK, kind="tcp_reset").get("requested_t")
        bound = first_reconnect_bound(opts) + tolerance
        new_stream = wait_for_stream(history, after=reset_t, timeout=bound + 5)
    token, queued_t = probe(fake, history, timeout=5)

    # The backoff starts when the SDK sees the failure; the driver reports that moment.
    seen = history.first(source=DRIVER, kind="rpc_done", method="GetWorkItems", after=reset_t)
    failed_t = seen.t if seen is not None else reset_t
    require(
        *for_requirement("NET-RST-001", control(rst_reached_client(history, client_port=client_port)),
                         control(client_saw_reset(history, after=reset_t))),
        *for_requirement("WRK-BACKOFF-001", connect_attempt_within(history, after=failed_t, within=bound)),
        *for_requirement("WRK-STREAM-002", work_completed(
            history, token=token, after=max(queued_t, new_stream.t if new_stream else queued_t),
            within=tolerance)),
        history=history,
    )
