"""The conformance matrix of a run: which requirement of conformance/SPEC.md passed for the SDK under test.

A ``ConformanceCollector`` is fed pytest test reports (every phase: setup, call, teardown) and at
the end writes ``conformance.md`` and ``conformance.html`` into a directory: the SDK name and
version and the gate verdict (gate.py), then requirement by requirement (IDs, levels and texts parsed
from SPEC.md, spec.py) its status (the rules: statuses.py), the tests behind it, and for each failure
its message, its saved history JSON and an HTML timeline of that history (harness/report/timeline/),
rendered next to the JSON. ``gate(context)`` is the run's gate verdict (the plugin prints it and sets
the exit code from it).

Everything is read from the reports' ``user_properties`` (``("requirement", ID)``, ``("history",
path)``, ``("sdk", ...)``, ``("sdk_version", ...)``, ``("verdicts", JSON)``, and the facts of
statuses.py: ``inconclusive``, ``not_implemented``, ``at_defaults``), so it works on the
pytest-xdist controller, which has reports but no items (plugin.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness.checks.verdict import Verdict
from harness.history import History
from harness.report.attach import VERDICTS, decode_verdicts
from harness.report.gate import Gate, GateContext, judge
from harness.report.html import render_html
from harness.report.markdown import render_markdown
from harness.report.results import (
    FAILED,
    NOT_RUN,
    SKIPPED,
    MatrixReport,
    RequirementRow,
    TestResult,
    apply_status,
    junit_properties,
    outcome_for,
    requirement_status,
)
from harness.report.results_file import RunInfo, write_results
from harness.report.spec import SPEC_PATH, Requirement, parse_spec
from harness.report.statuses import PROP_AT_DEFAULTS, PROP_INCONCLUSIVE, PROP_NOT_IMPLEMENTED
from harness.report.timeline import render_timeline


class ConformanceCollector:
    """Collects test reports; ``write(dir)`` produces the matrix."""

    def __init__(self, spec_path: Path = SPEC_PATH, *, sdk: str | None = None,
                 sdk_version: str | None = None) -> None:
        self.spec_path = Path(spec_path)
        self.sdk = sdk
        self.sdk_version = sdk_version
        self._results: dict[str, TestResult] = {}

    # -- feeding ---------------------------------------------------------------------------
    def add(self, report: Any, item: Any = None) -> TestResult:
        """Record one phase report (setup / call / teardown) of a test."""
        nodeid = str(getattr(report, "nodeid", "") or getattr(item, "nodeid", ""))
        r = self._results.get(nodeid)
        if r is None:
            r = self._results[nodeid] = TestResult(nodeid)
        reqs = [str(v) for k, v in _props(report) if k == "requirement"]
        if item is not None:
            reqs += [rid for _, rid in junit_properties(item)]
        for rid in reqs:
            if rid not in r.requirements:
                r.requirements.append(rid)
        _read_properties(r, report)
        r.duration += float(getattr(report, "duration", 0.0) or 0.0)
        when = getattr(report, "when", "")
        if getattr(report, "failed", False):
            if r.outcome != FAILED:  # the first failure explains the test
                r.outcome = FAILED
                r.phase = when
                r.message, r.details = _failure_text(report)
                if when != "call":
                    r.message = f"error in {when}: {r.message}"
        elif getattr(report, "skipped", False) and r.outcome != FAILED:
            reason = _skip_reason(report)
            r.outcome = SKIPPED
            r.message = f"xfail: {report.wasxfail or reason}" if hasattr(report, "wasxfail") else reason
            r.phase = when
        return r

    # -- reading ---------------------------------------------------------------------------
    @property
    def results(self) -> list[TestResult]:
        return list(self._results.values())

    def sdk_under_test(self) -> tuple[str, str]:
        sdk = self.sdk or next((r.sdk for r in self._results.values() if r.sdk), None) or "unknown SDK"
        ver = self.sdk_version or next((r.sdk_version for r in self._results.values() if r.sdk_version),
                                       None) or "unknown version"
        return sdk, ver

    def levels(self) -> dict[str, str]:
        """Requirement ID -> its SPEC.md level (an ID SPEC.md lacks counts as MUST)."""
        return {req.id: req.level for req in parse_spec(self.spec_path)}

    def matrix(self) -> list[RequirementRow]:
        spec = parse_spec(self.spec_path)
        levels = {req.id: req.level for req in spec}
        apply_status(self._results.values(), levels)
        rows = [RequirementRow(req, NOT_RUN, []) for req in spec]
        known = {req.id for req in spec}
        extra: list[str] = []
        for r in self._results.values():
            for rid in r.requirements:
                if rid not in known and rid not in extra:
                    extra.append(rid)
        rows += [RequirementRow(Requirement(rid), NOT_RUN, [], in_spec=False) for rid in extra]
        for row in rows:
            row.tests = [r for r in self._results.values() if row.requirement.id in r.requirements]
            row.status = requirement_status(outcome_for(t, row.requirement.id, levels) for t in row.tests)
        return rows

    def gate(self, context: GateContext | None = None) -> Gate:
        """The gate over every test reported so far (and the requirements those tests cite)."""
        rows = [row for row in self.matrix() if row.tests]
        return judge(((r.status, r.message) for r in self._results.values()), (row.status for row in rows),
                     context)

    def untraced(self) -> list[TestResult]:
        """Tests that cite no requirement."""
        return [r for r in self._results.values() if not r.requirements]

    # -- writing ---------------------------------------------------------------------------
    def write(self, out_dir: Path, *, sdk: str | None = None, sdk_version: str | None = None,
              timelines: bool = True, context: GateContext | None = None,
              info: RunInfo | None = None) -> tuple[Path, Path]:
        """Write ``conformance.md``, ``conformance.html`` and ``results.json`` (results_file.py: the same run
        as data, with ``info`` about the run) into ``out_dir``; returns the two pages' paths.

        With ``timelines``, each failed test's saved history gets an HTML timeline next to it. The
        header states the gate verdict under ``context`` (tolerance, patches, strict)."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if sdk:
            self.sdk = sdk
        if sdk_version:
            self.sdk_version = sdk_version
        timeline_of: dict[str, Path] = {}
        if timelines:
            for r in self._results.values():
                if r.outcome == FAILED and r.history:
                    p = _render_timeline_for(r)
                    if p is not None:
                        timeline_of[r.nodeid] = p
        report = MatrixReport(*self.sdk_under_test(), self.matrix(), self.results, out_dir, timeline_of,
                              self.gate(context), self.levels())
        md = out_dir / "conformance.md"
        md.write_text(render_markdown(report), encoding="utf-8")
        page = out_dir / "conformance.html"
        page.write_text(render_html(report), encoding="utf-8")
        write_results(report, info or RunInfo())
        return md, page


def _props(report: Any) -> list[tuple[Any, Any]]:
    out = []
    for p in getattr(report, "user_properties", None) or []:
        try:
            k, v = p
        except (TypeError, ValueError):
            continue
        out.append((k, v))
    return out


def _read_properties(r: TestResult, report: Any) -> None:
    """The history path, SDK name/version and verdicts a report carries."""
    for k, v in _props(report):
        if k == "history" and v:
            r.history = str(v)
        elif k == "sdk" and v:
            r.sdk = str(v)
        elif k == "sdk_version" and v:
            r.sdk_version = str(v)
        elif k == VERDICTS and v:
            try:
                r.verdicts = decode_verdicts(str(v))
            except ValueError:  # not ours: the test's failure then counts against all its requirements
                pass
        elif k == PROP_INCONCLUSIVE and v:
            r.inconclusive = str(v)
        elif k == PROP_NOT_IMPLEMENTED and v:
            r.not_implemented = str(v)
        elif k == PROP_AT_DEFAULTS and v:
            r.at_defaults = str(v)


def _skip_reason(report: Any) -> str:
    lr = getattr(report, "longrepr", None)
    if isinstance(lr, tuple) and len(lr) == 3:
        reason = str(lr[2])
    else:
        reason = str(getattr(report, "longreprtext", "") or lr or "")
    return reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason


def _failure_text(report: Any) -> tuple[str, str]:
    """(short message, longer details) of a failed report, as people read them."""
    lr = getattr(report, "longrepr", None)
    crash = getattr(lr, "reprcrash", None)
    full = str(getattr(report, "longreprtext", "") or lr or "")
    msg = str(getattr(crash, "message", "") or "") if crash is not None else ""
    if not msg:
        elines = [ln[1:].strip() for ln in full.splitlines() if ln.startswith("E ")]
        msg = "\n".join(elines) if elines else (full.strip().splitlines() or [""])[-1]
    details = msg
    # Short: the first failing verdict line if there is one, else the first line.
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip()]
    short = next((ln for ln in lines if "[FAIL]" in ln), lines[0] if lines else "failed")
    short = re.sub(r"^(AssertionError|Failed):\s*", "", short)
    if len(short) > 300:
        short = short[:297] + "..."
    if len(details) > 4000:
        details = details[:3997] + "..."
    return short, details


def _render_timeline_for(r: TestResult) -> Path | None:
    """The HTML timeline of a failed test's saved history, next to it, with the test's verdicts (else
    the ones the history holds, e.g. a field-report scenario's)."""
    src = Path(r.history or "")
    try:
        h = History.load(src)
        verdicts = r.verdicts or [Verdict.from_json(d) for d in h.meta.get(VERDICTS) or []]
        return render_timeline(h, src.with_suffix(".html"), title=r.nodeid, verdicts=verdicts or None)
    except Exception:  # a report must not fail because one history is unreadable
        return None
