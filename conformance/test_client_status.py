"""Which gRPC statuses count as client transport failures (promises.md §7 CLIENT-1, CLIENT-3).

P: UNAVAILABLE counts, DEADLINE_EXCEEDED counts on ordinary unary calls (not on the long polls,
see test_long_poll_deadline.py); "Successful replies and application-level RPC errors reset the
failure counter, because they prove the underlying transport is still usable." N: the same.

DEADLINE_EXCEEDED on an ordinary unary call: durabletask 1.12.0 sends NO deadline on any ordinary
client call (``get_orchestration_state``, ``schedule_new_orchestration``, ``raise_orchestration_event``,
``terminate_orchestration``, ``purge_orchestration`` all call the stub without ``timeout=``), so a
*client-side* deadline can only expire on the two long polls. What remains reachable, and what
the SDK's classifier sees identically, is a DEADLINE_EXCEEDED *status returned by the server or a
proxy* (gateways do return it): the fake aborts ``GetInstance`` with it.

Procedures (threshold 2, minimum interval 0, calls are ``get_state``; sync AND async client)
- counted: two consecutive failures with the status → a recreation (UNAVAILABLE, DEADLINE_EXCEEDED).
- application error X (NOT_FOUND, INVALID_ARGUMENT, FAILED_PRECONDITION, UNAUTHENTICATED):
  phase A: X three times → no recreation (X is not counted);
  phase B: UNAVAILABLE, X, UNAVAILABLE → no recreation (X reset the counter; had it not, the
  count would be 2 = threshold);
  control: UNAVAILABLE, UNAVAILABLE → a recreation (the observation would have seen one). A build
  whose client never recreates (the async client of 1.12.0, F-1) is INCONCLUSIVE here and FAILS
  test_transport_status_counts (CLI-STATUS-001), the requirement that promises the recreation.

Windows: recreations are attributed to the client that made them (driver ``role``); a phase's
window closes where the next phase starts, after the phase's own work is over (its calls returned,
plus the tolerance within which a conforming client acts on a failure, test_client_recreate.py).
"""

from __future__ import annotations

import time

import grpc
import pytest

from fakes.faults import Abort
from harness.checks.client import calls_failed_with, client_role, no_sdk_channel_created, sdk_channel_created
from harness.checks.verdict import control, for_requirement, inconclusive, require
from harness.checks.windows import BACKGROUND_ACTION_WAIT_S, guard
from harness.history import DRIVER
from harness.workload import create_client, number_word

KINDS = pytest.mark.parametrize("kind", ["sync", pytest.param("async", marks=pytest.mark.needs("async_client"))])
RESILIENCY = {"channel_recreate_failure_threshold": 2, "min_recreate_interval_seconds": 0.0}
WAIT_RECREATE = BACKGROUND_ACTION_WAIT_S  # pacing only: see harness/checks/windows.py
ROLE = client_role("c")
COUNTED_BY = {"UNAVAILABLE": "CLI-STATUS-001", "DEADLINE_EXCEEDED": "CLI-STATUS-002"}


def setup_client(driver, fake, kind, res):
    create_client(driver, "c", kind=kind, address=fake.address, channel="sdk", resiliency=res)
    scheduled = driver.call("c", "schedule", name="never_runs", input=None)
    if scheduled.get("outcome") != "ok":
        inconclusive(f"setup: schedule failed: {scheduled}")
    return scheduled["value"]


def fail_with(driver, fake, iid, code):
    with fake.fault("GetInstance", Abort(code, f"injected {code.name}"), count=1):
        driver.call("c", "get_state", instance_id=iid)


def phase(history, name):
    """Start a phase: its window opens here and closes where the next phase starts."""
    return history.mark("phase", phase=name).t


def settle(history, after, tolerance):
    """Pacing: the phase's calls have returned; give its reaction, if any, the tolerance to show."""
    history.wait_for(tolerance, source=DRIVER, kind="channel_created", owner="sdk", role=ROLE, after=after)


def wait_recreated(history, after):
    return history.wait_for(WAIT_RECREATE, source=DRIVER, kind="channel_created", owner="sdk", role=ROLE,
                            after=after)


@KINDS
@pytest.mark.parametrize("code", ["UNAVAILABLE", "DEADLINE_EXCEEDED"])
@pytest.mark.needs("client_resiliency_options", "sdk_channel")
@pytest.mark.at_defaults("seconds at the design defaults (threshold 5)", slow=False)
@pytest.mark.requirement("CLI-STATUS-001", "CLI-STATUS-002")
def test_transport_status_counts(kind, code, driver, fake, history, tolerance, sdk_options):
    guard(tolerance)  # its checks add the tolerance to no option-derived window (windows.guard)
    res = sdk_options.client(RESILIENCY)  # RESILIENCY, or the build's defaults when it cannot take them
    n = int(res["channel_recreate_failure_threshold"])
    iid = setup_client(driver, fake, kind, res)
    start = phase(history, f"{number_word(n)} {code}")
    for _ in range(n):
        fail_with(driver, fake, iid, grpc.StatusCode[code])
    wait_recreated(history, start)
    require(
        *for_requirement(COUNTED_BY[code],
                         calls_failed_with(history, client_id="c", op="get_state", code=code, count=n, after=start),
                         sdk_channel_created(history, after=start, role=ROLE,
                                             why=f"{number_word(n)} {code} on GetInstance with threshold {n}")),
        history=history,
    )


@KINDS
@pytest.mark.parametrize("code", ["NOT_FOUND", "INVALID_ARGUMENT", "FAILED_PRECONDITION", "UNAUTHENTICATED"])
@pytest.mark.needs("client_resiliency_options", "sdk_channel")
@pytest.mark.at_defaults("seconds at the design defaults (threshold 5)", slow=False)
@pytest.mark.requirement("CLI-STATUS-003", "CLI-STATUS-004")
def test_application_error_not_counted_and_resets(kind, code, driver, fake, history, tolerance, sdk_options):
    guard(tolerance)  # its checks add the tolerance to no option-derived window (windows.guard)
    res = sdk_options.client(RESILIENCY)  # RESILIENCY, or the build's defaults when it cannot take them
    n = int(res["channel_recreate_failure_threshold"])
    app = grpc.StatusCode[code]
    iid = setup_client(driver, fake, kind, res)
    # A: n + 1 application errors would cross the threshold if they counted. B: n - 1 UNAVAILABLE on each
    # side of one application error would reach it (2n - 2 >= n) unless that error resets the count.
    a_start = phase(history, f"A: {number_word(n + 1)} {code}")
    for _ in range(n + 1):
        fail_with(driver, fake, iid, app)
    settle(history, a_start, tolerance)
    b_seq = ", ".join(["UNAVAILABLE"] * (n - 1) + [code] + ["UNAVAILABLE"] * (n - 1))
    b_start = phase(history, f"B: {b_seq}")
    for status in [grpc.StatusCode.UNAVAILABLE] * (n - 1) + [app] + [grpc.StatusCode.UNAVAILABLE] * (n - 1):
        fail_with(driver, fake, iid, status)
    settle(history, b_start, tolerance)
    early = history.first(source=DRIVER, kind="channel_created", owner="sdk", role=ROLE, after=a_start)
    if early is not None:  # pacing: A or B recreated (wrongly); the control must not meet the interval
        time.sleep(max(0.0, early.t + float(res["min_recreate_interval_seconds"]) + tolerance - time.monotonic()))
    ctl = phase(history, f"control: {number_word(n)} UNAVAILABLE")
    for _ in range(n):
        fail_with(driver, fake, iid, grpc.StatusCode.UNAVAILABLE)
    wait_recreated(history, ctl)
    require(
        *for_requirement("CLI-STATUS-003",
                         calls_failed_with(history, client_id="c", op="get_state", code=code, count=n + 1,
                                           after=a_start, before=b_start),
                         no_sdk_channel_created(history, after=a_start, before=b_start, role=ROLE,
                                                why=f"{number_word(n + 1)} {code}: not counted")),
        *for_requirement("CLI-STATUS-004",
                         no_sdk_channel_created(history, after=b_start, before=ctl, role=ROLE,
                                                why=f"{b_seq}: {code} resets the counter")),
        # Untagged: without a recreation here, neither requirement's "no recreation" means anything.
        control(sdk_channel_created(history, after=ctl, role=ROLE,
                                    why=f"control: {number_word(n)} UNAVAILABLE with threshold {n}")),
        history=history,
    )
