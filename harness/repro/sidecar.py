"""The fake sidecar plus the server behaviours field reports need that fakes/faults.py lacks.

- ``end_stream(call_id, code, message)``: end ONE GetWorkItems stream now (``end_streams`` ends all),
  recorded as a ``server_fault`` on that call so ``checks.queries.server_close_time`` finds it.
- ``AbortAfter(seconds, code, details)``: a unary call that is still being served ``seconds`` after it
  started is aborted with ``code`` (a DTS-style cut of idle long polls). Implemented by holding the
  call before its handler runs; the call's own work (e.g. a long poll that would complete earlier)
  still ends it early: the wait stops as soon as the state the call waits for is reached.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import grpc

from fakes.faults import Abort
from fakes.sidecar import FakeSidecar
from harness.history import FAKE


@dataclass(frozen=True)
class AbortAfter:
    seconds: float
    code: grpc.StatusCode
    details: str = "injected"

    def params(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "code": self.code.name, "details": self.details}


class ScenarioSidecar(FakeSidecar):
    def end_stream(self, call_id: int, code: str, details: str = "", *, fault: str = "EndStream",
                   **extra: Any) -> bool:
        with self._cond:
            call = self._streams.get(call_id)
            if call is None or call.end_request is not None:
                return False
            self.history.record(FAKE, "server_fault", fault=fault, method="GetWorkItems", call_id=call_id,
                                peer=call.peer, messages=call.messages, code=code, details=details, **extra)
            call.end_request = (code, details)
            self._cond.notify_all()
        return True

    def _begin(self, method: str, gen: int, context: Any, raw: bytes, streaming: bool) -> Any:
        call = super()._begin(method, gen, context, raw, streaming)
        call.raw = raw  # AbortAfter needs the request (which instance a long poll waits for)
        return call

    def _take_fault(self, call: Any) -> Any:
        fault = super()._take_fault(call)
        if not isinstance(fault, AbortAfter):
            return fault
        if call.streaming:  # not meant for streams: ignore
            return None
        from fakes import pb
        req = _decode(call)

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


def _decode(call: Any) -> Any:
    from fakes import pb
    req_cls, _, _ = pb.method_types(call.method)
    try:
        return req_cls.FromString(call.raw) if getattr(call, "raw", None) else None
    except Exception:
        return None
