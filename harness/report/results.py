"""The matrix's data and rules: a test's result, a requirement's row, and how outcomes decide a status.

A requirement is
- FAIL when any of its tests failed (in any phase) on it,
- PASS when none failed and at least one passed,
- NOT APPLICABLE when all its tests were skipped with a reason starting "NOT APPLICABLE",
- NOT RUN otherwise (no test ran, or all were skipped for other reasons).

A failed test that cites several requirements failed on those its failed verdicts name
(``Verdict.requirement``, set by ``for_requirement``); a failed verdict that names none, or a failure
without a failed verdict (e.g. an assert in setup), counts against every requirement it cites. The
verdicts are data from the test's reports (harness/report/attach.py), never parsed from text.

Also what both renderings (markdown.py, html.py) show of a run: ``MatrixReport``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.checks.verdict import Verdict
from harness.report.spec import Requirement

NOT_APPLICABLE_PREFIX = "NOT APPLICABLE"

PASS, FAIL, NOT_APPLICABLE, NOT_RUN = "PASS", "FAIL", "NOT APPLICABLE", "NOT RUN"
# test outcomes
PASSED, FAILED, NA, SKIPPED = "passed", "failed", "not applicable", "skipped"


@dataclass
class TestResult:
    __test__ = False  # not a pytest test class

    nodeid: str
    outcome: str = PASSED
    requirements: list[str] = field(default_factory=list)
    duration: float = 0.0
    history: str | None = None
    message: str = ""  # the failure's (or skip's) short message
    details: str = ""  # the failure's longer text (verdict explanations)
    phase: str = ""  # the phase that decided a failure or skip
    sdk: str | None = None
    sdk_version: str | None = None
    verdicts: list[Verdict] = field(default_factory=list)  # every verdict the call judged


@dataclass
class RequirementRow:
    requirement: Requirement
    status: str
    tests: list[TestResult]
    in_spec: bool = True


def junit_properties(item: Any) -> list[tuple[str, str]]:
    """``("requirement", ID)`` for every ID in the item's ``requirement`` markers (in order, once)."""
    seen: list[str] = []
    for mark in item.iter_markers("requirement"):
        for rid in mark.args:
            if str(rid) not in seen:
                seen.append(str(rid))
    return [("requirement", rid) for rid in seen]


def failed_requirements(r: TestResult) -> set[str] | None:
    """The requirements a failed test failed, from its failed verdicts' ``requirement``; None when a
    failed verdict names none, or no verdict failed: the failure counts against every requirement
    the test cites."""
    failed = [v for v in r.verdicts if not v.ok]
    if not failed or any(not v.requirement for v in failed):
        return None
    return {str(v.requirement) for v in failed}


def outcome_for(r: TestResult, requirement_id: str) -> str:
    """A test's outcome as far as one of its requirements goes."""
    if r.outcome != FAILED or len(r.requirements) < 2:
        return r.outcome
    failed = failed_requirements(r)
    return r.outcome if failed is None or requirement_id in failed else PASSED


def requirement_status(outcomes: Iterable[str]) -> str:
    outs = list(outcomes)
    if any(o == FAILED for o in outs):
        return FAIL
    if any(o == PASSED for o in outs):
        return PASS
    if outs and all(o == NA for o in outs):
        return NOT_APPLICABLE
    return NOT_RUN


def outcome_label(t: TestResult, requirement_id: str) -> str:
    o = outcome_for(t, requirement_id)
    return f"{o} (the test failed on another requirement)" if o != t.outcome else t.outcome


@dataclass
class MatrixReport:
    """What conformance.md and conformance.html show: the rows, the tests, where the files are."""

    sdk: str
    sdk_version: str
    rows: list[RequirementRow]
    results: list[TestResult]
    out_dir: Path
    timeline_of: dict[str, Path]  # nodeid -> the HTML timeline of its saved history

    @property
    def title(self) -> str:
        return f"Connection-resiliency conformance: {self.sdk} {self.sdk_version}"

    @property
    def failures(self) -> list[TestResult]:
        return [t for t in self.results if t.outcome == FAILED]

    @property
    def untraced(self) -> list[TestResult]:
        """Tests that cite no requirement."""
        return [r for r in self.results if not r.requirements]

    def requirement_counts(self) -> str:
        order = [PASS, FAIL, NOT_APPLICABLE, NOT_RUN]
        n = {s: sum(1 for r in self.rows if r.status == s) for s in order}
        return ", ".join(f"{n[s]} {s}" for s in order if n[s]) or "no requirements"

    def test_counts(self) -> str:
        order = [PASSED, FAILED, NA, SKIPPED]
        n = {o: sum(1 for r in self.results if r.outcome == o) for o in order}
        return ", ".join(f"{n[o]} {o}" for o in order if n[o]) or "none ran"

    def link(self, path: str | Path) -> str:
        """``path`` relative to the report's folder (a file URI on another drive)."""
        try:
            return Path(os.path.relpath(Path(path).resolve(), Path(self.out_dir).resolve())).as_posix()
        except ValueError:  # another drive (Windows)
            return Path(path).resolve().as_uri()
