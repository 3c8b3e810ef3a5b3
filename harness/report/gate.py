"""The release gate: one verdict for a run, PASS or FAIL, with the counts per status and the conditions
it was reached under (tolerance, patches applied to the SDK, strict or not, tests left out).

The rule. The gate PASSES when at least one test passed and no test is FAIL, NOT IMPLEMENTED,
INCONCLUSIVE or NOT RUN (a test of the run that was skipped without being NOT APPLICABLE, e.g. left
out by ``--skip-at-defaults``); NON-STRICT tests (only SHOULD verdicts failed) fail it only with
``--strict``. NOT APPLICABLE (an optional capability the build lacks) never fails it. The pytest exit
code follows the gate (harness/plugin.py): 0 only when it passes.

Tests that were not collected (``-k``, one file) are not the gate's business: it judges the run it
is given, and says so by counting what ran.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness.report.statuses import (
    FAIL,
    INCONCLUSIVE,
    LEFT_OUT_PREFIX,
    NON_STRICT,
    NOT_APPLICABLE,
    NOT_IMPLEMENTED,
    NOT_RUN,
    PASS,
    STATUSES,
)


@dataclass(frozen=True)
class GateContext:
    """What the run was judged under: shown next to the gate verdict wherever it is shown."""

    tolerance: float | None = None
    patches: tuple[str, ...] = ()  # --sdk-patch files (broken variants): the build is NOT the release
    strict: bool = False
    skip_at_defaults: bool = False

    def lines(self) -> list[str]:
        tol = "unknown" if self.tolerance is None else f"{self.tolerance:g} s"
        patch = ", ".join(Path(p).name for p in self.patches) if self.patches else "none"
        strict = ("yes (--strict: a failing SHOULD fails the gate)" if self.strict else
                  "no (a failing SHOULD is reported NON-STRICT and does not fail the gate; --strict counts it)")
        return [f"timing tolerance {tol}", f"SDK patched: {patch}", f"strict: {strict}"]


@dataclass
class Gate:
    passed: bool
    tests: dict[str, int]  # status -> number of tests
    requirements: dict[str, int]  # status -> number of requirements
    context: GateContext
    left_out: int = 0
    reasons: list[str] = field(default_factory=list)  # why it failed, worst first

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"

    def summary(self) -> str:
        """One line: the verdict and the counts."""
        line = f"gate {self.verdict}: tests {counts_text(self.tests)}"
        if any(self.requirements.values()):
            line += f"; requirements {counts_text(self.requirements)}"
        return line

    def lines(self) -> list[str]:
        """The summary, why it failed, and the conditions (for the terminal and the matrix header)."""
        out = [self.summary()]
        out += [f"  {r}" for r in self.reasons]
        out.append("  " + " · ".join(self.context.lines()))
        return out


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts.get(s)) or "none"


def judge(test_statuses: Iterable[tuple[str, str]], requirement_statuses: Iterable[str] = (),
          context: GateContext | None = None) -> Gate:
    """The gate over ``(status, skip reason or "")`` per test and the requirements' statuses."""
    ctx = context or GateContext()
    tests = list(test_statuses)
    t = {s: sum(1 for st, _ in tests if st == s) for s in STATUSES}
    reqs = list(requirement_statuses)
    r = {s: sum(1 for st in reqs if st == s) for s in STATUSES}
    left_out = sum(1 for st, why in tests if st == NOT_RUN and why.startswith(LEFT_OUT_PREFIX))
    reasons = []
    for status, why in ((FAIL, "a MUST requirement failed"),
                        (NOT_IMPLEMENTED, "the build lacks a MUST behaviour (or the option to test it)"),
                        (INCONCLUSIVE, "the harness could not observe what the verdict needs; not charged "
                                       "to the requirement, but nobody can vouch for it")):
        if t[status]:
            reasons.append(f"{t[status]} test(s) {status}: {why}")
    if left_out:
        reasons.append(f"{left_out} test(s) left out by --skip-at-defaults (they would run at the SDK's "
                       "defaults): the gate is not passed while tests are left out")
    if t[NOT_RUN] - left_out:
        reasons.append(f"{t[NOT_RUN] - left_out} test(s) NOT RUN (skipped for a reason that is not an "
                       "optional capability)")
    if t[NON_STRICT] and ctx.strict:
        reasons.append(f"{t[NON_STRICT]} test(s) NON-STRICT: a SHOULD failed, and --strict counts it")
    if not reasons and not (t[PASS] or t[NON_STRICT]):
        reasons.append("no test passed" + (f" ({t[NOT_APPLICABLE]} NOT APPLICABLE)" if t[NOT_APPLICABLE] else ""))
    return Gate(not reasons, t, r, ctx, left_out, reasons)
