"""Server-side fault vocabulary for the fake sidecar.

Each class only *describes* a fault; FakeSidecar interprets it (fakes/sidecar.py), so a
scenario reads as data: ``fake.inject("GetWorkItems", EndOk(after_messages=1), count=2)``.

Semantics (unary RPC / GetWorkItems stream):
- Abort(code, details, after_messages): unary: abort instead of answering. Stream: send
  ``after_messages`` messages (health pings or real work items), then abort with ``code``.
- EndOk(after_messages): stream: send N messages, then end with status OK (0 = OK before the
  first message). Unary: answer with an empty response WITHOUT doing the work (a lost op).
- Hang(): never answer; block until the client cancels or its deadline passes. Streams send
  nothing at all (no pings).
- Silence(after_messages): stream: send N messages, then keep the stream open and send nothing
  (no pings, no items). Unary: same as Hang.
- Delay(seconds): answer normally after a delay (stream: start streaming after the delay).
- AbortAfter(seconds, code, details): unary: a call still being served ``seconds`` after it
  started is aborted with ``code`` (a load balancer's cut of idle long polls, e.g. DTS at 240 s).
  The call's own work still ends it earlier: a long poll whose awaited state is reached within
  ``seconds`` is answered normally. Recorded as an ``Abort`` server_fault when (and only if) it
  cuts the call. Streams: ignored (the rule is used up, nothing happens).

When a stream fault needs ``after_messages`` messages and the health-ping cadence is off and no
work is queued, the fake sends health pings right away so "after N messages" always holds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Union

import grpc


@dataclass(frozen=True)
class Abort:
    code: grpc.StatusCode
    details: str = "injected"
    after_messages: int = 0

    def params(self) -> dict[str, Any]:
        return {"code": self.code.name, "details": self.details, "after_messages": self.after_messages}


@dataclass(frozen=True)
class EndOk:
    after_messages: int = 0

    def params(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Hang:
    def params(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class Silence:
    after_messages: int = 0

    def params(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Delay:
    seconds: float

    def params(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AbortAfter:
    seconds: float
    code: grpc.StatusCode
    details: str = "injected"

    def params(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "code": self.code.name, "details": self.details}


Fault = Union[Abort, EndOk, Hang, Silence, Delay, AbortAfter]


def fault_name(fault: Fault) -> str:
    """The name recorded in ``server_fault`` events ("Abort", "EndOk", ...)."""
    return type(fault).__name__


def after_messages(fault: Fault | None) -> int | None:
    """How many stream messages to send before the fault takes effect; None = not message-counted."""
    return getattr(fault, "after_messages", None) if isinstance(fault, (Abort, EndOk, Silence)) else None


@dataclass(eq=False)
class FaultRule:
    """One injected rule. ``remaining`` None = fires on every matching call until removed."""

    method: str  # short RPC name, e.g. "GetWorkItems"; "*" matches every method
    fault: Fault
    remaining: int | None = 1
    rule_id: int = 0
    fired: list[int] = field(default_factory=list)  # call_ids it fired on

    def matches(self, method: str) -> bool:
        return (self.method == "*" or self.method == method) and (self.remaining is None or self.remaining > 0)

    def take(self, call_id: int) -> Fault:
        if self.remaining is not None:
            self.remaining -= 1
        self.fired.append(call_id)
        return self.fault


class FaultTable:
    """Ordered rules; the first live rule for a method fires at call start. Not thread-safe on its
    own: FakeSidecar guards it with its lock."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._next_id = 1

    def add(self, method: str, fault: Fault, count: int | None = 1) -> FaultRule:
        if count is not None and count < 1:
            raise ValueError("count must be >= 1 or None")
        rule = FaultRule(method, fault, count, self._next_id)
        self._next_id += 1
        self._rules.append(rule)
        return rule

    def remove(self, rule: FaultRule) -> None:
        if rule in self._rules:
            self._rules.remove(rule)

    def clear(self) -> None:
        self._rules.clear()

    def match(self, method: str, call_id: int) -> tuple[FaultRule, Fault] | None:
        for rule in self._rules:
            if rule.matches(method):
                return rule, rule.take(call_id)
        return None

    @property
    def rules(self) -> list[FaultRule]:
        return list(self._rules)
