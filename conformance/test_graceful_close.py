"""Graceful close: the server ends GetWorkItems with status OK, or drains with GOAWAY.

Durable Task Scheduler drains an instance with "HTTP/2 GOAWAY + OK trailers" during rolling
upgrades (promises.md HEALTH-4/5). The Python design (P) promises for both OK cases: reconnect
at once, on a fresh SDK-owned channel, WITHOUT counting the close as a transport failure.
The two cases are classified differently by the SDK (before vs after the first message);
what P makes observable is the same handling for both, and that neither counts.

Procedure (ok-before-first / ok-after-first)
  1. The fake is scripted to end the first N GetWorkItems streams with OK (before any message,
     or after one HealthPing), N = the recreate threshold (2 as configured; 5 at the design
     defaults on a build without options), then to fail the next with UNAVAILABLE, then to serve
     normally.
  2. A probe activity is queued once the fourth stream is open.
Asserts
  - WRK-GRACEFUL-001: after each OK close the next connect attempt (the Hello, or GetWorkItems for
    a build without one) comes within the first backoff window (P says "immediately"; .NET
    applies a backoff drawn from [0, base) -- both fit).
  - WRK-GRACEFUL-002 (P): each OK close is followed by a fresh SDK-owned channel.
  - WRK-GRACEFUL-003: the closes are not counted: the single UNAVAILABLE that follows them
    leaves the failure count at 1 < threshold, so the channel is NOT recreated for it. (Had the
    N closes counted, the count would be N + 1 >= N and the worker would recreate.)
  - the stream after the UNAVAILABLE completes the probe.

Procedure (goaway): a healthy stream; the fake starts a second server generation on the same
port, ends the old generation's streams with OK and stops it with a grace period (GOAWAY).
  - WRK-GRACEFUL-001: the next connect attempt (on the new generation) comes within the first backoff
    window; the new stream completes the probe.
"""

import grpc
import pytest

from fakes.faults import Abort, EndOk
from harness.checks.client import no_sdk_channel_created, sdk_channel_created
from harness.checks.queries import call_end, server_close_time, streams
from harness.checks.verdict import Verdict, control, for_requirement, inconclusive, require
from harness.checks.windows import WorkerOptions, first_reconnect_bound, guard
from harness.checks.worker import connect_attempt_within, work_completed
from harness.history import FAKE
from harness.workload import probe, start_worker, wait_for_messages, wait_for_stream

PING = 0.5
OPTIONS = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=2.0,
                        channel_recreate_failure_threshold=2,
                        reconnect_backoff_base_seconds=0.25, reconnect_backoff_cap_seconds=1.0)


@pytest.mark.parametrize("after_messages", [0, 1], ids=["ok-before-first", "ok-after-first"])
@pytest.mark.needs("resiliency_options")
@pytest.mark.at_defaults("about 15 s at the design defaults: 5 closes (threshold 5), each reconnect within 2 s",
                         slow=False)
@pytest.mark.requirement("WRK-GRACEFUL-001", "WRK-GRACEFUL-002", "WRK-GRACEFUL-003")
def test_ok_close(after_messages, driver, fake, history, tolerance, sdk_options):
    opts = sdk_options.worker(OPTIONS)
    guard(tolerance, first_reconnect=first_reconnect_bound(opts))
    closes = opts.channel_recreate_failure_threshold  # one more counted failure would recreate
    fake.set_health_ping_interval(PING)
    fake.inject("GetWorkItems", EndOk(after_messages=after_messages), count=closes)
    fake.inject("GetWorkItems", Abort(grpc.StatusCode.UNAVAILABLE, "injected after graceful closes"), count=1)
    start_worker(driver, fake.address, opts)

    bound = first_reconnect_bound(opts) + tolerance
    fourth = None  # the stream after the UNAVAILABLE
    for _ in range(closes + 2):
        fourth = wait_for_stream(history, after=fourth.t + 1e-6 if fourth else None, timeout=bound + 5)
        if fourth is None:
            break
    token, queued_t = probe(fake, history, timeout=5)

    # Judged on the streams that came: a worker that stops reconnecting fails the next attempt's window
    # (WRK-GRACEFUL-001) and the probe; a scripted fault that did not take effect is a failed control.
    seen = streams(history)
    verdicts: list[Verdict] = []
    for s in seen[:closes]:
        end = call_end(history, s.get("call_id"))
        if end is None or end.get("code") != "OK":
            verdicts.append(control(Verdict("control: scripted OK close", False,
                                            f"stream {s.get('call_id')} did not end OK")))
            continue
        closed_t = server_close_time(history, s.get("call_id"))
        verdicts += for_requirement("WRK-GRACEFUL-001", connect_attempt_within(history, after=closed_t, within=bound))
        nxt = history.first(source=FAKE, kind="rpc_start", method="Hello", after=closed_t)
        verdicts += for_requirement("WRK-GRACEFUL-002", sdk_channel_created(
            history, after=closed_t, before=nxt.t if nxt else None, why="after a graceful close (P)"))
    failed = call_end(history, seen[closes].get("call_id")) if len(seen) > closes else None
    if len(seen) > closes and (failed is None or failed.get("code") != "UNAVAILABLE"):
        verdicts.append(control(Verdict("control: scripted UNAVAILABLE", False,
                                        f"stream {closes + 1} did not fail UNAVAILABLE")))
    elif failed is not None:
        failed_t = server_close_time(history, seen[closes].get("call_id"))
        nxt = history.first(source=FAKE, kind="rpc_start", method="Hello", after=failed_t)
        verdicts += for_requirement("WRK-GRACEFUL-003", no_sdk_channel_created(
            history, after=failed_t, before=nxt.t if nxt else None,
            why=f"one UNAVAILABLE after {closes} graceful closes is below the threshold of {closes}"))
    verdicts += for_requirement("WRK-GRACEFUL-001", work_completed(
        history, token=token, after=max(queued_t, seen[closes + 1].t if len(seen) > closes + 1 else queued_t),
        within=tolerance))
    require(*verdicts, history=history)


@pytest.mark.parametrize("options", [
    pytest.param(OPTIONS, id="configured", marks=[pytest.mark.needs("resiliency_options"), pytest.mark.at_defaults(
        "seconds: at the design defaults the first backoff window is 2 s, as in sdk-defaults", slow=False)]),
    pytest.param(None, id="sdk-defaults"),  # runs on every version, with the promised default window
])
@pytest.mark.requirement("WRK-GRACEFUL-001")
def test_goaway_handover(options, driver, fake, history, tolerance, sdk_options):
    # configured: OPTIONS, or (a build without them) its own declared defaults; sdk-defaults: the PROMISED
    # defaults (promises.md §1), whatever the build declares -- a build whose defaults differ (Java's
    # fixed 5 s retry) is held to the documented first window of 2 s here, not to its own.
    opts = sdk_options.worker(options) if options is not None else WorkerOptions()
    guard(tolerance, first_reconnect=first_reconnect_bound(opts))
    fake.set_health_ping_interval(PING)
    start_worker(driver, fake.address, None if options is None else opts)  # sdk-defaults: configure nothing
    first = wait_for_stream(history)
    if first is None:
        inconclusive("setup: the worker never opened GetWorkItems (see history)")
    if not wait_for_messages(history, first.get("call_id"), 1, timeout=5):
        inconclusive("setup: no ping delivered")

    fake.goaway(grace=1.0, handover=True)
    end = history.wait_for(5, source=FAKE, kind="rpc_end", call_id=first.get("call_id"))
    bound = first_reconnect_bound(opts) + tolerance
    new_stream = wait_for_stream(history, after=end.t if end else None, timeout=bound + 5)
    token, queued_t = probe(fake, history, timeout=5)

    verdicts = [control(Verdict("control: drained with OK", end is not None and end.get("code") == "OK",
                                f"old stream ended with {end.get('code') if end else 'nothing'}"))]
    if end is not None:
        closed_t = server_close_time(history, first.get("call_id"))
        verdicts.append(connect_attempt_within(history, after=closed_t, within=bound))
        # The next *stream* must be on the new generation. (The Hello before it may still ride the
        # draining connection: HTTP/2 allows new streams until the final GOAWAY, and grpc's shared
        # subchannel can carry a fresh channel's first call over the old connection.)
        gen2 = history.first(source=FAKE, kind="rpc_start", method="GetWorkItems", after=closed_t)
        verdicts.append(Verdict("reconnected to the new server generation",
                                gen2 is not None and gen2.get("server_gen", 0) > first.get("server_gen", 0),
                                f"next GetWorkItems served by generation {gen2.get('server_gen') if gen2 else None}"))
    verdicts.append(work_completed(history, token=token,
                                   after=max(queued_t, new_stream.t if new_stream else queued_t),
                                   within=tolerance))
    require(*verdicts, history=history)
