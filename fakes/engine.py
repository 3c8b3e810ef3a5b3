"""Orchestration state, the shared work queue and leases of the fake sidecar.

Everything here is guarded by one Condition (``Engine.cond``); GetWorkItems streams wait on it
for work, WaitFor* long polls wait on it for state changes. The gRPC layer (sidecar.py) owns
recording of calls; this module records only work-item lifecycle events.

History conventions follow proto-and-fake.md §1.4 (measured against the Python SDK):
first dispatch newEvents = [orchestratorStarted, executionStarted]; every scheduleTask
action appends taskScheduled(eventId = action.id) to the history (mandatory for replay);
replays carry pastEvents = history and newEvents = [orchestratorStarted, taskCompleted|...].
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fakes import pb
from fakes.recorder import FAKE, Recorder

ACTIVITY = "activityRequest"
ORCHESTRATOR = "orchestratorRequest"
_TERMINAL = {pb.ENUMS[n] for n in ("ORCHESTRATION_STATUS_COMPLETED", "ORCHESTRATION_STATUS_FAILED",
                                    "ORCHESTRATION_STATUS_TERMINATED", "ORCHESTRATION_STATUS_CANCELED",
                                    "ORCHESTRATION_STATUS_CONTINUED_AS_NEW")}


def _now_ts() -> Any:
    ts = pb.Timestamp()
    ts.GetCurrentTime()
    return ts


def _event(event_id: int = -1, **kind: Any) -> Any:
    return pb.HistoryEvent(eventId=event_id, timestamp=_now_ts(), **kind)


@dataclass(eq=False)
class Item:
    """A work item as the fake tracks it. ``message`` is built once so redelivery is identical."""

    token: str
    kind: str
    message: Any  # pb.WorkItem
    instance_id: str
    task_id: int | None
    new_events: list[Any] = field(default_factory=list)  # orchestrator items: appended on completion
    lease: int | None = None  # call_id of the stream holding it
    last_call: int | None = None  # call_id of the last stream it was sent on
    lost_from: int | None = None  # call_id whose end put it back on the queue
    deliveries: int = 0
    done: bool = False


@dataclass(eq=False)
class Instance:
    instance_id: str
    name: str
    input: str | None
    status: int = pb.ORCHESTRATION_STATUS_PENDING
    output: str | None = None
    failure: Any = None  # pb.TaskFailureDetails
    custom_status: str | None = None
    history: list[Any] = field(default_factory=list)
    inbox: list[Any] = field(default_factory=list)  # events not yet sent to the orchestrator
    orch_token: str | None = None  # outstanding orchestrator work item
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)

    @property
    def terminal(self) -> bool:
        return self.status in _TERMINAL


class Engine:
    def __init__(self, history: Recorder) -> None:
        self.history = history
        self.cond = threading.Condition(threading.RLock())
        self.queue: deque[Item] = deque()
        self.items: dict[str, Item] = {}
        self.instances: dict[str, Instance] = {}
        self.completions: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)

    # -- queueing --------------------------------------------------------------------------
    def _enqueue(self, item: Item) -> None:
        self.items[item.token] = item
        self.queue.append(item)
        self.history.record(FAKE, "work_item_queued", completion_token=item.token, item=item.kind,
                            instance_id=item.instance_id)
        self.cond.notify_all()

    def queue_activity(self, name: str, input_json: str | None, instance_id: str = "",
                       task_id: int | None = None) -> str:
        """Queue an activity; without ``instance_id`` it is standalone (no orchestration state)."""
        with self.cond:
            n = next(self._ids)
            token = f"a-{n}"
            if not instance_id:  # synthetic identity so (instanceId, taskId) fallback stays unique
                instance_id, task_id = f"standalone-{token}", 0
            req = pb.ActivityRequest(name=name, input=pb.sv(input_json), taskId=task_id or 0,
                                     orchestrationInstance=pb.OrchestrationInstance(instanceId=instance_id))
            self._enqueue(Item(token, ACTIVITY, pb.WorkItem(completionToken=token, activityRequest=req),
                               instance_id, task_id or 0))
            return token

    def _queue_orchestrator(self, inst: Instance) -> None:
        n = next(self._ids)
        token = f"o-{n}"
        new = [_event(orchestratorStarted=pb.OrchestratorStartedEvent())] + inst.inbox
        inst.inbox = []
        req = pb.OrchestratorRequest(instanceId=inst.instance_id, pastEvents=inst.history, newEvents=new)
        inst.orch_token = token
        self._enqueue(Item(token, ORCHESTRATOR, pb.WorkItem(completionToken=token, orchestratorRequest=req),
                           inst.instance_id, None, new_events=new))

    def start_instance(self, name: str, input_json: str | None, instance_id: str | None = None) -> str:
        with self.cond:
            iid = instance_id or uuid.uuid4().hex
            inst = Instance(iid, name, input_json)
            self.instances[iid] = inst
            inst.inbox.append(_event(executionStarted=pb.ExecutionStartedEvent(
                name=name, input=pb.sv(input_json),
                orchestrationInstance=pb.OrchestrationInstance(instanceId=iid))))
            self._queue_orchestrator(inst)
            return iid

    def _notify_instance(self, inst: Instance, event: Any) -> None:
        """Deliver an event to an orchestration: now if it is idle, else after its current turn."""
        if inst.terminal:
            return
        inst.inbox.append(event)
        if inst.orch_token is None:
            self._queue_orchestrator(inst)

    def raise_event(self, instance_id: str, name: str, input_json: str | None) -> bool:
        with self.cond:
            inst = self.instances.get(instance_id)
            if inst is None:
                return False
            self._notify_instance(inst, _event(eventRaised=pb.EventRaisedEvent(name=name, input=pb.sv(input_json))))
            return True

    def terminate(self, instance_id: str, output: str | None) -> bool:
        with self.cond:
            inst = self.instances.get(instance_id)
            if inst is None:
                return False
            if not inst.terminal:  # marked server-side: simplest, and waiters wake at once
                inst.status, inst.output, inst.updated = pb.ORCHESTRATION_STATUS_TERMINATED, output, time.time()
                self.cond.notify_all()
            return True

    def purge(self, instance_id: str | None) -> int:
        """Purge one instance (any state) or, with None, every terminal instance."""
        with self.cond:
            ids = [instance_id] if instance_id else [i for i, s in self.instances.items() if s.terminal]
            return sum(1 for i in ids if self.instances.pop(i, None) is not None)

    # -- dispatch and leases ---------------------------------------------------------------
    def take(self, call_id: int) -> Item | None:
        """Pop the next item and lease it to stream ``call_id``. Caller holds ``cond``."""
        while self.queue:
            item = self.queue.popleft()
            if item.done or item.lease is not None:
                continue
            item.lease, item.deliveries = call_id, item.deliveries + 1
            if item.kind == ORCHESTRATOR:
                inst = self.instances.get(item.instance_id)
                if inst is not None and inst.status == pb.ORCHESTRATION_STATUS_PENDING:
                    inst.status = pb.ORCHESTRATION_STATUS_RUNNING  # started = picked up by a worker
                    self.cond.notify_all()
            if item.lost_from is not None:
                self.history.record(FAKE, "work_item_redelivered", completion_token=item.token,
                                    from_call_id=item.lost_from, to_call_id=call_id, delivery=item.deliveries)
            item.last_call = call_id
            return item
        return None

    def has_work(self) -> bool:
        return any(not i.done and i.lease is None for i in self.queue)

    def release(self, call_id: int, reason: str) -> None:
        """Stream ``call_id`` ended: its unfinished items go back to the queue (front, in order)."""
        with self.cond:
            lost = [i for i in self.items.values() if i.lease == call_id and not i.done]
            for item in reversed(lost):
                item.lease, item.lost_from = None, call_id
                self.queue.appendleft(item)
                self.history.record(FAKE, "work_item_requeued", completion_token=item.token,
                                    from_call_id=call_id, reason=reason)
            if lost:
                self.cond.notify_all()

    def abandon(self, token: str, call_id: int) -> bool:
        with self.cond:
            item = self.items.get(token)
            if item is None or item.done:
                return False
            if item.lease is not None:
                item.lost_from, item.lease = item.lease, None
                self.queue.append(item)
                self.cond.notify_all()
            self.history.record(FAKE, "work_item_requeued", completion_token=token,
                                from_call_id=item.lost_from, reason="abandoned", call_id=call_id)
            return True

    # -- completions -----------------------------------------------------------------------
    def _resolve(self, token: str, kind: str, instance_id: str, task_id: int | None) -> Item | None:
        if token:
            return self.items.get(token)
        for item in self.items.values():  # SDKs that send no token: (instanceId, taskId)
            if item.kind == kind and item.instance_id == instance_id and (kind == ORCHESTRATOR or item.task_id == task_id):
                if not item.done:
                    return item
        return None

    def complete_activity(self, res: Any, call_id: int, peer: str) -> tuple[str, bool]:
        """Apply an ActivityResponse. Returns (resolved token, duplicate)."""
        with self.cond:
            item = self._resolve(res.completionToken, ACTIVITY, res.instanceId, res.taskId)
            token = item.token if item else res.completionToken
            duplicate = bool(item and item.done)
            entry = {"call_id": call_id, "peer": peer, "duplicate": duplicate, "t": time.monotonic(),
                     "result": res.result.value if res.HasField("result") else None,
                     "failure": res.failureDetails.errorMessage if res.HasField("failureDetails") else None}
            self.completions.setdefault(token, []).append(entry)
            if item and not duplicate:
                item.done, item.lease = True, None
                inst = self.instances.get(item.instance_id)
                if inst is not None:
                    if res.HasField("failureDetails"):
                        ev = _event(taskFailed=pb.TaskFailedEvent(taskScheduledId=item.task_id,
                                                                  failureDetails=res.failureDetails))
                    else:
                        ev = _event(taskCompleted=pb.TaskCompletedEvent(
                            taskScheduledId=item.task_id, result=res.result if res.HasField("result") else None))
                    self._notify_instance(inst, ev)
                self.cond.notify_all()
            return token, duplicate

    def complete_orchestrator(self, res: Any, call_id: int, peer: str) -> tuple[str, bool]:
        """Apply an OrchestratorResponse: record the turn in history, run its actions."""
        with self.cond:
            item = self._resolve(res.completionToken, ORCHESTRATOR, res.instanceId, None)
            token = item.token if item else res.completionToken
            duplicate = bool(item and item.done)
            entry = {"call_id": call_id, "peer": peer, "duplicate": duplicate, "t": time.monotonic(),
                     "actions": [a.WhichOneof("orchestratorActionType") for a in res.actions]}
            self.completions.setdefault(token, []).append(entry)
            if item is None or duplicate:
                return token, duplicate
            item.done, item.lease = True, None
            inst = self.instances.get(item.instance_id)
            if inst is None:
                return token, duplicate
            inst.history.extend(item.new_events)
            if res.HasField("customStatus"):
                inst.custom_status = res.customStatus.value
            for action in res.actions:
                self._apply_action(inst, action)
            inst.history.append(_event(orchestratorCompleted=pb.OrchestratorCompletedEvent()))
            inst.orch_token, inst.updated = None, time.time()
            if inst.inbox and not inst.terminal:
                self._queue_orchestrator(inst)
            self.cond.notify_all()
            return token, duplicate

    def _apply_action(self, inst: Instance, action: Any) -> None:
        kind = action.WhichOneof("orchestratorActionType")
        if kind == "scheduleTask":
            st = action.scheduleTask
            inst.history.append(_event(action.id, taskScheduled=pb.TaskScheduledEvent(
                name=st.name, version=st.version if st.HasField("version") else None,
                input=st.input if st.HasField("input") else None)))
            self.queue_activity(st.name, st.input.value if st.HasField("input") else None,
                                inst.instance_id, action.id)
        elif kind == "completeOrchestration":
            co = action.completeOrchestration
            inst.status = co.orchestrationStatus
            inst.output = co.result.value if co.HasField("result") else None
            inst.failure = co.failureDetails if co.HasField("failureDetails") else None
            inst.history.append(_event(action.id, executionCompleted=pb.ExecutionCompletedEvent(
                orchestrationStatus=co.orchestrationStatus, result=co.result if co.HasField("result") else None)))
        else:  # timers, sub-orchestrations, events: not modelled; recorded so a test can see why
            self.history.record(FAKE, "unsupported_action", instance_id=inst.instance_id, action=kind,
                                action_id=action.id)

    # -- reading ---------------------------------------------------------------------------
    def instance_response(self, instance_id: str, with_payloads: bool = True) -> Any:
        with self.cond:
            inst = self.instances.get(instance_id)
            if inst is None:
                return pb.GetInstanceResponse(exists=False)
            state = pb.OrchestrationState(instanceId=inst.instance_id, name=inst.name,
                                          orchestrationStatus=inst.status)
            state.createdTimestamp.FromSeconds(int(inst.created))
            state.lastUpdatedTimestamp.FromSeconds(int(inst.updated))
            if with_payloads:
                for fname, val in (("input", inst.input), ("output", inst.output),
                                   ("customStatus", inst.custom_status)):
                    if val is not None:
                        getattr(state, fname).value = val
            if inst.failure is not None:
                state.failureDetails.CopyFrom(inst.failure)
            return pb.GetInstanceResponse(exists=True, orchestrationState=state)
