"""conformance.md: the requirement matrix as Markdown (the gate verdict and what it was reached under,
a table, the failures with their links and verdict text, the INCONCLUSIVE tests apart, tests citing
no requirement, the requirements' texts)."""

from __future__ import annotations

from harness.report.results import MatrixReport, TestResult, outcome_label


def render_markdown(m: MatrixReport) -> str:
    lines = [f"# {m.title}", ""]
    gate = m.gate_lines()
    if gate:
        lines += [f"**{gate[0]}**", ""] + [f"- {g.strip()}" for g in gate[1:]] + [""]
    lines += [f"SDK under test: **{m.sdk} {m.sdk_version}**. Requirements: {m.requirement_counts()}. "
              f"Tests: {m.test_counts()}.", "",
              "| Requirement | Level | Status | Tests |", "|---|---|---|---|"]
    for row in m.rows:
        rid = row.requirement.id + ("" if row.in_spec else " (not in SPEC.md)")
        tests = "<br>".join(f"`{t.nodeid}` {outcome_label(t, row.requirement.id, m.levels)}"
                            for t in row.tests) or \
            (f"expected: {row.requirement.tests}" if row.requirement.tests else "none")
        lines.append(f"| {rid} | {row.requirement.level} | **{row.status}** | {_md_cell(tests)} |")
    for title, tests in (("Failures", m.failures),
                         ("INCONCLUSIVE: the harness could not observe (not charged to the requirement)",
                          m.inconclusive)):
        if tests:
            lines += ["", f"## {title}", ""]
            for t in tests:
                lines += _failure(m, t)
    untraced = m.untraced
    if untraced:
        lines += ["", "## Tests citing no requirement", ""]
        lines += [f"- `{t.nodeid}`: {t.status}" for t in untraced]
    lines += ["", "## Requirements", ""]
    for row in m.rows:
        if row.requirement.text:
            lines.append(f"- **{row.requirement.id}** ({row.requirement.level}): {row.requirement.text}")
    return "\n".join(lines) + "\n"


def _failure(m: MatrixReport, t: TestResult) -> list[str]:
    lines = [f"### `{t.nodeid}` {t.status}", "",
             f"Requirements: {', '.join(t.requirements) or 'none'}. Duration {t.duration:.2f}s."]
    for why in (t.not_implemented, t.at_defaults, t.inconclusive):
        if why:
            lines.append(f"{why.splitlines()[0]}")
    links = []
    if t.history:
        links.append(f"[history JSON]({m.link(t.history)})")
    if t.nodeid in m.timeline_of:
        links.append(f"[timeline]({m.link(m.timeline_of[t.nodeid])})")
    if links:
        lines.append(" · ".join(links))
    return lines + ["", "```", t.details or t.message, "```", ""]


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")
