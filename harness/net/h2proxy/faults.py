"""The proxy's faults as data: what is in force (read by every connection's relay loop) and how
each one describes itself in the History (the recorder.py vocabulary: fault, fault_id, type,
stream, attributes, scope).

Scoped faults (``WithholdPings``, ``KeepaliveEnforcement``, ``StreamRule``) live in ``FaultState``
while their ``with`` block runs; one-shot faults (``RstStream``, ``Goaway``) are actions the relay
performs once and records as one event.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from harness.net.h2proxy.frames import ERROR_NAMES
from harness.net.h2proxy.keepalive import KeepalivePolicy
from harness.net.recorder import next_fault_id

TO_SDK, TO_FAKE = "to_sdk", "to_fake"
DIRECTIONS = (TO_SDK, TO_FAKE, "both")
STREAM_FAULTS = ("stall", "drop", "delay")


def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")


@dataclass
class WithholdPings:
    """PINGs from the SDK get no ACK (the proxy still reads them)."""

    fault_id: int = field(default_factory=next_fault_id)

    def describe(self) -> dict[str, Any]:
        return {"fault": "withhold_pings", "fault_id": self.fault_id, "type": "withhold_pings",
                "stream": TO_SDK, "attributes": {}, "scope": "h2_connection"}


@dataclass
class KeepaliveEnforcement:
    """A grpc-core ping policy (keepalive.py) judged on every downstream connection."""

    policy: KeepalivePolicy
    fault_id: int = field(default_factory=next_fault_id)

    def describe(self) -> dict[str, Any]:
        return {"fault": "keepalive_policy", "fault_id": self.fault_id, "type": "keepalive_policy",
                "stream": TO_SDK, "attributes": self.policy.describe(), "scope": "h2_connection"}


@dataclass
class StreamRule:
    """Hold (``stall``), discard DATA (``drop``) or hold each frame ``seconds`` (``delay``) on the
    streams whose ``:path`` is ``method``, in one direction or both; other streams flow."""

    fault: str
    method: str
    direction: str = "both"
    seconds: float = 0.0
    fault_id: int = field(default_factory=next_fault_id)

    def __post_init__(self) -> None:
        if self.fault not in STREAM_FAULTS:
            raise ValueError(f"stream fault must be one of {STREAM_FAULTS}, not {self.fault!r}")
        _check_direction(self.direction)
        if self.fault == "delay" and self.seconds <= 0:
            raise ValueError("a delay needs seconds > 0")

    def matches(self, path: str, direction: str) -> bool:
        return path == self.method and self.direction in (direction, "both")

    def describe(self) -> dict[str, Any]:
        return {"fault": f"{self.fault}_stream", "fault_id": self.fault_id, "type": f"{self.fault}_stream",
                "stream": self.direction, "scope": "h2_stream",
                "attributes": {"method": self.method, "seconds": self.seconds}}


@dataclass
class RstStream:
    """Reset one stream toward the SDK with ``code`` (and cancel its upstream half)."""

    method: str
    code: int
    after_response_headers: bool = False
    fault_id: int = field(default_factory=next_fault_id)

    def describe(self) -> dict[str, Any]:
        return {"fault": "rst_stream", "fault_id": self.fault_id, "type": "rst_stream", "stream": TO_SDK,
                "scope": "h2_stream", "attributes": {
                    "method": self.method, "error_code": self.code, "error_name": ERROR_NAMES.get(self.code),
                    "after_response_headers": self.after_response_headers}}


@dataclass
class Goaway:
    """GOAWAY to the SDK; ``last_stream_id`` None = the highest stream the SDK opened."""

    code: int
    last_stream_id: int | None = None
    debug_data: bytes = b""
    close: bool = False
    fault_id: int = field(default_factory=next_fault_id)

    def describe(self) -> dict[str, Any]:
        return {"fault": "goaway", "fault_id": self.fault_id, "type": "goaway", "stream": TO_SDK,
                "scope": "h2_connection", "attributes": {
                    "error_code": self.code, "error_name": ERROR_NAMES.get(self.code),
                    "last_stream_id": self.last_stream_id,
                    "debug_data": self.debug_data.decode("utf-8", "replace"), "close": self.close}}


class FaultState:
    """The scoped faults in force, shared by the control thread and every relay thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._withhold: list[WithholdPings] = []
        self._keepalive: list[KeepaliveEnforcement] = []
        self._rules: list[StreamRule] = []

    def add(self, f: WithholdPings | KeepaliveEnforcement | StreamRule) -> None:
        with self._lock:
            self._list(f).append(f)

    def remove(self, f: WithholdPings | KeepaliveEnforcement | StreamRule) -> None:
        with self._lock:
            lst = self._list(f)
            if f in lst:
                lst.remove(f)

    def _list(self, f: object) -> list[Any]:
        if isinstance(f, WithholdPings):
            return self._withhold
        if isinstance(f, KeepaliveEnforcement):
            return self._keepalive
        if isinstance(f, StreamRule):
            return self._rules
        raise TypeError(f"not a scoped h2 fault: {f!r}")

    @property
    def withholding_pings(self) -> bool:
        with self._lock:
            return bool(self._withhold)

    @property
    def keepalive(self) -> KeepaliveEnforcement | None:
        with self._lock:
            return self._keepalive[-1] if self._keepalive else None

    def rule_for(self, path: str, direction: str) -> StreamRule | None:
        """The newest stream rule matching this stream and direction."""
        with self._lock:
            for r in reversed(self._rules):
                if r.matches(path, direction):
                    return r
        return None
