"""The matrix's data: a test's result, a requirement's row, and what both renderings show of a run.

The rules that turn a test's facts into statuses live in statuses.py (PASS, FAIL, NOT IMPLEMENTED,
NON-STRICT, INCONCLUSIVE, NOT APPLICABLE, NOT RUN), the gate over a whole run in gate.py. A requirement's
status is the worst of its tests' outcomes on it (``outcome_for``). The verdicts are data from the
test's reports (harness/report/attach.py), never parsed from text.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.checks.verdict import Verdict
from harness.report.gate import Gate, counts_text
from harness.report.spec import Requirement
from harness.report.statuses import (
    FAIL,
    INCONCLUSIVE,
    NON_STRICT,
    NOT_APPLICABLE,
    NOT_APPLICABLE_PREFIX,
    NOT_IMPLEMENTED,
    NOT_RUN,
    PASS,
    STATUSES,
    requirement_outcome,
    requirement_status,
    status_of,
)

__all__ = ["FAIL", "INCONCLUSIVE", "NON_STRICT", "NOT_APPLICABLE", "NOT_APPLICABLE_PREFIX", "NOT_IMPLEMENTED",
           "NOT_RUN", "PASS", "STATUSES", "MatrixReport", "RequirementRow", "TestResult", "junit_properties",
           "outcome_for", "outcome_label", "relative_link", "requirement_status"]

# pytest outcomes of a test (its phases combined): what happened, before the rules say what it means
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass
class TestResult:
    __test__ = False  # not a pytest test class

    nodeid: str
    outcome: str = PASSED  # PASSED | FAILED | SKIPPED
    requirements: list[str] = field(default_factory=list)
    duration: float = 0.0
    history: str | None = None
    message: str = ""  # the failure's (or skip's) short message
    details: str = ""  # the failure's longer text (verdict explanations)
    phase: str = ""  # the phase that decided a failure or skip
    sdk: str | None = None
    sdk_version: str | None = None
    verdicts: list[Verdict] = field(default_factory=list)  # every verdict the call judged
    inconclusive: str = ""  # why the harness could not observe (the Inconclusive it raised)
    not_implemented: str = ""  # why it is NOT IMPLEMENTED without running (capabilities.py)
    at_defaults: str = ""  # it ran at the SDK's defaults, and why (the build lacks an option)
    status: str = PASS  # statuses.status_of, filled in by the collector


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


def outcome_for(r: TestResult, requirement_id: str, levels: Mapping[str, str] | None = None) -> str:
    """A test's status as far as one of the requirements it cites goes."""
    return requirement_outcome(r, requirement_id, levels or {})


def outcome_label(t: TestResult, requirement_id: str, levels: Mapping[str, str] | None = None) -> str:
    """The test's status on a requirement as people read it in a row."""
    own = outcome_for(t, requirement_id, levels)
    label = own
    if own != t.status:
        label += f" (the test is {t.status} on another requirement)"
    if t.at_defaults:
        label += " (at the SDK's defaults)"
    return label


def status_counts(statuses: Iterable[str]) -> dict[str, int]:
    got = list(statuses)
    return {s: got.count(s) for s in STATUSES}


def apply_status(results: Iterable[TestResult], levels: Mapping[str, str]) -> None:
    """Fill in every result's ``status`` (statuses.status_of)."""
    for r in results:
        r.status = status_of(r, levels)


@dataclass
class MatrixReport:
    """What conformance.md and conformance.html show: the gate, the rows, the tests, where the files are."""

    sdk: str
    sdk_version: str
    rows: list[RequirementRow]
    results: list[TestResult]
    out_dir: Path
    timeline_of: dict[str, Path]  # nodeid -> the HTML timeline of its saved history
    gate: Gate | None = None
    levels: dict[str, str] = field(default_factory=dict)  # requirement ID -> SPEC level

    @property
    def title(self) -> str:
        return f"Connection-resiliency conformance: {self.sdk} {self.sdk_version}"

    @property
    def failures(self) -> list[TestResult]:
        """Tests that failed on the SDK: FAIL, NOT IMPLEMENTED, NON-STRICT (INCONCLUSIVE is shown apart)."""
        return [t for t in self.results if t.status in (FAIL, NOT_IMPLEMENTED, NON_STRICT)]

    @property
    def inconclusive(self) -> list[TestResult]:
        return [t for t in self.results if t.status == INCONCLUSIVE]

    @property
    def untraced(self) -> list[TestResult]:
        """Tests that cite no requirement."""
        return [r for r in self.results if not r.requirements]

    def requirement_counts(self) -> str:
        return counts_text(status_counts(r.status for r in self.rows)) or "no requirements"

    def test_counts(self) -> str:
        return counts_text(status_counts(r.status for r in self.results)) or "none ran"

    def gate_lines(self) -> list[str]:
        return self.gate.lines() if self.gate is not None else []

    def link(self, path: str | Path) -> str:
        """``path`` relative to the report's folder."""
        return relative_link(path, self.out_dir)


def relative_link(path: str | Path, folder: str | Path) -> str:
    """``path`` relative to ``folder`` (POSIX separators), for a link in a page or results.json that
    survives moving the folders together; absolute where no relative path exists (another drive)."""
    try:
        return Path(os.path.relpath(Path(path).resolve(), Path(folder).resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return Path(path).resolve().as_posix()
