"""DEADLINE_EXCEEDED on a long poll is the caller's timeout, not a transport failure.

``WaitForInstanceCompletion`` legitimately blocks until the instance finishes; when the
caller's timeout passes first, the RPC ends with DEADLINE_EXCEEDED. Both designs exempt the
long polls from the transport-failure count (promises.md CLIENT-2), so repeating them must
never recreate the client's channel.

test_long_poll_ends_at_callers_timeout (CLI-LONGPOLL-001; sync AND async; any build, no options)
  A client waits TIMEOUT_POLLS times for an orchestration that no worker runs, with timeout
  LONG_POLL: each call raises TimeoutError after ~LONG_POLL s, and the fake sees the caller's
  deadline on it. A test of its own so that its verdict never depends on a recreation.

test_long_poll_deadline_is_not_a_transport_failure (CLI-LONGPOLL-002), for the sync AND the async client
  1. A client with recreate threshold 2 and no minimum recreate interval schedules an
     orchestration that no worker will run (it stays pending).
  2. It waits for completion with timeout LONG_POLL four times; each must raise TimeoutError
     after ~LONG_POLL s, and the fake must see the caller's deadline on each call.
  3. Once the polls' own work is over (the last poll returned, plus the tolerance within which a
     conforming client acts on a counted failure: test_client_recreate.py), control: the fake fails
     two ordinary GetInstance calls with UNAVAILABLE. With threshold 2 these MUST recreate the
     channel; this proves the observation used in the assert below would have seen a recreation (a
     check that cannot fail proves nothing).
Asserts
  - control: the polls ended at the caller's timeout (so the SDK saw DEADLINE_EXCEEDED each time;
    whether they did is CLI-LONGPOLL-001's verdict, above).
  - CLI-LONGPOLL-002: the client creates no channel from the first poll until the control starts
    (channels are attributed to their client by the driver's ``role``).
  - control (CLI-LONGPOLL-002): a channel IS created after the two UNAVAILABLE failures. When it is
    not (the async client of durabletask 1.12.0, finding F-1) the test is INCONCLUSIVE: the
    exemption cannot be shown on a client that never recreates. That defect is charged where it is
    promised: test_client_status.py (CLI-STATUS-001) and test_client_recreate.py (CLI-RECREATE-001).
"""

import time

import grpc
import pytest

from fakes.faults import Abort
from harness.checks.client import (
    client_role,
    long_polls_timed_out,
    no_sdk_channel_created,
    sdk_channel_created,
)
from harness.checks.verdict import Verdict, control, inconclusive, require
from harness.checks.windows import BACKGROUND_ACTION_WAIT_S, guard
from harness.history import DRIVER
from harness.workload import create_client, number_word

LONG_POLL = 0.5
POLLS = 4
TIMEOUT_POLLS = 2
RESILIENCY = {"channel_recreate_failure_threshold": 2, "min_recreate_interval_seconds": 0.0}
ROLE = client_role("c")


KINDS = pytest.mark.parametrize("kind", ["sync", pytest.param("async", marks=pytest.mark.needs("async_client"))])


@KINDS
@pytest.mark.requirement("CLI-LONGPOLL-001")
def test_long_poll_ends_at_callers_timeout(kind, driver, fake, history, tolerance):
    guard(tolerance, long_poll_timeout=LONG_POLL)
    create_client(driver, "c", kind=kind, address=fake.address, channel="sdk")
    scheduled = driver.call("c", "schedule", name="never_runs", input=None)
    if scheduled.get("outcome") != "ok":
        inconclusive(f"setup: schedule failed: {scheduled}")
    for _ in range(TIMEOUT_POLLS):
        driver.call("c", "wait_completion", instance_id=scheduled["value"], timeout=LONG_POLL)
    require(long_polls_timed_out(history, client_id="c", timeout=LONG_POLL, count=TIMEOUT_POLLS,
                                 tolerance=tolerance), history=history)


@KINDS
@pytest.mark.needs("client_resiliency_options", "sdk_channel")
@pytest.mark.at_defaults("seconds at the design defaults (threshold 5: five long polls)", slow=False)
@pytest.mark.requirement("CLI-LONGPOLL-002")
def test_long_poll_deadline_is_not_a_transport_failure(kind, driver, fake, history, tolerance, sdk_options):
    guard(tolerance, long_poll_timeout=LONG_POLL)
    res = sdk_options.client(RESILIENCY)  # RESILIENCY, or the build's defaults when it cannot take them
    n = int(res["channel_recreate_failure_threshold"])
    polls = max(POLLS, n)  # enough to cross the threshold, were they counted
    create_client(driver, "c", kind=kind, address=fake.address, channel="sdk", resiliency=res)
    scheduled = driver.call("c", "schedule", name="never_runs", input=None)
    if scheduled.get("outcome") != "ok":
        inconclusive(f"setup: schedule failed: {scheduled}")
    instance_id = scheduled["value"]

    polls_start = history.mark("phase", phase=f"{polls} long polls").t
    for _ in range(polls):
        driver.call("c", "wait_completion", instance_id=instance_id, timeout=LONG_POLL)
    # The polls' own work: a recreation they (wrongly) caused shows within the tolerance.
    early = history.wait_for(tolerance, source=DRIVER, kind="channel_created", owner="sdk", role=ROLE,
                             after=polls_start)
    if early is not None:  # pacing: the polls recreated (wrongly); the control must not meet the interval
        time.sleep(max(0.0, early.t + float(res["min_recreate_interval_seconds"]) + tolerance - time.monotonic()))
    control_start = history.mark("phase", phase=f"control: {number_word(n)} UNAVAILABLE").t

    with fake.fault("GetInstance", Abort(grpc.StatusCode.UNAVAILABLE, "injected control failure"), count=n):
        for _ in range(n):
            driver.call("c", "get_state", instance_id=instance_id)
    history.wait_for(BACKGROUND_ACTION_WAIT_S, source=DRIVER, kind="channel_created", owner="sdk", role=ROLE,
                     after=control_start)

    require(
        # Control: the SDK saw each poll end with DEADLINE_EXCEEDED (CLI-LONGPOLL-001 judges it, above).
        control(long_polls_timed_out(history, client_id="c", timeout=LONG_POLL, count=polls, tolerance=tolerance)),
        no_sdk_channel_created(history, after=polls_start, before=control_start, role=ROLE,
                               why="during repeated long-poll DEADLINE_EXCEEDED"),
        control_recreated(history, after=control_start, threshold=n),
        history=history,
    )


def control_recreated(history, *, after: float, threshold: int) -> Verdict:
    v = control(sdk_channel_created(history, after=after, role=ROLE,
                                    why=f"control: {number_word(threshold)} UNAVAILABLE with threshold {threshold}"))
    if not v.ok:
        v.summary += ("; the client never recreates its channel, so this build cannot show that long polls "
                      "are exempt: INCONCLUSIVE for CLI-LONGPOLL-002 (a client that never recreates fails "
                      "CLI-STATUS-001 and CLI-RECREATE-001 instead; durabletask 1.12.0's async client: "
                      "docs/FINDINGS.md F-1)")
    return v
