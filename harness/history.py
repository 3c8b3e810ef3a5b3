"""One ordered record of everything that happened during a test.

Jepsen-style: the fake sidecar, the network fault layer, the SDK driver and the
scenario itself all append timestamped events here, and checkers read only this
record to decide a verdict. Reports draw it. Nothing else is a source of truth.

Timestamps are ``time.monotonic()`` seconds. On Linux that is CLOCK_MONOTONIC,
which is system-wide, so a driver process on the same host reports times on the
same clock (see harness/drivers/PROTOCOL.md) and events from both processes can
be ordered and subtracted directly.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Event sources. A checker filters on these; keep the set small and stable.
FAKE = "fake"  # the fake TaskHubSidecarService: RPCs, stream messages, server-side faults
NETWORK = "network"  # Toxiproxy toxics, TCP resets, packet observations
DRIVER = "driver"  # what the SDK process reports about itself
SCENARIO = "scenario"  # steps and markers written by the test itself


@dataclass(frozen=True)
class Event:
    """One thing that happened. ``t`` is monotonic seconds, ``seq`` the append order."""

    seq: int
    t: float
    source: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "t": self.t, "source": self.source, "kind": self.kind, "data": self.data}


class History:
    """Thread-safe append-only event log shared by every part of one test."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.t0 = time.monotonic()
        self._events: list[Event] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self.meta: dict[str, Any] = {}

    # -- writing -----------------------------------------------------------------
    def record(self, source: str, kind: str, t: float | None = None, **data: Any) -> Event:
        """Append an event. ``t`` defaults to now; pass it when the event was timed elsewhere
        (e.g. by the driver process, on the same monotonic clock)."""
        with self._cond:
            ev = Event(len(self._events), time.monotonic() if t is None else float(t), source, kind,
                       _jsonable(data))
            self._events.append(ev)
            self._cond.notify_all()
        return ev

    def mark(self, label: str, **data: Any) -> Event:
        """A scenario step marker, e.g. ``history.mark("fault applied")``."""
        return self.record(SCENARIO, "mark", label=label, **data)

    # -- reading -----------------------------------------------------------------
    @property
    def events(self) -> list[Event]:
        """All events, ordered by time (ties keep append order)."""
        with self._lock:
            evs = list(self._events)
        return sorted(evs, key=lambda e: (e.t, e.seq))

    def select(self, source: str | None = None, kind: str | None = None,
               after: float | None = None, before: float | None = None,
               where: Callable[[Event], bool] | None = None, **match: Any) -> list[Event]:
        """Events filtered by source, kind, a time window [after, before) and equal data fields."""
        out = []
        for ev in self.events:
            if source is not None and ev.source != source:
                continue
            if kind is not None and ev.kind != kind:
                continue
            if after is not None and ev.t < after:
                continue
            if before is not None and ev.t >= before:
                continue
            if any(ev.data.get(k) != v for k, v in match.items()):
                continue
            if where is not None and not where(ev):
                continue
            out.append(ev)
        return out

    def first(self, **kw: Any) -> Event | None:
        evs = self.select(**kw)
        return evs[0] if evs else None

    def last(self, **kw: Any) -> Event | None:
        evs = self.select(**kw)
        return evs[-1] if evs else None

    def wait_for(self, timeout: float, **kw: Any) -> Event | None:
        """Block until an event matching ``select(**kw)`` exists, or ``timeout`` seconds pass.

        Used by scenarios to pace their steps ("wait until the worker has a stream"); it never
        decides a verdict, checkers do that afterwards from the full record."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                self._cond.release()
                try:
                    hit = self.first(**kw)
                finally:
                    self._cond.acquire()
                if hit is not None:
                    return hit
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(min(remaining, 0.2))

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    # -- persistence -------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "t0": self.t0, "meta": self.meta,
                "events": [e.to_json() for e in self.events]}

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1))
        return path

    @classmethod
    def load(cls, path: Path) -> History:
        raw = json.loads(Path(path).read_text())
        h = cls(raw.get("name", ""))
        h.t0 = raw.get("t0", 0.0)
        h.meta = raw.get("meta", {})
        h._events = [Event(e["seq"], e["t"], e["source"], e["kind"], e.get("data", {}))
                     for e in raw["events"]]
        return h

    def prefix(self, n: int) -> History:
        """The history as it was when it held its first ``n`` events (seq is the append order): what a
        check saw when it ran, for re-judging a saved history that teardown kept appending to."""
        cut = History(self.name)
        cut.t0, cut.meta = self.t0, self.meta
        cut._events = [e for e in self.events if e.seq < n]
        return cut

    def format(self, limit: int | None = None) -> str:
        """A compact human-readable timeline, times relative to the history's start."""
        lines = []
        for ev in self.events[:limit]:
            data = " ".join(f"{k}={_short(v)}" for k, v in ev.data.items() if k not in ("request",))
            lines.append(f"{ev.t - self.t0:9.3f}s {ev.source:8} {ev.kind:20} {data}")
        return "\n".join(lines)


def _short(v: Any, n: int = 80) -> str:
    s = v if isinstance(v, str) else json.dumps(v, default=str)
    return s if len(s) <= n else s[: n - 3] + "..."


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """Keep events JSON-serialisable: bytes become hex, unknown objects become str."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, bytes):
            out[k] = v.hex()
        elif isinstance(v, (str, int, float, bool)) or v is None:
            out[k] = v
        else:
            try:
                json.dumps(v)
                out[k] = v
            except TypeError:
                out[k] = str(v)
    return out
