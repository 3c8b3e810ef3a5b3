"""Per-call bookkeeping: rpc_start / rpc_end recording with the right end time and cause.

A call the server ends (the handler returns or aborts) gets its rpc_end at that decision. A call
the client ends (cancel, deadline) is noticed through ``context.add_callback``, which fires when
gRPC really terminated it: the handler may still be blocked (long poll, stream wait) and only
notice later, so the callback gives the true time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import grpc

from fakes.recorder import FAKE, Recorder

NO_DEADLINE = 1e6  # grpc reports a huge time_remaining() when the client sent no deadline


def deadline_of(context: grpc.ServicerContext) -> float | None:
    rem = context.time_remaining()
    return None if rem is None or rem > NO_DEADLINE else rem


def metadata_of(context: grpc.ServicerContext) -> list[list[str]]:
    out = []
    for md in context.invocation_metadata() or ():
        v = md.value
        out.append([md.key, v.hex() if isinstance(v, bytes) else v])
    return out


class Call:
    """One RPC as the fake saw it."""

    def __init__(self, history: Recorder, call_id: int, method: str, gen: int,
                 context: grpc.ServicerContext, raw: bytes, streaming: bool,
                 is_gen_stopping: Callable[[int], bool], on_end: Callable[[Call], None],
                 wire_method: str | None = None) -> None:
        self.history = history
        self.call_id = call_id
        self.method = method  # the neutral name (fakes/schemas.py): what faults match and checks read
        # the RPC's name in the fake's wire schema, recorded only where it differs (CompleteWorkflowTask)
        self._wire = {"wire_method": wire_method} if wire_method and wire_method != method else {}
        self.gen = gen
        self.context = context
        self.streaming = streaming
        self.peer = context.peer()
        self.deadline = deadline_of(context)
        self.messages = 0
        self.outcome: tuple[str, str] | None = None  # decided by the server
        self.ended = False
        self.end_request: tuple[str, str] | None = None  # end_streams()/goaway asked to end it
        self._lock = threading.Lock()
        self._is_gen_stopping = is_gen_stopping
        self._on_end = on_end
        history.record(FAKE, "rpc_start", call_id=call_id, method=method, peer=self.peer,
                       metadata=metadata_of(context), deadline=self.deadline, request=raw, server_gen=gen, **self._wire)
        if not context.add_callback(self._grpc_done):
            self._grpc_done()  # already terminated before we could watch it

    def server_end(self, code: str, details: str = "") -> None:
        """The handler decided how the call ends (return = OK, or an abort code).

        rpc_end is recorded now, at the decision, not when grpc's done-callback fires: the
        callback can trail the client's own view of the trailers by milliseconds, and a
        checker reading "the fake ended the call at t" must never see the client react before t."""
        with self._lock:
            if self.outcome is None:
                self.outcome = (code, details)
            code, details = self.outcome
        self.finish("server", code, details)

    def _grpc_done(self) -> None:
        with self._lock:
            if self.outcome is not None:
                by, (code, details) = "server", self.outcome
            elif self._is_gen_stopping(self.gen):
                by, code, details = "server", "UNAVAILABLE", "server stopped; call cancelled"
            elif self.deadline is not None and self.context.time_remaining() <= 0:
                by, code, details = "client", "DEADLINE_EXCEEDED", "client deadline passed"
            else:
                by, code, details = "client", "CANCELLED", "client cancelled"
        self.finish(by, code, details)

    def finish(self, ended_by: str, code: str, details: str) -> None:
        """Record rpc_end exactly once (also used by stop() as a safety net)."""
        with self._lock:
            if self.ended:
                return
            self.ended = True
        data: dict[str, Any] = {"call_id": self.call_id, "method": self.method, "peer": self.peer,
                                "code": code, "details": details, "ended_by": ended_by, "server_gen": self.gen,
                                **self._wire}
        if self.streaming:
            data["messages"] = self.messages
        self.history.record(FAKE, "rpc_end", **data)
        self._on_end(self)
