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
  control: UNAVAILABLE, UNAVAILABLE → a recreation (the observation would have seen one).
"""

from __future__ import annotations

import time

import grpc
import pytest

from fakes.faults import Abort
from harness.checks.client import calls_failed_with, no_sdk_channel_created, sdk_channel_created
from harness.checks.verdict import require
from harness.checks.windows import BACKGROUND_ACTION_WAIT_S
from harness.history import DRIVER
from harness.workload import not_applicable_if_unsupported

KINDS = pytest.mark.parametrize("kind", ["sync", pytest.param("async", marks=pytest.mark.needs("async_client"))])
RESILIENCY = {"channel_recreate_failure_threshold": 2, "min_recreate_interval_seconds": 0.0}
WAIT_RECREATE = BACKGROUND_ACTION_WAIT_S  # pacing only: see harness/checks/windows.py


def setup_client(driver, fake, kind):
    with not_applicable_if_unsupported():
        driver.create_client("c", kind=kind, address=fake.address, channel="sdk", resiliency=RESILIENCY)
    scheduled = driver.call("c", "schedule", name="never_runs", input=None)
    assert scheduled.get("outcome") == "ok", f"setup: schedule failed: {scheduled}"
    return scheduled["value"]


def fail_with(driver, fake, iid, code):
    with fake.fault("GetInstance", Abort(code, f"injected {code.name}"), count=1):
        driver.call("c", "get_state", instance_id=iid)


@KINDS
@pytest.mark.parametrize("code", ["UNAVAILABLE", "DEADLINE_EXCEEDED"])
@pytest.mark.needs("client_resiliency_options")
@pytest.mark.requirement("CLI-STATUS-001", "CLI-STATUS-002")
def test_transport_status_counts(kind, code, driver, fake, history, tolerance):
    iid = setup_client(driver, fake, kind)
    start = time.monotonic()
    for _ in range(2):
        fail_with(driver, fake, iid, grpc.StatusCode[code])
    history.wait_for(WAIT_RECREATE, source=DRIVER, kind="channel_created", owner="sdk", after=start)
    require(
        calls_failed_with(history, client_id="c", op="get_state", code=code, count=2, after=start),
        sdk_channel_created(history, after=start, why=f"two {code} on GetInstance with threshold 2"),
        history=history,
    )


@KINDS
@pytest.mark.parametrize("code", ["NOT_FOUND", "INVALID_ARGUMENT", "FAILED_PRECONDITION", "UNAUTHENTICATED"])
@pytest.mark.needs("client_resiliency_options")
@pytest.mark.requirement("CLI-STATUS-003", "CLI-STATUS-004")
def test_application_error_not_counted_and_resets(kind, code, driver, fake, history, tolerance):
    app = grpc.StatusCode[code]
    iid = setup_client(driver, fake, kind)
    a_start = time.monotonic()
    for _ in range(3):
        fail_with(driver, fake, iid, app)
    history.wait_for(tolerance, source=DRIVER, kind="channel_created", owner="sdk", after=a_start)
    b_start = time.monotonic()
    fail_with(driver, fake, iid, grpc.StatusCode.UNAVAILABLE)
    fail_with(driver, fake, iid, app)
    fail_with(driver, fake, iid, grpc.StatusCode.UNAVAILABLE)
    history.wait_for(tolerance, source=DRIVER, kind="channel_created", owner="sdk", after=b_start)
    control = time.monotonic()
    fail_with(driver, fake, iid, grpc.StatusCode.UNAVAILABLE)
    fail_with(driver, fake, iid, grpc.StatusCode.UNAVAILABLE)
    history.wait_for(WAIT_RECREATE, source=DRIVER, kind="channel_created", owner="sdk", after=control)
    require(
        calls_failed_with(history, client_id="c", op="get_state", code=code, count=3, after=a_start,
                          before=b_start),
        no_sdk_channel_created(history, after=a_start, before=b_start, why=f"three {code}: not counted"),
        no_sdk_channel_created(history, after=b_start, before=control,
                               why=f"UNAVAILABLE, {code}, UNAVAILABLE: {code} resets the counter"),
        sdk_channel_created(history, after=control, why="control: two UNAVAILABLE with threshold 2"),
        history=history,
    )
