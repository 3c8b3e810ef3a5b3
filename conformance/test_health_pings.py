"""Health pings are not work (promises.md HEALTH-3).

Servers send ``WorkItem{healthPing{}}`` on GetWorkItems to keep the stream's silent-disconnect window
alive. A ping carries no work and no completion token: both designs only note it (N: a trace log,
``ReceivedHealthPing``). A worker that dispatched a ping as work would answer each one with a
completion (or an abandon) the server never asked for, or run user code on it.

Procedure
  1. The fake pings every PING s; a worker with the SDK's default options connects; the test waits
     until PINGS pings were delivered.
  2. Control: a probe activity is queued and completed (the observation below sees completions).
Asserts
  - WRK-PING-001: while only pings arrived, no completion or abandon call reached the server and
    no activity or orchestration ran in the SDK process.
"""

import pytest

from harness.checks.promises import no_work_dispatched, pings_delivered
from harness.checks.verdict import control, inconclusive, require
from harness.checks.windows import guard
from harness.checks.worker import work_completed
from harness.workload import probe, start_worker, wait_for_messages, wait_for_stream

PING = 0.1
PINGS = 10


@pytest.mark.requirement("WRK-PING-001")
def test_health_pings_are_not_work(driver, fake, history, tolerance, sdk_options):
    opts = sdk_options.worker(None)  # the SDK's defaults: every build owes this, no option is needed
    guard(tolerance, silent_timeout=opts.silent_disconnect_timeout_seconds)
    fake.set_health_ping_interval(PING)
    start_worker(driver, fake.address, None)
    stream = wait_for_stream(history)
    if stream is None:
        inconclusive("setup: the worker never opened GetWorkItems")
    if not wait_for_messages(history, stream.get("call_id"), PINGS, timeout=PINGS * PING + 5):
        inconclusive(f"setup: fewer than {PINGS} pings delivered")
    token, queued = probe(fake, history, timeout=opts.silent_disconnect_timeout_seconds)
    require(
        control(pings_delivered(history, call_id=stream.get("call_id"), at_least=PINGS, before=queued)),
        control(work_completed(history, token=token, after=queued,
                               within=opts.silent_disconnect_timeout_seconds)),
        no_work_dispatched(history, after=stream.t, before=queued),
        history=history,
    )
