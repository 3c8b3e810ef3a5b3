"""The long-poll exemption covers ``WaitForInstanceStart`` too (promises.md CLIENT-2).

Both designs list the two long polls, ``WaitForInstanceStart`` and ``WaitForInstanceCompletion``
(P: ``LONG_POLL_METHODS``; N: ``DeadlineExceededAllowedMethods``): DEADLINE_EXCEEDED on them is the
caller's own timeout, not a sign of a broken transport. test_long_poll_deadline.py covers the
completion poll; this is the same procedure on ``wait_for_orchestration_start``.

Procedure (for the sync AND the async client)
  1. A client with recreate threshold 2 and no minimum recreate interval schedules an orchestration
     that no worker runs (it stays PENDING, so it never starts).
  2. It waits for the start with timeout LONG_POLL, POLLS times; each must raise TimeoutError after
     ~LONG_POLL s, and the fake must see the caller's deadline on each call.
  3. Control: threshold-many ordinary GetInstance calls fail with UNAVAILABLE: the channel IS
     recreated (a failed control is INCONCLUSIVE: the async client of 1.12.0 never recreates, F-1).
Asserts
  - CLI-LONGPOLL-003: the start polls carry the caller's timeout and end as TimeoutError at it.
  - CLI-LONGPOLL-004: no SDK-owned channel is created during the start polls.
"""

import time

import grpc
import pytest

from fakes.faults import Abort
from harness.checks.client import no_sdk_channel_created, sdk_channel_created
from harness.checks.promises import long_polls_end_at_timeout
from harness.checks.verdict import control, for_requirement, inconclusive, require
from harness.checks.windows import BACKGROUND_ACTION_WAIT_S, guard
from harness.history import DRIVER
from harness.workload import create_client

LONG_POLL = 0.5
POLLS = 4
RESILIENCY = {"channel_recreate_failure_threshold": 2, "min_recreate_interval_seconds": 0.0}


@pytest.mark.parametrize("kind", ["sync", pytest.param("async", marks=pytest.mark.needs("async_client"))])
@pytest.mark.needs("client_resiliency_options", "sdk_channel")
@pytest.mark.at_defaults("seconds at the defaults: the control fails threshold (5) calls")
@pytest.mark.requirement("CLI-LONGPOLL-003", "CLI-LONGPOLL-004")
def test_start_poll_deadline_is_not_a_transport_failure(kind, driver, fake, history, tolerance, sdk_options):
    guard(tolerance, long_poll=LONG_POLL)
    resiliency = sdk_options.client(RESILIENCY)
    n = int(resiliency["channel_recreate_failure_threshold"])
    create_client(driver, "c", kind=kind, address=fake.address, resiliency=resiliency)
    scheduled = driver.call("c", "schedule", name="never_runs", input=None)
    if scheduled.get("outcome") != "ok":
        inconclusive(f"setup: schedule failed: {scheduled}")
    polls_start = time.monotonic()
    for _ in range(POLLS):
        driver.call("c", "wait_start", instance_id=scheduled["value"], timeout=LONG_POLL)
    polls_end = time.monotonic()
    with fake.fault("GetInstance", Abort(grpc.StatusCode.UNAVAILABLE, "injected control failure"), count=n):
        for _ in range(n):
            driver.call("c", "get_state", instance_id=scheduled["value"])
    history.wait_for(BACKGROUND_ACTION_WAIT_S, source=DRIVER, kind="channel_created", owner="sdk", after=polls_end)
    require(
        *for_requirement("CLI-LONGPOLL-003", long_polls_end_at_timeout(
            history, client_id="c", op="wait_start", method="WaitForInstanceStart", timeout=LONG_POLL,
            count=POLLS, tolerance=tolerance)),
        *for_requirement("CLI-LONGPOLL-004",
                         no_sdk_channel_created(history, after=polls_start, before=polls_end,
                                                why="during repeated WaitForInstanceStart DEADLINE_EXCEEDED"),
                         control(sdk_channel_created(history, after=polls_end,
                                                     why=f"control: {n} UNAVAILABLE with threshold {n}"))),
        history=history,
    )
