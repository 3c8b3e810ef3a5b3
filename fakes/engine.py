"""Orchestration state, the shared work queue and leases of the fake sidecar.

Everything here is guarded by one Condition (``Engine.cond``); GetWorkItems streams wait on it
for work, WaitFor* long polls wait on it for state changes. The gRPC layer (sidecar.py) owns
recording of calls; this module records only work-item lifecycle events.

Leases. A work item sent on a GetWorkItems stream is leased to that stream until it is completed.
What happens to an unfinished item whose stream ends is the *lease mode* (``set_lease_mode``):

- ``at_once`` (the default): the stream's end voids its leases; the items go back to the front of
  the queue at once (``work_item_requeued``) and the next stream gets them (``work_item_redelivered``).
  daprd's durabletask-go backend behaves so (it abandons a dead stream's pending items).
- ``expiry``: a lease lasts ``lease_s`` from the delivery, whatever happens to the stream; an item
  still unfinished then is requeued (``work_item_lease_expired``) and redelivered. A stream's end
  only orphans its items (``work_item_orphaned``): they wait for their lease to run out. Note that a
  lease also runs out on a LIVE stream, as a server's lease does: pick ``lease_s`` longer than the work.
- ``never``: an orphaned item is never redelivered; only its own completion finishes it.

In every mode a completion for the item is accepted whenever it arrives (the first one wins; later
ones are recorded as duplicates), and an Abandon requeues at once. The mode is recorded when it is
set (``lease_mode``) and on every ``server_started`` (sidecar.py), so a history says what the
server promised; every requeue, orphaning, expiry and redelivery is an event.

History conventions follow proto-and-fake.md §1.4 (measured against the Python SDK):
first dispatch newEvents = [orchestratorStarted, executionStarted]; every scheduleTask
action appends taskScheduled(eventId = action.id) to the history (mandatory for replay);
replays carry pastEvents = history and newEvents = [orchestratorStarted, taskCompleted|...].
Each turn's history ends with orchestratorCompleted unless ``mark_turn_end`` is off: daprd's backend
(dapr/durabletask-go) never writes that event, and durabletask-dapr (Python) 0.17.4 fails an
orchestration whose history holds one ("Don't know how to handle event of type
'orchestratorCompleted'"), so a dapr-schema fake leaves it out (schemas.py ``marks_turn_end``).
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
AT_ONCE, EXPIRY, NEVER = "at_once", "expiry", "never"
LEASE_MODES = (AT_ONCE, EXPIRY, NEVER)
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
    lost_from: int | None = None  # call_id whose end (or expired lease) put it back on the queue
    lost_at: float | None = None  # when it went back on the queue (monotonic)
    lost_cause: str = ""  # why: "stream ended", "lease expired", "abandoned"
    leased_at: float | None = None  # when its current lease began (the delivery)
    orphaned_from: int | None = None  # the ended stream that still holds its lease (expiry / never)
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


def check_lease_mode(mode: str, lease_s: float | None) -> None:
    """ValueError unless ``mode`` is a lease mode and ``lease_s`` fits it (a duration > 0 for
    ``expiry``, nothing otherwise)."""
    if mode not in LEASE_MODES:
        raise ValueError(f"unknown lease mode {mode!r}; valid: {', '.join(LEASE_MODES)}")
    if mode == EXPIRY and (lease_s is None or lease_s <= 0):
        raise ValueError(f"lease mode 'expiry' needs lease_s > 0, got {lease_s!r}")
    if mode != EXPIRY and lease_s is not None:
        raise ValueError(f"lease_s is only meaningful with lease mode 'expiry' (got mode {mode!r})")


class Engine:
    def __init__(self, history: Recorder, *, lease_mode: str = AT_ONCE, lease_s: float | None = None,
                 mark_turn_end: bool = True) -> None:
        check_lease_mode(lease_mode, lease_s)
        self.history = history
        self.mark_turn_end = mark_turn_end  # append orchestratorCompleted after each turn (module docstring)
        self.cond = threading.Condition(threading.RLock())
        self.queue: deque[Item] = deque()
        self.items: dict[str, Item] = {}
        self.instances: dict[str, Instance] = {}
        self.completions: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self.lease_mode, self.lease_s = lease_mode, lease_s
        self._timers: dict[str, tuple[threading.Timer, int]] = {}  # token -> (expiry timer, delivery no.)
        self._closed = False

    # -- lease mode ------------------------------------------------------------------------
    def set_lease_mode(self, mode: str, lease_s: float | None = None) -> None:
        """What happens to the unfinished items of a stream that ends (module docstring). Applies to
        deliveries and stream ends from now on; recorded as ``lease_mode``."""
        check_lease_mode(mode, lease_s)
        with self.cond:
            self.lease_mode, self.lease_s = mode, lease_s
            self.history.record(FAKE, "lease_mode", lease_mode=mode, lease_s=lease_s)

    def _arm(self, item: Item, now: float) -> None:
        """Expiry mode: start the timer that ends ``item``'s current lease ``lease_s`` after its delivery."""
        if item.token in self._timers and self._timers[item.token][1] != item.deliveries:
            self._disarm(item.token)  # a stale timer of an earlier delivery (the mode changed meanwhile)
        if self._closed or self.lease_s is None or item.token in self._timers or item.leased_at is None:
            return
        timer = threading.Timer(max(item.leased_at + self.lease_s - now, 0.0), self._expire,
                                args=(item.token, item.deliveries))
        timer.daemon = True
        timer.name = f"fake-lease-{item.token}"
        self._timers[item.token] = (timer, item.deliveries)
        timer.start()

    def _disarm(self, token: str) -> None:
        entry = self._timers.pop(token, None)
        if entry is not None:
            entry[0].cancel()

    def _expire(self, token: str, delivery: int) -> None:
        """A lease ran out: the item, if still unfinished under that lease, goes back on the queue."""
        with self.cond:
            item = self.items.get(token)
            if token in self._timers and self._timers[token][1] == delivery:
                self._timers.pop(token)
            if self._closed or item is None or item.done or item.lease is None or item.deliveries != delivery:
                return
            now = time.monotonic()
            self.history.record(FAKE, "work_item_lease_expired", completion_token=token, call_id=item.lease,
                                delivery=delivery, lease_s=self.lease_s,
                                leased_s=now - (item.leased_at or now), stream_ended=item.orphaned_from is not None)
            self._requeue(item, item.lease, "lease expired", now)
            self.cond.notify_all()

    def _requeue(self, item: Item, from_call: int | None, cause: str, now: float, front: bool = True) -> None:
        item.lease, item.orphaned_from = None, None
        item.lost_from, item.lost_at, item.lost_cause = from_call, now, cause
        if front:
            self.queue.appendleft(item)
        else:
            self.queue.append(item)

    def close(self) -> None:
        """Cancel every pending lease expiry (the fake is stopping)."""
        with self.cond:
            self._closed = True
            timers, self._timers = [t for t, _ in self._timers.values()], {}
        for t in timers:
            t.cancel()

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
            now = time.monotonic()
            item.lease, item.deliveries, item.leased_at = call_id, item.deliveries + 1, now
            if item.kind == ORCHESTRATOR:
                inst = self.instances.get(item.instance_id)
                if inst is not None and inst.status == pb.ORCHESTRATION_STATUS_PENDING:
                    inst.status = pb.ORCHESTRATION_STATUS_RUNNING  # started = picked up by a worker
                    self.cond.notify_all()
            if item.lost_from is not None or item.lost_cause:
                self.history.record(FAKE, "work_item_redelivered", completion_token=item.token,
                                    from_call_id=item.lost_from, to_call_id=call_id, delivery=item.deliveries,
                                    cause=item.lost_cause, lease_mode=self.lease_mode,
                                    after_s=now - item.lost_at if item.lost_at is not None else None)
            item.last_call = call_id
            if self.lease_mode == EXPIRY:
                self._arm(item, now)
            return item
        return None

    def has_work(self) -> bool:
        return any(not i.done and i.lease is None for i in self.queue)

    def release(self, call_id: int, reason: str) -> None:
        """Stream ``call_id`` ended. Its unfinished items go back to the queue (front, in order) at
        once, or stay leased to the dead stream until their lease expires, or for good: the lease
        mode decides (module docstring). Idempotent: the gRPC layer may report one end twice."""
        with self.cond:
            now = time.monotonic()
            lost = [i for i in self.items.values()
                    if i.lease == call_id and not i.done and i.orphaned_from != call_id]
            if self.lease_mode == AT_ONCE:
                for item in reversed(lost):
                    self._requeue(item, call_id, "stream ended", now)
                    self.history.record(FAKE, "work_item_requeued", completion_token=item.token,
                                        from_call_id=call_id, reason=reason, lease_mode=AT_ONCE)
                if lost:
                    self.cond.notify_all()
                return
            for item in lost:
                item.orphaned_from = call_id
                expires = None
                if self.lease_mode == EXPIRY and self.lease_s is not None and item.leased_at is not None:
                    expires = max(item.leased_at + self.lease_s - now, 0.0)
                    self._arm(item, now)  # delivered under another mode: its lease now runs out too
                self.history.record(FAKE, "work_item_orphaned", completion_token=item.token, call_id=call_id,
                                    reason=reason, lease_mode=self.lease_mode, expires_in_s=expires)

    def abandon(self, token: str, call_id: int) -> bool:
        with self.cond:
            item = self.items.get(token)
            if item is None or item.done:
                return False
            self._disarm(token)
            if item.lease is not None:  # the worker gave it back: requeued at once, whatever the lease mode
                self._requeue(item, item.lease, "abandoned", time.monotonic(), front=False)
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
                self._disarm(item.token)
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
            self._disarm(item.token)
            inst = self.instances.get(item.instance_id)
            if inst is None:
                return token, duplicate
            inst.history.extend(item.new_events)
            if res.HasField("customStatus"):
                inst.custom_status = res.customStatus.value
            for action in res.actions:
                self._apply_action(inst, action)
            if self.mark_turn_end:
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
