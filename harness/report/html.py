"""conformance.html: the requirement matrix as one self-contained HTML page (a table with each
test's outcome and links to its history, timeline and details, then the failures in full)."""

from __future__ import annotations

import html
import re

from harness.report.results import (
    FAIL,
    INCONCLUSIVE,
    NON_STRICT,
    NOT_APPLICABLE,
    NOT_IMPLEMENTED,
    NOT_RUN,
    PASS,
    MatrixReport,
    RequirementRow,
    TestResult,
    outcome_for,
    outcome_label,
)

_e = html.escape


def render_html(m: MatrixReport) -> str:
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{_e(m.title)}</title>", f"<style>{_CSS}</style></head><body>",
           f"<h1>{_e(m.title)}</h1>", *_gate(m),
           f'<p class="sub">SDK under test: <b>{_e(m.sdk)} {_e(m.sdk_version)}</b> · requirements: '
           f"{_e(m.requirement_counts())} · tests: {_e(m.test_counts())}</p>",
           "<table><thead><tr><th>Requirement</th><th>Level</th><th>Status</th><th>Tests</th></tr></thead>"
           "<tbody>"]
    out += [_row(m, row) for row in m.rows]
    out.append("</tbody></table>")
    for title, tests in (("Failures", m.failures),
                         ("INCONCLUSIVE: the harness could not observe (not charged to the requirement)",
                          m.inconclusive)):
        if tests:
            out.append(f"<h2>{_e(title)}</h2>")
            out += [_failure(m, t) for t in tests]
    untraced = m.untraced
    if untraced:
        out.append("<h2>Tests citing no requirement</h2><ul>")
        out += [f"<li><code>{_e(t.nodeid)}</code>: {_e(t.status)}</li>" for t in untraced]
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out)


def _gate(m: MatrixReport) -> list[str]:
    """The gate verdict, its reasons and the conditions of the run, above everything else."""
    lines = m.gate_lines()
    if not lines:
        return []
    cls = "pass" if m.gate is not None and m.gate.passed else "fail"
    rest = "".join(f"<li>{_e(g.strip())}</li>" for g in lines[1:])
    return [f'<p class="gate {cls}"><b>{_e(lines[0])}</b></p><ul class="gate-why">{rest}</ul>']


def _row(m: MatrixReport, row: RequirementRow) -> str:
    """One requirement: its ID and text, level, status, and each of its tests."""
    req = row.requirement
    text = _e(req.text) if req.text else ("<i>not in SPEC.md</i>" if not row.in_spec else "")
    tests = [_test(m, t, req.id) for t in row.tests]
    if not tests:
        tests.append(f'<div class="none">no test ran{" (expected: " + _e(req.tests) + ")" if req.tests else ""}'
                     "</div>")
    return (f'<tr><td><b>{_e(req.id)}</b><div class="req">{text}</div></td><td>{_e(req.level)}</td>'
            f'<td class="status {status_class(row.status)}">{_e(row.status)}</td><td>{"".join(tests)}</td></tr>')


def _test(m: MatrixReport, t: TestResult, requirement_id: str) -> str:
    """A test in a requirement's row: its outcome on that requirement, links, its message."""
    links = ""
    if t.status in (FAIL, NOT_IMPLEMENTED, NON_STRICT, INCONCLUSIVE):
        if t.history:
            links += f' <a href="{_e(m.link(t.history))}">history</a>'
        if t.nodeid in m.timeline_of:
            links += f' <a href="{_e(m.link(m.timeline_of[t.nodeid]))}">timeline</a>'
        links += f' <a href="#{_anchor(t.nodeid)}">details</a>'
    own = outcome_for(t, requirement_id, m.levels)
    msg = f'<div class="msg">{_e(t.message)}</div>' if t.message and own != PASS else ""
    return (f'<div class="test"><span class="outcome {status_class(own)}">'
            f'{_e(outcome_label(t, requirement_id, m.levels))}'
            f"</span> <code>{_e(t.nodeid)}</code>{links}{msg}</div>")


def _failure(m: MatrixReport, t: TestResult) -> str:
    links = []
    if t.history:
        links.append(f'<a href="{_e(m.link(t.history))}">history JSON</a>')
    if t.nodeid in m.timeline_of:
        links.append(f'<a href="{_e(m.link(m.timeline_of[t.nodeid]))}">timeline</a>')
    return (f'<h3 id="{_anchor(t.nodeid)}"><code>{_e(t.nodeid)}</code></h3>'
            f'<p><b>{_e(t.status)}</b> · requirements: {_e(", ".join(t.requirements) or "none")} · {t.duration:.2f}s'
            f'{" · " + " · ".join(links) if links else ""}</p>'
            + "".join(f"<p>{_e(why)}</p>" for why in (t.not_implemented, t.at_defaults, t.inconclusive) if why)
            + f"<pre>{_e(t.details or t.message)}</pre>")


def _anchor(nodeid: str) -> str:
    return "t-" + re.sub(r"[^A-Za-z0-9_-]+", "-", nodeid).strip("-")


def status_class(status: str) -> str:
    """The CSS class of a status (its colour on every page: the matrix, side by side, the diff)."""
    return {PASS: "pass", FAIL: "fail", NOT_IMPLEMENTED: "notimpl", NON_STRICT: "nonstrict",
            INCONCLUSIVE: "inconclusive", NOT_APPLICABLE: "na", NOT_RUN: "notrun"}.get(status, "notrun")


_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:20px;color:#222;max-width:1400px}
h1{font-size:20px;margin-bottom:4px} .sub{color:#555;margin-top:0}
table{border-collapse:collapse;width:100%;font-size:13px} th,td{border:1px solid #ddd;padding:6px 8px;
vertical-align:top;text-align:left} th{background:#f3f3f3}
td.status{font-weight:bold;white-space:nowrap;text-align:center}
.pass{background:#e3f4e4;color:#1b5e20} .fail{background:#fde2e1;color:#b71c1c}
.na{background:#ececec;color:#555} .notrun{background:#fff6dc;color:#7a5b00}
.notimpl{background:#f8d0e8;color:#880e4f} .nonstrict{background:#fff0e0;color:#a04a00}
.inconclusive{background:#e3e8fd;color:#1a237e}
.gate{font-size:16px;padding:6px 10px;border-radius:4px;display:inline-block;margin:4px 0}
.gate-why{color:#444;font-size:13px;margin-top:2px}
.req{color:#555;font-size:12px;margin-top:3px;max-width:520px}
.outcome{display:inline-block;padding:0 5px;border-radius:3px;font-size:11px;font-weight:bold}
.test{margin:2px 0} .msg{color:#666;font-size:12px;margin-left:8px;white-space:pre-wrap}
.none{color:#7a5b00;font-style:italic} code{font-size:12px}
pre{background:#fafafa;border:1px solid #eee;padding:8px;font-size:12px;white-space:pre-wrap}
"""
