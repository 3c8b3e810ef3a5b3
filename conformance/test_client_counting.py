"""What the client's failure counter counts, and where it starts again (promises.md CLIENT-1, CLIENT-3,
CLIENT-4, RECREATE-5).

- Streaming calls are not counted. P routes "unary RPCs" through the invoker that counts; N observes
  only unary outcomes ("streaming calls (e.g. StreamInstanceHistory) pass through"). A history stream
  cut by a proxy says nothing the unary calls will not say themselves, and counting it would let a
  long-running stream (which ends with whatever the network did to it) trigger recreations.
- After a recreation the count starts again at 0. N resets it explicitly ("a successful recreation
  also resets it"); P does not say. We follow N (SHOULD): a counter that stays at the threshold makes
  every further single failure a recreation (within the interval's limit), the recreate storm the
  threshold exists to prevent; a fresh channel deserves the same N chances as the first.

Procedures (sync AND async client; threshold N = 2, no minimum interval)
  - streaming: the client works through Toxiproxy; the proxy goes down; N + 1 ``get_history`` calls
    (StreamInstanceHistory, server-streaming) fail UNAVAILABLE; then, control, N unary ``get_state``
    calls fail UNAVAILABLE on the same dead path: the channel IS recreated.
  - counter: N failing ``get_state`` calls (recreation 1, control), N - 1 more (none), one more
    (recreation 2).
Asserts
  - CLI-STREAM-001: no recreation while only the streaming calls failed.
  - CLI-COUNTER-001 (SHOULD, N): no recreation after N - 1 failures that follow a recreation; the N-th
    recreates.
A failed control is INCONCLUSIVE (the async client of 1.12.0 never recreates: finding F-1).
"""

import grpc
import pytest

from fakes.faults import Abort
from harness.checks.client import calls_failed_with, no_sdk_channel_created, sdk_channel_created
from harness.checks.verdict import control, for_requirement, inconclusive, require
from harness.checks.windows import BACKGROUND_ACTION_WAIT_S, guard
from harness.history import DRIVER
from harness.workload import create_client

KINDS = pytest.mark.parametrize("kind", ["sync", pytest.param("async", marks=pytest.mark.needs("async_client"))])
CLIENT = {"channel_recreate_failure_threshold": 2, "min_recreate_interval_seconds": 0.0}
UNAVAILABLE = Abort(grpc.StatusCode.UNAVAILABLE, "injected transport failure")


def _settle(history, after: float) -> None:
    """Pacing: give a (wrong) background recreation the chance to show; returns at once if one does."""
    history.wait_for(BACKGROUND_ACTION_WAIT_S, source=DRIVER, kind="channel_created", owner="sdk", after=after)


def _client(driver, address, kind, sdk_options) -> tuple[str, int]:
    resiliency = sdk_options.client(CLIENT)
    create_client(driver, "c", kind=kind, address=address, resiliency=resiliency)
    scheduled = driver.call("c", "schedule", name="never_runs", input=None)
    if scheduled.get("outcome") != "ok":
        inconclusive(f"setup: schedule failed: {scheduled}")
    return scheduled["value"], int(resiliency["channel_recreate_failure_threshold"])


@KINDS
@pytest.mark.needs("client_resiliency_options", "history_stream", "sdk_channel")
@pytest.mark.at_defaults("seconds at the defaults (threshold 5)")
@pytest.mark.requirement("CLI-STREAM-001")
def test_streaming_failures_not_counted(kind, driver, fake, link, history, tolerance, sdk_options):
    guard(tolerance)  # its checks add the tolerance to no option-derived window (windows.guard)
    iid, n = _client(driver, link.address, kind, sdk_options)
    with link.down():
        streams = history.mark("phase", phase=f"{n + 1} failing get_history").t
        for _ in range(n + 1):
            driver.call("c", "get_history", instance_id=iid)
        _settle(history, streams)
        unary = history.mark("phase", phase=f"control: {n} failing get_state").t
        for _ in range(n):
            driver.call("c", "get_state", instance_id=iid)
        _settle(history, unary)
    require(
        control(calls_failed_with(history, client_id="c", op="get_history", code="UNAVAILABLE", count=n + 1,
                                  after=streams, before=unary)),
        control(sdk_channel_created(history, after=unary, why=f"control: {n} unary UNAVAILABLE, threshold {n}")),
        no_sdk_channel_created(history, after=streams, before=unary,
                               why=f"{n + 1} failed StreamInstanceHistory calls, threshold {n}"),
        history=history,
    )


@KINDS
@pytest.mark.needs("client_resiliency_options", "sdk_channel")
@pytest.mark.at_defaults("seconds at the defaults (threshold 5; the first recreation is not blocked by the "
                         "30 s interval, a second one within it is: the last step then fails)")
@pytest.mark.requirement("CLI-COUNTER-001")
def test_counter_restarts_after_recreation(kind, driver, fake, history, tolerance, sdk_options):
    guard(tolerance)  # its checks add the tolerance to no option-derived window (windows.guard)
    iid, n = _client(driver, fake.address, kind, sdk_options)

    def fail(count: int, label: str) -> float:
        t = history.mark("phase", phase=label).t
        with fake.fault("GetInstance", UNAVAILABLE, count=count):
            for _ in range(count):
                driver.call("c", "get_state", instance_id=iid)
        _settle(history, t)
        return t

    first = fail(n, f"{n} failures: recreation 1")
    again = fail(n - 1, f"{n - 1} failures after the recreation")
    last = fail(1, "one more: the N-th since the recreation")
    require(
        control(sdk_channel_created(history, after=first, before=again, why=f"control: {n} UNAVAILABLE")),
        *for_requirement("CLI-COUNTER-001",
                         no_sdk_channel_created(history, after=again, before=last,
                                                why=f"{n - 1} failures after a recreation, threshold {n}"),
                         sdk_channel_created(history, after=last, why=f"failure {n} since the recreation")),
        history=history,
    )
