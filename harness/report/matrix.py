"""The conformance matrix: which requirement of conformance/SPEC.md passed for the SDK under test.

A ``ConformanceCollector`` is fed pytest test reports (every phase: setup, call, teardown) and at
the end writes ``conformance.md`` and ``conformance.html`` into a directory: the SDK name and
version, then requirement by requirement (IDs and texts parsed from SPEC.md's table
``| ID | Level | Requirement | Test |``) PASS / FAIL / NOT APPLICABLE / NOT RUN, the tests
behind it, and for each failure its message, its saved history JSON and an HTML timeline of
that history (``harness/report/timeline.py``), rendered next to the JSON.

A requirement is
- FAIL when any of its tests failed (in any phase),
- PASS when none failed and at least one passed,
- NOT APPLICABLE when all its tests were skipped with a reason starting "NOT APPLICABLE",
- NOT RUN otherwise (no test ran, or all were skipped for other reasons).

Works under pytest-xdist: requirement IDs travel in ``report.user_properties`` as
``("requirement", ID)`` (``junit_properties(item)``, added to ``item.user_properties`` at
collection, which also puts them into ``--junitxml``), so the controller, which has reports but
no items, can build the matrix from ``pytest_runtest_logreport`` alone (``ReportPlugin``).
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

SPEC_PATH = Path(__file__).resolve().parents[2] / "conformance" / "SPEC.md"
NOT_APPLICABLE_PREFIX = "NOT APPLICABLE"

PASS, FAIL, NOT_APPLICABLE, NOT_RUN = "PASS", "FAIL", "NOT APPLICABLE", "NOT RUN"
# test outcomes
PASSED, FAILED, NA, SKIPPED = "passed", "failed", "not applicable", "skipped"


# -- SPEC.md ------------------------------------------------------------------------------------
@dataclass
class Requirement:
    id: str
    level: str = ""
    text: str = ""
    tests: str = ""  # the SPEC's "Test" column, as written


def parse_spec(path: Path = SPEC_PATH) -> list[Requirement]:
    """The rows of SPEC.md's requirements table (``| ID | Level | Requirement | Test |``), in order."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out: list[Requirement] = []
    in_table = False
    for line in lines:
        s = line.strip()
        if not s.startswith("|"):
            in_table = False
            continue
        cells = [c.strip() for c in s.strip("|").split("|")]
        if [c.lower() for c in cells[:2]] == ["id", "level"]:
            in_table = True
            continue
        if not in_table or all(set(c) <= set("-: ") for c in cells):
            continue
        if len(cells) < 4:
            continue
        rid, level, tests = cells[0], cells[1], cells[-1]
        text = " | ".join(cells[2:-1])
        if rid:
            out.append(Requirement(rid, level, text, tests))
    return out


# -- the collector -------------------------------------------------------------------------------
@dataclass
class TestResult:
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


def _props(report: Any) -> list[tuple[Any, Any]]:
    out = []
    for p in getattr(report, "user_properties", None) or []:
        try:
            k, v = p
        except (TypeError, ValueError):
            continue
        out.append((k, v))
    return out


def _skip_reason(report: Any) -> str:
    lr = getattr(report, "longrepr", None)
    if isinstance(lr, tuple) and len(lr) == 3:
        reason = str(lr[2])
    else:
        reason = str(getattr(report, "longreprtext", "") or lr or "")
    return reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason


def _failure_text(report: Any) -> tuple[str, str]:
    """(short message, longer details) of a failed report."""
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


def verdicts_from_text(text: str) -> list[Any]:
    """Verdict-like objects (check, ok, summary) parsed from ``Verdict.explain`` lines
    ``[PASS] check: summary`` / ``[FAIL] check: summary`` in a failure message."""
    out = []
    for m in re.finditer(r"\[(PASS|FAIL)\]\s+([^\n]*)", text):
        rest = m.group(2)
        check, summary = rest, ""
        start = 0
        while True:  # the first ": " outside parentheses ends the check's name
            i = rest.find(": ", start)
            if i < 0:
                break
            if rest.count("(", 0, i) == rest.count(")", 0, i):
                check, summary = rest[:i], rest[i + 2:]
                break
            start = i + 1
        out.append(SimpleNamespace(check=check.strip(), ok=m.group(1) == "PASS", summary=summary.strip(),
                                   evidence=[]))
    return out


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
        for k, v in _props(report):
            if k == "history" and v:
                r.history = str(v)
            elif k == "sdk" and v:
                r.sdk = str(v)
            elif k == "sdk_version" and v:
                r.sdk_version = str(v)
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
            if hasattr(report, "wasxfail"):
                r.outcome, r.message = SKIPPED, f"xfail: {report.wasxfail or reason}"
            else:
                r.outcome = NA if reason.strip().upper().startswith(NOT_APPLICABLE_PREFIX) else SKIPPED
                r.message = reason
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

    def matrix(self) -> list[RequirementRow]:
        spec = parse_spec(self.spec_path)
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
            row.status = requirement_status(outcome_for(t, row.requirement.id) for t in row.tests)
        return rows

    def untraced(self) -> list[TestResult]:
        """Tests that cite no requirement."""
        return [r for r in self._results.values() if not r.requirements]

    # -- writing ---------------------------------------------------------------------------
    def write(self, out_dir: Path, *, sdk: str | None = None, sdk_version: str | None = None,
              timelines: bool = True) -> tuple[Path, Path]:
        """Write ``conformance.md`` and ``conformance.html`` into ``out_dir``; returns both paths.

        With ``timelines``, each failed test's saved history gets an HTML timeline next to it."""
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
        rows = self.matrix()
        md = out_dir / "conformance.md"
        md.write_text(self._markdown(rows, out_dir, timeline_of), encoding="utf-8")
        page = out_dir / "conformance.html"
        page.write_text(self._html(rows, out_dir, timeline_of), encoding="utf-8")
        return md, page

    def _title(self) -> str:
        sdk, ver = self.sdk_under_test()
        return f"Connection-resiliency conformance: {sdk} {ver}"

    def _counts(self, rows: list[RequirementRow]) -> str:
        order = [PASS, FAIL, NOT_APPLICABLE, NOT_RUN]
        n = {s: sum(1 for r in rows if r.status == s) for s in order}
        return ", ".join(f"{n[s]} {s}" for s in order if n[s]) or "no requirements"

    def _markdown(self, rows: list[RequirementRow], out_dir: Path, timeline_of: dict[str, Path]) -> str:
        sdk, ver = self.sdk_under_test()
        lines = [f"# {self._title()}", "",
                 f"SDK under test: **{sdk} {ver}**. Requirements: {self._counts(rows)}. "
                 f"Tests: {_test_counts(self.results)}.", "",
                 "| Requirement | Level | Status | Tests |", "|---|---|---|---|"]
        for row in rows:
            rid = row.requirement.id + ("" if row.in_spec else " (not in SPEC.md)")
            tests = "<br>".join(f"`{t.nodeid}` {_outcome_label(t, row.requirement.id)}" for t in row.tests) or \
                (f"expected: {row.requirement.tests}" if row.requirement.tests else "none")
            lines.append(f"| {rid} | {row.requirement.level} | **{row.status}** | {_md_cell(tests)} |")
        failures = [t for t in self.results if t.outcome == FAILED]
        if failures:
            lines += ["", "## Failures", ""]
            for t in failures:
                lines.append(f"### `{t.nodeid}`")
                lines.append("")
                lines.append(f"Requirements: {', '.join(t.requirements) or 'none'}. Duration {t.duration:.2f}s.")
                links = []
                if t.history:
                    links.append(f"[history JSON]({_rel(t.history, out_dir)})")
                if t.nodeid in timeline_of:
                    links.append(f"[timeline]({_rel(timeline_of[t.nodeid], out_dir)})")
                if links:
                    lines.append(" · ".join(links))
                lines += ["", "```", t.details or t.message, "```", ""]
        untraced = self.untraced()
        if untraced:
            lines += ["", "## Tests citing no requirement", ""]
            lines += [f"- `{t.nodeid}`: {t.outcome}" for t in untraced]
        lines += ["", "## Requirements", ""]
        for row in rows:
            if row.requirement.text:
                lines.append(f"- **{row.requirement.id}** ({row.requirement.level}): {row.requirement.text}")
        return "\n".join(lines) + "\n"

    def _html(self, rows: list[RequirementRow], out_dir: Path, timeline_of: dict[str, Path]) -> str:
        e = html.escape
        sdk, ver = self.sdk_under_test()
        out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
               f"<title>{e(self._title())}</title>", f"<style>{_CSS}</style></head><body>",
               f"<h1>{e(self._title())}</h1>",
               f'<p class="sub">SDK under test: <b>{e(sdk)} {e(ver)}</b> · requirements: {e(self._counts(rows))}'
               f" · tests: {e(_test_counts(self.results))}</p>",
               "<table><thead><tr><th>Requirement</th><th>Level</th><th>Status</th><th>Tests</th></tr></thead>"
               "<tbody>"]
        for row in rows:
            req = row.requirement
            cls = _status_class(row.status)
            text = e(req.text) if req.text else ("<i>not in SPEC.md</i>" if not row.in_spec else "")
            tests = []
            for t in row.tests:
                links = ""
                if t.outcome == FAILED:
                    if t.history:
                        links += f' <a href="{e(_rel(t.history, out_dir))}">history</a>'
                    if t.nodeid in timeline_of:
                        links += f' <a href="{e(_rel(timeline_of[t.nodeid], out_dir))}">timeline</a>'
                    links += f' <a href="#{_anchor(t.nodeid)}">details</a>'
                own = outcome_for(t, req.id)
                msg = f'<div class="msg">{e(t.message)}</div>' if t.message and own != PASSED else ""
                tests.append(f'<div class="test"><span class="outcome {_outcome_class(own)}">'
                             f'{e(_outcome_label(t, req.id))}'
                             f"</span> <code>{e(t.nodeid)}</code>{links}{msg}</div>")
            if not tests:
                tests.append(f'<div class="none">no test ran{" (expected: " + e(req.tests) + ")" if req.tests else ""}'
                             "</div>")
            out.append(f'<tr><td><b>{e(req.id)}</b><div class="req">{text}</div></td><td>{e(req.level)}</td>'
                       f'<td class="status {cls}">{e(row.status)}</td><td>{"".join(tests)}</td></tr>')
        out.append("</tbody></table>")
        failures = [t for t in self.results if t.outcome == FAILED]
        if failures:
            out.append("<h2>Failures</h2>")
            for t in failures:
                links = []
                if t.history:
                    links.append(f'<a href="{e(_rel(t.history, out_dir))}">history JSON</a>')
                if t.nodeid in timeline_of:
                    links.append(f'<a href="{e(_rel(timeline_of[t.nodeid], out_dir))}">timeline</a>')
                out.append(f'<h3 id="{_anchor(t.nodeid)}"><code>{e(t.nodeid)}</code></h3>'
                           f'<p>Requirements: {e(", ".join(t.requirements) or "none")} · {t.duration:.2f}s'
                           f'{" · " + " · ".join(links) if links else ""}</p>'
                           f"<pre>{e(t.details or t.message)}</pre>")
        untraced = self.untraced()
        if untraced:
            out.append("<h2>Tests citing no requirement</h2><ul>")
            out += [f"<li><code>{e(t.nodeid)}</code>: {e(t.outcome)}</li>" for t in untraced]
            out.append("</ul>")
        out.append("</body></html>")
        return "\n".join(out)


def failed_requirements(r: TestResult) -> set[str] | None:
    """The requirements a failed test failed, from its tagged verdict lines (``requirement: ID``
    under a ``[FAIL]`` line); None when any failed verdict is untagged or none can be read, i.e.
    the failure counts against every requirement the test cites."""
    text = r.details or r.message or ""
    blocks = re.split(r"(?=\[(?:PASS|FAIL)\] )", text)
    failed: set[str] = set()
    seen_fail = False
    for b in blocks:
        if not b.startswith("[FAIL] "):
            continue
        seen_fail = True
        m = re.search(r"^\s+requirement: (\S+)", b, re.M)
        if m is None:
            return None
        failed.add(m.group(1))
    return failed if seen_fail else None


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


def _outcome_label(t: TestResult, requirement_id: str) -> str:
    o = outcome_for(t, requirement_id)
    return f"{o} (the test failed on another requirement)" if o != t.outcome else t.outcome


def _render_timeline_for(r: TestResult) -> Path | None:
    from harness.history import History
    from harness.report.timeline import render_timeline
    src = Path(r.history or "")
    try:
        h = History.load(src)
        return render_timeline(h, src.with_suffix(".html"), title=r.nodeid,
                               verdicts=verdicts_from_text(r.details or r.message) or None)
    except Exception:  # a report must not fail because one history is unreadable
        return None


def _test_counts(results: list[TestResult]) -> str:
    order = [PASSED, FAILED, NA, SKIPPED]
    n = {o: sum(1 for r in results if r.outcome == o) for o in order}
    return ", ".join(f"{n[o]} {o}" for o in order if n[o]) or "none ran"


def _rel(path: str | Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(Path(path).resolve(), Path(base).resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return Path(path).resolve().as_uri()


def _anchor(nodeid: str) -> str:
    return "t-" + re.sub(r"[^A-Za-z0-9_-]+", "-", nodeid).strip("-")


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _status_class(status: str) -> str:
    return {PASS: "pass", FAIL: "fail", NOT_APPLICABLE: "na", NOT_RUN: "notrun"}[status]


def _outcome_class(outcome: str) -> str:
    return {PASSED: "pass", FAILED: "fail", NA: "na", SKIPPED: "notrun"}.get(outcome, "notrun")


_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:20px;color:#222;max-width:1400px}
h1{font-size:20px;margin-bottom:4px} .sub{color:#555;margin-top:0}
table{border-collapse:collapse;width:100%;font-size:13px} th,td{border:1px solid #ddd;padding:6px 8px;
vertical-align:top;text-align:left} th{background:#f3f3f3}
td.status{font-weight:bold;white-space:nowrap;text-align:center}
.pass{background:#e3f4e4;color:#1b5e20} .fail{background:#fde2e1;color:#b71c1c}
.na{background:#ececec;color:#555} .notrun{background:#fff6dc;color:#7a5b00}
.req{color:#555;font-size:12px;margin-top:3px;max-width:520px}
.outcome{display:inline-block;padding:0 5px;border-radius:3px;font-size:11px;font-weight:bold}
.test{margin:2px 0} .msg{color:#666;font-size:12px;margin-left:8px;white-space:pre-wrap}
.none{color:#7a5b00;font-style:italic} code{font-size:12px}
pre{background:#fafafa;border:1px solid #eee;padding:8px;font-size:12px;white-space:pre-wrap}
"""


# -- pytest wiring -------------------------------------------------------------------------------
_default: ConformanceCollector | None = None


def collector() -> ConformanceCollector:
    """The process's collector used by ``on_report`` / ``on_finish``."""
    global _default
    if _default is None:
        _default = ConformanceCollector()
    return _default


def on_report(item: Any, report: Any) -> None:
    """Record one phase report. ``item`` may be None (xdist controller: IDs come from the
    report's ``("requirement", ID)`` user properties)."""
    collector().add(report, item)


def on_finish(session: Any, out_dir: Path | str, *, sdk: str | None = None,
              sdk_version: str | None = None) -> tuple[Path, Path] | None:
    """Write the matrix into ``out_dir`` (on the xdist controller or a plain run; a no-op on a
    worker) and forget the collected reports. SDK name/version: given, else the ones the tests'
    reports carry (``("sdk", ...)``, ``("sdk_version", ...)``), else the ``--sdk``/``--sdk-version``
    options."""
    global _default
    config = getattr(session, "config", None)
    if config is not None and hasattr(config, "workerinput"):
        return None
    c = collector()
    if config is not None:
        c.sdk = c.sdk or sdk or next((r.sdk for r in c.results if r.sdk), None) or _opt(config, "--sdk")
        c.sdk_version = (c.sdk_version or sdk_version or next((r.sdk_version for r in c.results if r.sdk_version),
                                                              None) or _opt(config, "--sdk-version"))
    paths = c.write(Path(out_dir), sdk=sdk, sdk_version=sdk_version)
    _default = None
    return paths


def _opt(config: Any, name: str) -> str | None:
    try:
        v = config.getoption(name)
    except (ValueError, AttributeError):
        return None
    return str(v) if v else None


class ReportPlugin:
    """A pytest plugin object: register it on the controller (not on xdist workers) with
    ``config.pluginmanager.register(ReportPlugin(out_dir), "conformance-report")``."""

    def __init__(self, out_dir: Path | str) -> None:
        self.out_dir = Path(out_dir)
        self.paths: tuple[Path, Path] | None = None

    def pytest_runtest_logreport(self, report: Any) -> None:
        on_report(None, report)

    def pytest_sessionfinish(self, session: Any) -> None:
        self.paths = on_finish(session, self.out_dir)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.paths:
            terminalreporter.write_line(f"conformance report: {self.paths[1]} ({self.paths[0].name})")
