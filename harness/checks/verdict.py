"""Verdict: the outcome of one check, and ``require`` that turns failed verdicts into a test failure."""

from __future__ import annotations

from dataclasses import dataclass, field
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

    def __bool__(self) -> bool:
        return self.ok

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


def require(*verdicts: Verdict, history: History | None = None) -> None:
    """Assert that every verdict passed; the failure message explains all of them."""
    if not all(v.ok for v in verdicts):
        raise AssertionError("\n".join(v.explain(history) for v in verdicts))
