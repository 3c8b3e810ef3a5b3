"""In-flight work across a graceful close, and a completion the server refuses.

Procedure (``test_inflight_drain_on_graceful_close``)
  1. A worker with an SDK-owned channel connects directly to the fake. An activity that sleeps D s
     is delivered: standalone (``activity``), or as the activity of an orchestration
     (``orchestration``: the orchestration's work item completes, then its activity runs).
  2. While the activity runs, the server ends the stream with OK (``ok``) or drains by GOAWAY with a
     handover to a new server generation and a grace longer than D (``goaway``). The worker reconnects
     on a fresh channel; the activity keeps running on the old one.
  3. After the activity finished, the test waits for its completion, then for one backoff cap.
Asserts (checkers)
  - control: the activity was in flight when the stream ended.
  - DRAIN-001: its completion reaches the server exactly once, and it is the in-flight run's own
    completion (the fake requeues a closed stream's items, so a dropped completion would otherwise be
    hidden by the redelivered run); the orchestration completes.
  - RETIRE-001 (DRAIN-002 here): the old SDK-owned channel is closed (driver ``channel_closed``), and
    only after the activity finished and its completion RPC ended.

Procedure (``test_failed_completion_does_not_wedge_worker``)
  1. The fake fails the next ``CompleteActivityTask`` (Abort UNAVAILABLE or NOT_FOUND, count 1).
  2. An activity runs; its completion is refused. Then a probe activity is queued.
Asserts
  - control: the server really faulted CompleteActivityTask.
  - DRAIN-003: the worker keeps processing work: the probe completes within one backoff cap
    + tolerance of being queued.
"""

import time

import grpc
import pytest

from fakes.faults import Abort
from harness.checks.conn import (
    activity_in_flight_at,
    channel_closed_after_work,
    completion_delivered_once,
    inflight_run_completion_delivered,
    server_fault_fired,
)
from harness.checks.verdict import require
from harness.checks.windows import WorkerOptions, any_reconnect_bound
from harness.checks.worker import work_completed
from harness.history import DRIVER, FAKE
from harness.workload import probe, start_worker, wait_for_messages, wait_for_stream

PING = 0.5
OPTIONS = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=2.0,
                        channel_recreate_failure_threshold=5,
                        reconnect_backoff_base_seconds=0.1, reconnect_backoff_cap_seconds=1.0)
SLOW = "slow"
ORCH = "orch_slow"
D = 2.0


@pytest.mark.requirement("DRAIN-001", "DRAIN-002")
@pytest.mark.parametrize("close", ["ok", "goaway"])
@pytest.mark.parametrize("work", ["activity", "orchestration"])
def test_inflight_drain_on_graceful_close(driver, fake, history, tolerance, work, close):
    fake.set_health_ping_interval(PING)
    start_worker(driver, fake.address, OPTIONS,
                 activities=[{"name": SLOW, "sleep_seconds": D, "result": "slow-ok"}],
                 orchestrations=[{"name": ORCH, "activity": SLOW}])
    first = wait_for_stream(history)
    assert first is not None, "the worker never opened GetWorkItems (setup failed; see history)"
    assert wait_for_messages(history, first.get("call_id"), 1, timeout=5), "no ping delivered (setup)"
    old = history.first(source=DRIVER, kind="rpc_start", method="GetWorkItems")
    assert old is not None, "the driver reported no GetWorkItems call (setup)"
    old_channel = old.get("channel_id")

    instance = None
    if work == "activity":
        token = fake.schedule_activity(SLOW, '"in-flight"')
    else:
        instance = fake.start_orchestration(ORCH, '"in-flight"')
        token = None
    started = history.wait_for(10, source=DRIVER, kind="activity_started", name=SLOW)
    assert started is not None, "the slow activity never started (setup failed; see history)"
    if token is None:  # the orchestration's activity item: the one the fake sent for that instance
        sent = history.last(source=FAKE, kind="message_sent", item="activityRequest")
        token = sent.get("completion_token")

    close_t = time.monotonic()
    if close == "ok":
        fake.end_streams("OK", "server closing the stream")
    else:
        fake.goaway(grace=D + 2.0, handover=True)
    history.wait_for(D + 5, source=DRIVER, kind="activity_finished", instance_id=started.get("instance_id"))
    history.wait_for(5, source=FAKE, kind="work_item_completed", completion_token=token)
    if instance is not None:
        history.wait_for(5, source=FAKE, kind="work_item_completed", item=None,
                         where=lambda e: e.get("instance_id") == instance and e.get("method") ==
                         "CompleteOrchestratorTask" and e.t > started.t)
    time.sleep(any_reconnect_bound(OPTIONS) + tolerance)  # let a retired channel be closed
    end_t = time.monotonic()

    verdicts = [
        activity_in_flight_at(history, instance_id=started.get("instance_id"), t=close_t),
        completion_delivered_once(history, token=token, before=end_t),
        inflight_run_completion_delivered(history, token=token, instance_id=started.get("instance_id")),
        channel_closed_after_work(history, channel_id=old_channel, instance_id=started.get("instance_id"),
                                  until=end_t),
    ]
    if instance is not None:
        from harness.checks.verdict import Verdict
        st = fake.instance_status(instance) or {}
        verdicts.append(Verdict("orchestration completed after the drain",
                                st.get("status") == "ORCHESTRATION_STATUS_COMPLETED",
                                f"instance {instance} is {st.get('status')}"))
    require(*verdicts, history=history)


@pytest.mark.requirement("DRAIN-003")
@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.NOT_FOUND], ids=lambda c: c.name)
def test_failed_completion_does_not_wedge_worker(driver, fake, history, tolerance, code):
    fake.set_health_ping_interval(PING)
    start_worker(driver, fake.address, OPTIONS)
    first = wait_for_stream(history)
    assert first is not None, "the worker never opened GetWorkItems (setup failed; see history)"
    fake.inject("CompleteActivityTask", Abort(code, "injected: completion refused"), count=1)
    refused, _ = probe(fake, history, timeout=5)  # its completion is the one refused
    history.wait_for(5, source=FAKE, kind="server_fault", method="CompleteActivityTask")
    time.sleep(tolerance)
    token, queued_t = probe(fake, history, timeout=any_reconnect_bound(OPTIONS) + tolerance + 5)
    require(
        server_fault_fired(history, method="CompleteActivityTask"),
        work_completed(history, token=token, after=queued_t, within=any_reconnect_bound(OPTIONS) + tolerance),
        history=history,
    )
