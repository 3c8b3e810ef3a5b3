"""A fault-injecting fake TaskHubSidecarService over real loopback TCP.

The SDK under test runs in another process and talks to this server exactly as it would to a
real sidecar. Every call is recorded into the shared History (calls.py); server-side faults are
scripted with the vocabulary in faults.py; orchestration state, the work queue and leases live
in engine.py.

Servers come in *generations*: ``goaway()`` starts generation N+1 on the same port
(SO_REUSEPORT, on by default in grpcio) before stopping generation N gracefully, like a rolling
upgrade, so clients see GOAWAY but never a refused connect.

Hooks for scripted scenarios (harness/repro/, field reports), all public:

- ``end_stream(call_id, code, details)`` ends ONE open GetWorkItems stream now, recorded as a
  ``server_fault`` on that call (``end_streams`` ends them all, unrecorded: a drain);
  ``open_streams()`` lists the candidates.
- ``inject(method, AbortAfter(seconds, code))`` cuts unary calls still being served ``seconds``
  after they started (faults.py), e.g. a DTS-style cut-off of idle long polls.
- ``goaway()``, ``restart()``, ``set_health_ping_interval()``, ``schedule_activity()``, ``engine``.
- ``set_lease_mode(mode, lease_s)``: what happens to the unfinished work of a stream that ends --
  redelivered at once (``"at_once"``, the default), after its lease expires (``"expiry"``, ``lease_s``
  after the delivery) or never (``"never"``); see engine.py. Also a constructor option.

Wire schema: ``FakeSidecar(history, schema="dapr")`` serves the dapr fork of the proto instead of
microsoft's (schemas.py: the method table per schema; codec.py: requests in, work items out). The
record stays schema-neutral: methods under their microsoft names (``wire_method`` added where the
schema's name differs), so faults, scenarios and checks run unchanged. A request that does not
decode with the schema is answered INVALID_ARGUMENT with the reason (decode_errors.py), recorded
as ``decode_error`` and logged; a method the schema lacks is recorded and answered UNIMPLEMENTED,
naming the schema that has it.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import grpc
from google.protobuf import message_factory

from fakes import pb
from fakes.calls import Call
from fakes.codec import Codec, Request
from fakes.engine import AT_ONCE, Engine, Item
from fakes.faults import (
    Abort,
    AbortAfter,
    Delay,
    EndOk,
    Fault,
    FaultRule,
    FaultTable,
    Hang,
    Silence,
    after_messages,
    fault_name,
)
from fakes.recorder import FAKE, Recorder
from fakes.schemas import SCHEMAS, get_schema
from fakes.transcode import Dropped

log = logging.getLogger(__name__)

SERVER_OPTIONS = [
    # Permit client keepalive pings at any rate, with or without calls, so the fake never
    # sends GOAWAY(too_many_pings) on its own: every GOAWAY a client sees is one we scripted.
    ("grpc.http2.min_ping_interval_without_data_ms", 10),
    ("grpc.http2.max_ping_strikes", 0),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.so_reuseport", 1),
]
_POLL = 0.25  # upper bound on any blocking wait, so a missed notify can never hang a handler


class _Ended(Exception):
    """Internal: the handler must stop because the call or the server is gone."""


class FakeSidecar:
    """Fake TaskHubSidecarService. See module docstring; public API is documented per method."""

    def __init__(self, history: Recorder, *, host: str = "127.0.0.1", port: int = 0,
                 health_ping_interval: float | None = None, lease_mode: str = AT_ONCE,
                 lease_s: float | None = None, schema: str = "microsoft") -> None:
        self.history = history
        self.schema = get_schema(schema)  # ValueError naming the valid ones
        self._codec = Codec(self.schema, self._record_dropped)
        self._dropped_seen: set[tuple[str, str, str]] = set()
        self.host = host
        self.port = port
        self.engine = Engine(history, lease_mode=lease_mode, lease_s=lease_s,
                             mark_turn_end=self.schema.marks_turn_end)
        self._cond = self.engine.cond  # one lock for calls, streams, queue and instances
        self._ping_interval = health_ping_interval
        self._faults = FaultTable()
        self._call_ids = itertools.count(1)
        self._calls: dict[int, Call] = {}
        self._streams: dict[int, Call] = {}  # live GetWorkItems streams
        self._servers: dict[int, grpc.Server] = {}
        self._stopping_gens: set[int] = set()
        self._gen = 0
        self._stopped = threading.Event()
        self._executor: ThreadPoolExecutor | None = None
        self._watchers: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def generation(self) -> int:
        return self._gen

    def start(self) -> int:
        """Start generation 1; returns the bound port."""
        if self._executor is not None:
            raise RuntimeError("already started")
        self._executor = ThreadPoolExecutor(max_workers=64, thread_name_prefix="fake-sidecar")
        self._start_generation()
        return self.port

    def _start_generation(self) -> int:
        with self._cond:
            gen = self._gen + 1
            server = grpc.server(self._executor, options=SERVER_OPTIONS)
            server.add_generic_rpc_handlers((self._handlers(gen), _Fallback(self, gen)))
            bound = server.add_insecure_port(f"{self.host}:{self.port}")
            if bound == 0:
                raise RuntimeError(f"could not bind {self.host}:{self.port}")
            self.port = bound
            server.start()
            self._servers[gen], self._gen = server, gen
        self.history.record(FAKE, "server_started", port=self.port, server_gen=gen,
                            lease_mode=self.engine.lease_mode, lease_s=self.engine.lease_s,
                            schema=self.schema.name, schema_source=self.schema.source)
        return gen

    def _stop_generation(self, gen: int, grace: float) -> threading.Event:
        with self._cond:
            server = self._servers.get(gen)
            self._stopping_gens.add(gen)
        if server is None:
            done = threading.Event()
            done.set()
            return done
        # grace=None would make grpc block with no timeout; 0 cancels at once without blocking.
        event = server.stop(max(grace or 0.0, 0.0))

        def watch() -> None:
            event.wait(grace + 5.0 if grace else 5.0)
            self.history.record(FAKE, "server_stopped", port=self.port, server_gen=gen)

        t = threading.Thread(target=watch, name=f"fake-sidecar-stop-{gen}", daemon=True)
        t.start()
        self._watchers.append(t)
        return event

    def _live_gens(self) -> list[int]:
        return [g for g in self._servers if g not in self._stopping_gens]

    def stop(self, grace: float | None = 0) -> None:
        """Stop every generation and unblock every handler; returns when nothing is left running."""
        if self._executor is None:
            return
        events = [self._stop_generation(g, grace or 0.0) for g in self._live_gens()]
        for e in events:
            e.wait((grace or 0.0) + 2.0)
        self._stopped.set()  # any handler still blocked returns now
        self.engine.close()  # no lease expiry fires into a stopped fake
        with self._cond:
            self._cond.notify_all()
        for t in self._watchers:
            t.join(timeout=(grace or 0.0) + 6.0)
        self._executor.shutdown(wait=False, cancel_futures=True)
        for t in list(getattr(self._executor, "_threads", ())):
            t.join(timeout=2.0)
        for call in list(self._calls.values()):  # safety net: every call gets its rpc_end
            code, details = call.outcome or ("UNAVAILABLE", "server stopped")
            call.finish("server", code, details)
        self._executor = None

    def __enter__(self) -> FakeSidecar:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def goaway(self, grace: float = 1.0, handover: bool = True) -> threading.Event:
        """Graceful server replacement. With ``handover`` a new generation is listening on the same
        port first; then the old generation's GetWorkItems streams end with OK (as DTS drains) and the
        old server is stopped with ``grace`` (GOAWAY). Returns the old server's stop event."""
        with self._cond:
            old = self._gen
        new = self._start_generation() if handover else None
        self.history.record(FAKE, "goaway", port=self.port, server_gen=old, new_gen=new, grace=grace,
                            handover=handover)
        ended = self.end_streams("OK", "server going away", gen=old)
        self._wait_ended(ended, min(grace, 1.0))
        return self._stop_generation(old, grace)

    def restart(self, grace: float = 0.0) -> int:
        """A new generation on the same port. A still-live generation is stopped first (a hard
        restart: connections drop); after ``goaway(handover=False)`` this is the server coming back."""
        for g in self._live_gens():
            self._stop_generation(g, grace).wait(grace + 2.0)
        return self._start_generation()

    def end_streams(self, code: str | grpc.StatusCode = "OK", details: str = "",
                    gen: int | None = None) -> list[int]:
        """End every open GetWorkItems stream now (status OK, or abort with ``code``)."""
        name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        with self._cond:
            ids = [cid for cid, c in self._streams.items() if gen is None or c.gen == gen]
            for cid in ids:
                self._streams[cid].end_request = (name, details)
            self._cond.notify_all()
        return ids

    def end_stream(self, call_id: int, code: str | grpc.StatusCode, details: str = "", *,
                   fault: str = "EndStream", **extra: Any) -> bool:
        """End ONE open GetWorkItems stream now: with status OK if ``code`` is "OK", else aborted with
        ``code``/``details``. Recorded first as a ``server_fault`` on that call (``fault`` names it,
        ``extra`` adds fields), so ``checks.queries.server_close_time`` finds the server's decision.
        Returns False (and records nothing) if the stream is gone or already asked to end."""
        name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        with self._cond:
            call = self._streams.get(call_id)
            if call is None or call.end_request is not None:
                return False
            self.history.record(FAKE, "server_fault", fault=fault, method="GetWorkItems", call_id=call_id,
                                peer=call.peer, messages=call.messages, code=name, details=details, **extra)
            call.end_request = (name, details)
            self._cond.notify_all()
        return True

    def _wait_ended(self, call_ids: list[int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while any(cid in self._streams for cid in call_ids) and time.monotonic() < deadline:
                self._cond.wait(min(_POLL, max(deadline - time.monotonic(), 0.001)))

    # -- configuration and introspection ----------------------------------------------------
    def set_lease_mode(self, mode: str, lease_s: float | None = None) -> None:
        """``"at_once"``, ``"expiry"`` (with ``lease_s``) or ``"never"``: engine.py's lease modes.
        ValueError for an unknown mode or a ``lease_s`` that does not fit it."""
        self.engine.set_lease_mode(mode, lease_s)

    def set_health_ping_interval(self, seconds: float | None) -> None:
        with self._cond:
            self._ping_interval = seconds
            self._cond.notify_all()

    def inject(self, method: str, fault: Fault, *, count: int | None = 1) -> FaultRule:
        with self._cond:
            return self._faults.add(method, fault, count)

    def remove(self, rule: FaultRule) -> None:
        with self._cond:
            self._faults.remove(rule)

    def clear_faults(self) -> None:
        with self._cond:
            self._faults.clear()

    @contextmanager
    def fault(self, method: str, fault: Fault, count: int | None = None) -> Iterator[FaultRule]:
        rule = self.inject(method, fault, count=count)
        try:
            yield rule
        finally:
            self.remove(rule)

    def open_streams(self) -> list[tuple[int, str]]:
        with self._cond:
            return [(cid, c.peer) for cid, c in self._streams.items()]

    def wait_for_stream(self, timeout: float) -> int | None:
        """The newest open GetWorkItems stream, waiting up to ``timeout`` for one."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._streams:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(min(left, _POLL))
            return max(self._streams)

    def schedule_activity(self, name: str, input_json: str | None = None) -> str:
        return self.engine.queue_activity(name, input_json)

    def start_orchestration(self, name: str, input_json: str | None = None,
                            instance_id: str | None = None) -> str:
        return self.engine.start_instance(name, input_json, instance_id)

    def instance_status(self, instance_id: str) -> dict[str, Any] | None:
        """{status: "ORCHESTRATION_STATUS_…", output, failure, name} or None if unknown."""
        with self._cond:
            inst = self.engine.instances.get(instance_id)
            if inst is None:
                return None
            return {"instance_id": inst.instance_id, "name": inst.name, "status": pb.status_name(inst.status),
                    "output": inst.output, "custom_status": inst.custom_status,
                    "failure": inst.failure.errorMessage if inst.failure is not None else None}

    def completions(self, token: str) -> list[dict[str, Any]]:
        with self._cond:
            return list(self.engine.completions.get(token, []))

    # -- call plumbing ----------------------------------------------------------------------
    def _begin(self, method: str, gen: int, context: grpc.ServicerContext, raw: bytes,
               streaming: bool, wire_method: str | None = None) -> Call:
        with self._cond:
            cid = next(self._call_ids)
        call = Call(self.history, cid, method, gen, context, raw, streaming,
                    self._is_gen_stopping, self._call_ended, wire_method)
        with self._cond:
            if not call.ended:
                self._calls[cid] = call
                if streaming:
                    self._streams[cid] = call
            self._cond.notify_all()
        return call

    def _is_gen_stopping(self, gen: int) -> bool:
        return gen in self._stopping_gens

    def _call_ended(self, call: Call) -> None:
        with self._cond:
            self._calls.pop(call.call_id, None)
            self._streams.pop(call.call_id, None)
            self._cond.notify_all()
        if call.streaming:  # the moment the stream is gone its leases are void
            self.engine.release(call.call_id, "stream ended")

    def _take_fault(self, call: Call) -> Fault | None:
        with self._cond:
            hit = self._faults.match(call.method, call.call_id)
        return hit[1] if hit else None

    def _abort_after(self, call: Call, req: Any, fault: AbortAfter) -> Abort | None:
        """Hold a unary call up to ``fault.seconds``; the Abort to apply if it is still being served
        then, None if it ended or its own answer became ready first (the handler answers it)."""
        def reached() -> bool:  # the long poll's own answer is ready: let the handler answer it
            inst = self.engine.instances.get(getattr(req, "instanceId", ""))
            if inst is None:
                return True
            return inst.terminal or (call.method == "WaitForInstanceStart"
                                     and inst.status != pb.ORCHESTRATION_STATUS_PENDING)

        t0 = time.monotonic()
        self._block(call, fault.seconds, reached)
        if not self._alive(call) or reached() or time.monotonic() - t0 < fault.seconds:
            return None
        return Abort(fault.code, fault.details)

    def _record_fault(self, call: Call, fault: Fault) -> None:
        self.history.record(FAKE, "server_fault", fault=fault_name(fault), method=call.method,
                            call_id=call.call_id, peer=call.peer, messages=call.messages, **fault.params())

    def _abort(self, call: Call, code: str | grpc.StatusCode, details: str) -> None:
        status = code if isinstance(code, grpc.StatusCode) else grpc.StatusCode[code]
        call.server_end(status.name, details)
        call.context.abort(status, details)  # raises

    def _alive(self, call: Call) -> bool:
        return not self._stopped.is_set() and call.context.is_active()

    def _block(self, call: Call, seconds: float | None, until: Callable[[], bool] = lambda: False) -> None:
        """Wait (lock held or not) until ``until()``, the call ends, the fake stops, or ``seconds``."""
        deadline = None if seconds is None else time.monotonic() + seconds
        with self._cond:
            while self._alive(call) and not until():
                left = _POLL if deadline is None else min(_POLL, deadline - time.monotonic())
                if left <= 0:
                    return
                self._cond.wait(left)

    def _handlers(self, gen: int) -> grpc.GenericRpcHandler:
        impls: dict[str, Callable[[Any, Call], Any]] = {
            "Hello": lambda req, call: pb.Empty(),
            "StartInstance": self._start_instance,
            "GetInstance": lambda req, call: self.engine.instance_response(req.instanceId, req.getInputsAndOutputs),
            "WaitForInstanceStart": lambda req, call: self._wait_instance(req, call, started=True),
            "WaitForInstanceCompletion": lambda req, call: self._wait_instance(req, call, started=False),
            "CompleteActivityTask": lambda req, call: self._complete(req, call, self.engine.complete_activity),
            "CompleteOrchestratorTask": lambda req, call: self._complete(req, call, self.engine.complete_orchestrator),
            "AbandonTaskActivityWorkItem": self._abandon,
            "AbandonTaskOrchestratorWorkItem": self._abandon,
            "RaiseEvent": self._raise_event,
            "TerminateInstance": self._terminate,
            "PurgeInstances": self._purge,
        }
        # The schema's method table: each of its RPCs is served under its own name and recorded (and
        # implemented) under its neutral one; an RPC with no neutral counterpart is answered UNIMPLEMENTED.
        table: dict[str, grpc.RpcMethodHandler] = {}
        for wire in self.schema.service():
            neutral = self._codec.neutral_method(wire)
            name = neutral.name if neutral is not None else wire.name
            deser = self._codec.request_deserializer(wire)
            ser = self._codec.response_serializer(wire)
            if name == "GetWorkItems":
                table[wire.name] = grpc.unary_stream_rpc_method_handler(
                    self._stream_handler(gen, wire.name), request_deserializer=deser, response_serializer=ser)
            else:
                out = neutral.output_type if neutral is not None else wire.output_type
                resp_cls = message_factory.GetMessageClass(out)
                impl = impls.get(name) if neutral is not None else None
                table[wire.name] = grpc.unary_unary_rpc_method_handler(
                    self._unary_handler(gen, name, wire.name, impl, resp_cls), request_deserializer=deser,
                    response_serializer=ser)
        return grpc.method_handlers_generic_handler(pb.SERVICE, table)

    # -- unary -----------------------------------------------------------------------------
    def _unary_handler(self, gen: int, method: str, wire_method: str, impl: Callable[[Any, Call], Any] | None,
                       resp_cls: type) -> Callable[[Request, grpc.ServicerContext], Any]:
        def handler(request: Request, context: grpc.ServicerContext) -> Any:
            call = self._begin(method, gen, context, request.raw, streaming=False, wire_method=wire_method)
            try:
                if impl is None:
                    self._abort(call, grpc.StatusCode.UNIMPLEMENTED,
                                f"{wire_method} is not implemented by the fake ({self.schema.name} schema)")
                self._reject_undecodable(call, request)
                req = request.message
                fault = self._take_fault(call)
                if isinstance(fault, AbortAfter):
                    fault = self._abort_after(call, req, fault)
                if fault is not None:
                    self._record_fault(call, fault)
                    if isinstance(fault, Abort):
                        self._abort(call, fault.code, fault.details)
                    elif isinstance(fault, EndOk):
                        call.server_end("OK", "injected: answered without doing the work")
                        return resp_cls()
                    elif isinstance(fault, (Hang, Silence)):
                        self._block(call, None)
                        return resp_cls()  # grpc already ended the call; this is discarded
                    elif isinstance(fault, Delay):
                        self._block(call, fault.seconds)
                        if not self._alive(call):
                            return resp_cls()
                resp = impl(req, call)
                call.server_end("OK")
                return resp
            except _Ended:
                return resp_cls()
            except Exception as e:  # context.abort raises too; server_end keeps the first outcome
                call.server_end("UNKNOWN", f"handler error: {e!r}")
                raise

        return handler

    def _reject_undecodable(self, call: Call, request: Request) -> None:
        """A request the schema cannot decode: recorded as ``decode_error`` with the reason, logged, and
        answered INVALID_ARGUMENT carrying the same reason (never a bare "did not decode")."""
        f = request.failure
        if f is None:
            return
        self.history.record(FAKE, "decode_error", call_id=call.call_id, method=call.method, wire_method=f.method,
                            schema=f.schema, message_type=f.message_type, path=f.path, owner=f.owner,
                            field_number=f.number, field=f.field, found=f.found, expected=f.expected,
                            decodes_with=f.decodes_with, other_field=f.other_field, message=f.text)
        log.error("fake sidecar: %s", f.text)
        self._abort(call, grpc.StatusCode.INVALID_ARGUMENT, f.text)

    def _record_dropped(self, direction: str, wire_method: str, dropped: list[Dropped]) -> None:
        """Fields transcoding could not carry (codec.py), each recorded once per fake: enough to say what
        the fake ignored (e.g. dapr's taskExecutionId) without one event per call."""
        for d in dropped:
            key = (direction, wire_method, d.path)
            with self._cond:
                if key in self._dropped_seen:
                    continue
                self._dropped_seen.add(key)
            self.history.record(FAKE, "schema_dropped", schema=self.schema.name, direction=direction,
                                wire_method=wire_method, path=d.path, reason=d.reason)

    def _start_instance(self, req: Any, call: Call) -> Any:
        iid = self.engine.start_instance(req.name, req.input.value if req.HasField("input") else None,
                                         req.instanceId or None)
        return pb.CreateInstanceResponse(instanceId=iid)

    def _wait_instance(self, req: Any, call: Call, *, started: bool) -> Any:
        """A real long poll: block until the state is reached or the client's deadline passes."""
        def reached() -> bool:
            inst = self.engine.instances.get(req.instanceId)
            if inst is None:
                return True  # unknown instance: answer exists=false at once
            return inst.terminal or (started and inst.status != pb.ORCHESTRATION_STATUS_PENDING)

        self._block(call, None, reached)
        if not self._alive(call):
            raise _Ended()  # deadline passed / cancelled: grpc already sent the status
        return self.engine.instance_response(req.instanceId, req.getInputsAndOutputs)

    def _complete(self, req: Any, call: Call, apply: Callable[[Any, int, str], tuple[str, bool]]) -> Any:
        token, duplicate = apply(req, call.call_id, call.peer)
        self.history.record(FAKE, "work_item_completed", method=call.method, completion_token=token,
                            instance_id=req.instanceId, task_id=getattr(req, "taskId", None),
                            duplicate=duplicate, call_id=call.call_id, peer=call.peer)
        return pb.CompleteTaskResponse()

    def _abandon(self, req: Any, call: Call) -> Any:
        self.engine.abandon(req.completionToken, call.call_id)
        _, resp_cls, _ = pb.method_types(call.method)
        return resp_cls()

    def _raise_event(self, req: Any, call: Call) -> Any:
        self.engine.raise_event(req.instanceId, req.name, req.input.value if req.HasField("input") else None)
        return pb.RaiseEventResponse()

    def _terminate(self, req: Any, call: Call) -> Any:
        self.engine.terminate(req.instanceId, req.output.value if req.HasField("output") else None)
        return pb.TerminateResponse()

    def _purge(self, req: Any, call: Call) -> Any:
        which = req.WhichOneof("request")
        n = self.engine.purge(req.instanceId if which == "instanceId" else None)
        return pb.PurgeInstancesResponse(deletedInstanceCount=n, isComplete=pb.BoolValue(value=True))

    # -- GetWorkItems ----------------------------------------------------------------------
    def _stream_handler(self, gen: int, wire_method: str) -> Callable[[Request, grpc.ServicerContext], Iterator[Any]]:
        def handler(request: Request, context: grpc.ServicerContext) -> Iterator[Any]:
            call = self._begin("GetWorkItems", gen, context, request.raw, streaming=True, wire_method=wire_method)
            try:
                self._reject_undecodable(call, request)
                yield from self._work_items(call)
            except _Ended:
                return
            except Exception as e:
                call.server_end("UNKNOWN", f"handler error: {e!r}")
                raise
            finally:
                self.engine.release(call.call_id, "stream ended")

        return handler

    def _work_items(self, call: Call) -> Iterator[Any]:
        fault = self._take_fault(call)
        if isinstance(fault, AbortAfter):  # a unary-only fault: used up, nothing happens
            fault = None
        if isinstance(fault, Delay):
            self._record_fault(call, fault)
            self._block(call, fault.seconds)
        need = after_messages(fault)
        silent = False
        if isinstance(fault, Hang):  # open, nothing sent (no headers, no pings) until ended
            self._record_fault(call, fault)
            silent = True
        last_ping = time.monotonic()
        while True:
            item: Item | None = None
            ping = False
            with self._cond:
                while True:
                    if not self._alive(call):
                        raise _Ended()
                    if call.end_request is not None:
                        code, details = call.end_request
                        if code == "OK":
                            call.server_end("OK", details)
                            return
                        self._abort(call, code, details)
                    if need is not None and call.messages >= need and not silent:
                        self._record_fault(call, fault)  # type: ignore[arg-type]
                        if isinstance(fault, EndOk):
                            call.server_end("OK", "injected")
                            return
                        if isinstance(fault, Abort):
                            self._abort(call, fault.code, fault.details)
                        silent = True  # Silence: keep the stream open, send nothing more
                    if not silent:
                        item = self.engine.take(call.call_id)
                        if item is not None:
                            break
                        interval = self._ping_interval
                        now = time.monotonic()
                        if need is not None and interval is None:
                            ping = True  # a counted fault needs messages and nothing else will come
                            break
                        if interval is not None and now - last_ping >= interval:
                            ping = True
                            break
                        wait = _POLL if interval is None else min(_POLL, last_ping + interval - now)
                    else:
                        wait = _POLL
                    self._cond.wait(max(wait, 0.001))
            if ping:
                last_ping = time.monotonic()
                msg, kind, token = pb.WorkItem(healthPing=pb.HealthPing()), "healthPing", ""
            else:
                assert item is not None
                msg, kind, token = item.message, item.kind, item.token
            seq = call.messages
            call.messages += 1
            self.history.record(FAKE, "message_sent", call_id=call.call_id, peer=call.peer, item=kind,
                                completion_token=token, seq=seq)
            yield msg


class _Fallback(grpc.GenericRpcHandler):
    """Records calls to methods the schema does not know (e.g. another fork's RPC names) and
    answers UNIMPLEMENTED, so even a wrong-schema client leaves a trace in the history; the details
    (and the log) name the schema that has the method, if any."""

    def __init__(self, fake: FakeSidecar, gen: int) -> None:
        self._fake, self._gen = fake, gen

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = details.method.rsplit("/", 1)[-1]
        fake, gen = self._fake, self._gen

        def handler(raw: bytes, context: grpc.ServicerContext) -> bytes:
            call = fake._begin(details.method, gen, context, raw, streaming=False)
            why = _unknown_method(fake.schema.name, method)
            log.error("fake sidecar: %s", why)
            fake._abort(call, grpc.StatusCode.UNIMPLEMENTED, why)
            return b""

        return grpc.unary_unary_rpc_method_handler(handler)


def _unknown_method(schema: str, method: str) -> str:
    """UNIMPLEMENTED's details for ``method``, naming the schemas that do define it."""
    others = [s.name for s in SCHEMAS.values() if s.name != schema and s.method(method) is not None]
    if not others:
        return f"unknown method {method} ({schema} schema; no schema the fake knows defines it)"
    return (f"unknown method {method}: the {schema} schema has no such RPC, the {' and '.join(others)} schema has: "
            f"is this a {others[0]} build? Run it with the {others[0]} schema (SdkBuild.schema = {others[0]!r})")
