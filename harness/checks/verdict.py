"""Verdict: the outcome of one check, and ``require`` that turns failed verdicts into a test failure.

Verdicts travel as data: ``Verdict.to_json``/``from_json``, and every verdict ``require`` judges is
also handed to the collector in force (``collecting()``; the pytest plugin opens one per test), so
reports read the verdicts themselves and never parse the ``[FAIL] ...`` lines people read.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.history import History


@dataclass
class Verdict:
    """The outcome of one check: what was required, what was measured, and the evidence."""

    check: str
    ok: bool
    summary: str
    measured: dict[str, Any] = field(default_factory=dict)
    evidence: list[int] = field(default_factory=list)  # event seq numbers
    requirement: str | None = None  # the SPEC.md ID this verdict decides, when a test cites several
    # How to recompute it from a saved history: {"fn": "module:function", "kwargs": {...}}; None when
    # the check cannot be re-run from the history alone.
    call: dict[str, Any] | None = None

    def __bool__(self) -> bool:
        return self.ok

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, [], {})}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        known = {k: data[k] for k in ("check", "ok", "summary", "measured", "evidence", "requirement", "call")
                 if k in data}
        return cls(**known)

    def explain(self, history: History | None = None) -> str:
        lines = [f"[{'PASS' if self.ok else 'FAIL'}] {self.check}: {self.summary}"]
        if self.requirement:
            lines.append(f"  requirement: {self.requirement}")
        if self.measured:
            lines.append("  measured: " + ", ".join(f"{k}={_fmt(v)}" for k, v in self.measured.items()))
        if history is not None and self.evidence:
            by_seq = {e.seq: e for e in history.events}
            for s in self.evidence:
                ev = by_seq.get(s)
                if ev is not None:
                    lines.append(f"  evidence: t={ev.t - history.t0:.3f}s {ev.source} {ev.kind} "
                                 + " ".join(f"{k}={_fmt(v)}" for k, v in ev.data.items()
                                            if k not in ("request", "metadata")))
        return "\n".join(lines)


def for_requirement(requirement_id: str, *verdicts: Verdict) -> list[Verdict]:
    """Tag verdicts with the requirement they decide.

    A test that cites several requirements fails as a whole, but the conformance matrix then
    marks FAIL only the requirements whose verdicts failed (untagged failures still fail all)."""
    for v in verdicts:
        v.requirement = requirement_id
    return list(verdicts)


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


_collector: contextvars.ContextVar[list[Verdict] | None] = contextvars.ContextVar("verdicts", default=None)


@contextlib.contextmanager
def collecting() -> Iterator[list[Verdict]]:
    """Collect every verdict ``require`` judges inside the block (in this thread or context)."""
    got: list[Verdict] = []
    token = _collector.set(got)
    try:
        yield got
    finally:
        _collector.reset(token)


def require(*verdicts: Verdict, history: History | None = None) -> None:
    """Assert that every verdict passed; the failure message explains all of them. The verdicts
    also go to the collector in force, passed or failed."""
    sink = _collector.get()
    if sink is not None:
        sink.extend(verdicts)
    if not all(v.ok for v in verdicts):
        raise AssertionError("\n".join(v.explain(history) for v in verdicts))
