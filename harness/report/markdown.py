"""conformance.md: the requirement matrix as Markdown (a table, the failures with their links and
verdict text, tests citing no requirement, the requirements' texts)."""

from __future__ import annotations

from harness.report.results import MatrixReport, outcome_label


def render_markdown(m: MatrixReport) -> str:
    lines = [f"# {m.title}", "",
             f"SDK under test: **{m.sdk} {m.sdk_version}**. Requirements: {m.requirement_counts()}. "
             f"Tests: {m.test_counts()}.", "",
             "| Requirement | Level | Status | Tests |", "|---|---|---|---|"]
    for row in m.rows:
        rid = row.requirement.id + ("" if row.in_spec else " (not in SPEC.md)")
        tests = "<br>".join(f"`{t.nodeid}` {outcome_label(t, row.requirement.id)}" for t in row.tests) or \
            (f"expected: {row.requirement.tests}" if row.requirement.tests else "none")
        lines.append(f"| {rid} | {row.requirement.level} | **{row.status}** | {_md_cell(tests)} |")
    failures = m.failures
    if failures:
        lines += ["", "## Failures", ""]
        for t in failures:
            lines.append(f"### `{t.nodeid}`")
            lines.append("")
            lines.append(f"Requirements: {', '.join(t.requirements) or 'none'}. Duration {t.duration:.2f}s.")
            links = []
            if t.history:
                links.append(f"[history JSON]({m.link(t.history)})")
            if t.nodeid in m.timeline_of:
                links.append(f"[timeline]({m.link(m.timeline_of[t.nodeid])})")
            if links:
                lines.append(" · ".join(links))
            lines += ["", "```", t.details or t.message, "```", ""]
    untraced = m.untraced
    if untraced:
        lines += ["", "## Tests citing no requirement", ""]
        lines += [f"- `{t.nodeid}`: {t.outcome}" for t in untraced]
    lines += ["", "## Requirements", ""]
    for row in m.rows:
        if row.requirement.text:
            lines.append(f"- **{row.requirement.id}** ({row.requirement.level}): {row.requirement.text}")
    return "\n".join(lines) + "\n"


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")
