"""A long poll that outlives its retired channel's grace (promises.md RETIRE-1, CLIENT-4, CLIENT-7).

A recreated client keeps the replaced channel open for a grace period so that calls in flight on it
can finish (CLI-RECREATE-007), then closes it (P: "retire the previous channel after a short grace
period"; the shipped clients and N use 30 s). A long poll can be longer than that grace: its caller
chose a timeout of minutes. Neither design says what that caller gets when the grace ends; both close
the channel, which ends the calls still on it. What the caller must get is something it can act on:
an error that says "the call was cut, ask again" (CANCELLED or UNAVAILABLE, as for any cut call), at
the moment the channel is closed. Not a TimeoutError before its timeout (it would conclude the
instance did not finish in time), not a result it did not get (no state, or a stale one), and not a
wait until its own deadline on a channel nobody will ever close (a leak).

Procedure (sync AND async client; threshold N, no minimum interval; GRACE = the build's retire grace,
declared by its driver, ``defaults_in_force``)
  1. A client schedules an orchestration no worker runs and waits for its completion with a timeout
     well beyond GRACE (GRACE + 2 x the background-action bound).
  2. While the poll is in flight, N ordinary calls fail with UNAVAILABLE: the channel is recreated and
     the old one, with the poll on it, is retired.
  3. The test waits for the poll to return.
Asserts
  - CLI-RETIRE-001 (SHOULD): the poll ends GRACE after the recreation (+- tolerance) with CANCELLED or
    UNAVAILABLE, not as TimeoutError or a state.
Control: the recreation happened (the async client of 1.12.0 never recreates, F-1: INCONCLUSIVE).
Cost: GRACE (30 s on 1.12.0) per client kind; the broken variant that never closes pays the poll's
whole timeout.
"""

import threading
import time

import grpc
import pytest

from fakes.faults import Abort
from harness.checks.client import sdk_channel_created
from harness.checks.promises import long_poll_cut_at_grace
from harness.checks.verdict import control, inconclusive, require
from harness.checks.windows import BACKGROUND_ACTION_WAIT_S, guard
from harness.history import DRIVER, FAKE, SCENARIO
from harness.workload import create_client

KINDS = pytest.mark.parametrize("kind", ["sync", pytest.param("async", marks=pytest.mark.needs("async_client"))])
CLIENT = {"channel_recreate_failure_threshold": 2, "min_recreate_interval_seconds": 0.0}
UNAVAILABLE = Abort(grpc.StatusCode.UNAVAILABLE, "injected transport failure")


# When a build declares no grace (it has no client recreation at all, e.g. 1.4.0): the shipped clients'
# and N's 30 s (promises.md section 1); P gives no number. Such a build fails the control first anyway.
DESIGN_GRACE_S = 30.0


def _declared_grace(driver, history) -> float:
    answer = driver.request("defaults_in_force")
    history.record(SCENARIO, "sdk_defaults", **answer)
    grace = answer.get("client_retire_grace_seconds")
    return float(grace) if isinstance(grace, (int, float)) else DESIGN_GRACE_S


@KINDS
@pytest.mark.needs("client_resiliency_options", "sdk_channel")
@pytest.mark.at_defaults("the build's grace (30 s on 1.12.0) at the defaults too; the control fails 5 calls")
@pytest.mark.requirement("CLI-RETIRE-001")
def test_long_poll_outliving_the_grace(kind, driver, fake, history, tolerance, sdk_options):
    grace = _declared_grace(driver, history)
    guard(tolerance, grace=grace)
    resiliency = sdk_options.client(CLIENT)
    n = int(resiliency["channel_recreate_failure_threshold"])
    create_client(driver, "c", kind=kind, address=fake.address, resiliency=resiliency)
    scheduled = driver.call("c", "schedule", name="never_runs", input=None)
    if scheduled.get("outcome") != "ok":
        inconclusive(f"setup: schedule failed: {scheduled}")
    long_poll = grace + 2 * BACKGROUND_ACTION_WAIT_S
    start = time.monotonic()
    poll = threading.Thread(target=driver.call, args=("c", "wait_completion"), daemon=True,
                            kwargs={"instance_id": scheduled["value"], "timeout": long_poll})
    poll.start()
    if history.wait_for(5, source=FAKE, kind="rpc_start", method="WaitForInstanceCompletion", after=start) is None:
        inconclusive("setup: the long poll never reached the server")
    with fake.fault("GetInstance", UNAVAILABLE, count=n):
        for _ in range(n):
            driver.call("c", "get_state", instance_id=scheduled["value"])
    rec = history.wait_for(BACKGROUND_ACTION_WAIT_S, source=DRIVER, kind="channel_created", owner="sdk", after=start)
    recreated = control(sdk_channel_created(history, after=start, why=f"control: {n} UNAVAILABLE, threshold {n}"))
    if rec is None:  # nothing will be retired: INCONCLUSIVE now rather than after the whole poll
        require(recreated, history=history)
    poll.join(long_poll + 10)
    require(recreated,
            long_poll_cut_at_grace(history, client_id="c", op="wait_completion", recreated_at=rec.t,
                                   grace=grace, tolerance=tolerance),
            history=history)
