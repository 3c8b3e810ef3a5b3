"""The diff of two runs for the release gate: BASE (e.g. the previous release) against NEW (the release
candidate). Every requirement and test whose status changed is a regression or an improvement; one
whose status stayed but whose reason changed is listed apart; requirements and tests present in one
run only are listed too. A difference in the conditions the two runs were judged under (tolerance,
strict, patches, --skip-at-defaults) is warned about first: it can explain a change by itself.

Which change is a regression. The ordering is the worst-of order of harness/report/statuses.py
(``worst_of``), not a second one: NEW is a regression when it is worse in that order, or when BASE
passed and NEW does not (so PASS -> NOT APPLICABLE, a capability lost, is one although that order
ranks NOT APPLICABLE above PASS). Reaching PASS is never a regression (NOT APPLICABLE -> PASS: the
build gained the capability and it holds).

Exit code of the diff (``exit_code``): 0 no regression, 1 at least one; the CLI gives 2 for an
unreadable input.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from harness.report.html import status_class
from harness.report.results_file import RunResults
from harness.report.side_by_side import column_labels, relative_to_page
from harness.report.statuses import PASS, worst_of

REGRESSION, IMPROVEMENT, REASON_CHANGED = "regression", "improvement", "reason changed"
DIFF_HTML, DIFF_MD = "diff.html", "diff.md"


def classify(base: str, new: str) -> str | None:
    """REGRESSION, IMPROVEMENT, or None when the status did not change."""
    if base == new:
        return None
    if new == PASS:
        return IMPROVEMENT
    if base == PASS or worst_of((base, new)) == new:
        return REGRESSION
    return IMPROVEMENT


@dataclass(frozen=True)
class Change:
    kind: str  # REGRESSION, IMPROVEMENT or REASON_CHANGED
    what: str  # "requirement" or "test"
    id: str  # requirement ID or test node ID
    base_status: str
    new_status: str
    base_reason: str
    new_reason: str


@dataclass
class RunDiff:
    base: RunResults
    new: RunResults
    changes: list[Change] = field(default_factory=list)
    only_in_base: list[tuple[str, str, str]] = field(default_factory=list)  # (what, id, status)
    only_in_new: list[tuple[str, str, str]] = field(default_factory=list)
    condition_warnings: list[str] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    @property
    def regressions(self) -> list[Change]:
        return self.of_kind(REGRESSION)

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions else 0

    @property
    def labels(self) -> tuple[str, str]:
        """BASE's and NEW's labels; with their folder names when both are the same build."""
        base, new = column_labels([self.base, self.new])
        return base, new

    def summary(self) -> str:
        n = {k: len(self.of_kind(k)) for k in (REGRESSION, IMPROVEMENT, REASON_CHANGED)}
        return (f"{self.labels[0]} -> {self.labels[1]}: {n[REGRESSION]} regression(s), "
                f"{n[IMPROVEMENT]} improvement(s), {n[REASON_CHANGED]} reason change(s), "
                f"{len(self.only_in_base)} only in base, {len(self.only_in_new)} only in new"
                + ("; WARNING: judged under different conditions" if self.condition_warnings else ""))


_CONDITIONS = (("tolerance", "timing tolerance"), ("strict", "strict"), ("patches", "SDK patches"),
               ("skip_at_defaults", "--skip-at-defaults"))


def condition_warnings(base: RunResults, new: RunResults) -> list[str]:
    """One line per condition the two gates were judged under differently."""
    b, n = base.gate.get("context") or {}, new.gate.get("context") or {}
    out = []
    for key, name in _CONDITIONS:
        bv, nv = b.get(key), n.get(key)
        if key == "patches":
            bv, nv = sorted(bv or []), sorted(nv or [])
        if bv != nv:
            out.append(f"{name} differs: base {bv!r}, new {nv!r}; a status change may come from the conditions, "
                       "not the build. Re-run both under the same options for a release decision.")
    return out


def _compare(what: str, base: dict[str, tuple[str, str]], new: dict[str, tuple[str, str]], d: RunDiff) -> None:
    for key, (bs, br) in base.items():
        if key not in new:
            d.only_in_base.append((what, key, bs))
            continue
        ns, nr = new[key]
        kind = classify(bs, ns) or (REASON_CHANGED if br != nr else None)
        if kind:
            d.changes.append(Change(kind, what, key, bs, ns, br, nr))
    d.only_in_new += [(what, key, s) for key, (s, _) in new.items() if key not in base]


def diff_runs(base: RunResults, new: RunResults) -> RunDiff:
    d = RunDiff(base, new, condition_warnings=condition_warnings(base, new))
    _compare("requirement", {r.id: (r.status, r.reason) for r in base.requirements},
             {r.id: (r.status, r.reason) for r in new.requirements}, d)
    _compare("test", {t.nodeid: (t.status, t.reason) for t in base.tests},
             {t.nodeid: (t.status, t.reason) for t in new.tests}, d)
    return d


def test_links(d: RunDiff, c: Change, out_dir: Path) -> list[tuple[str, str]]:
    """(label, link relative to a page in ``out_dir``) of a changed test's saved history and timeline in
    NEW, then in BASE: what a release manager opens to see why it changed."""
    if c.what != "test":
        return []
    out = []
    for side, run in (("new", d.new), ("base", d.base)):
        t = run.test(c.id)
        for kind, path in (("history", t.history if t else None), ("timeline", t.timeline if t else None)):
            link = relative_to_page(run.path(path), out_dir)
            if link:
                out.append((f"{side} {kind}", link))
    return out


# -- Markdown ------------------------------------------------------------------------------------------
def _md(s: str) -> str:
    return " ".join(s.replace("|", "\\|").split())


_SECTIONS = ((REGRESSION, "Regressions"), (IMPROVEMENT, "Improvements"),
             (REASON_CHANGED, "Same status, reason changed"))


def render_diff_markdown(d: RunDiff, out_dir: Path) -> str:
    lines = [f"# Conformance diff: {d.labels[0]} (base) -> {d.labels[1]} (new)", "",
             f"**{'REGRESSION' if d.exit_code else 'NO REGRESSION'}**: {d.summary()}", "",
             f"- base: {d.base.build or d.base.label}; gate {d.base.gate.get('verdict', 'unknown')}; {d.base.folder}",
             f"- new: {d.new.build or d.new.label}; gate {d.new.gate.get('verdict', 'unknown')}; {d.new.folder}"]
    if d.condition_warnings:
        lines += ["", "## WARNING: the runs were judged under different conditions", ""]
        lines += [f"- {w}" for w in d.condition_warnings]
    for kind, title in _SECTIONS:
        changes = d.of_kind(kind)
        if not changes:
            continue
        lines += ["", f"## {title} ({len(changes)})", "", "| | ID | base | new | new reason (base reason) |",
                  "|---|---|---|---|---|"]
        lines += [f"| {c.what} | `{_md(c.id)}` | {c.base_status} | **{c.new_status}** | "
                  f"{_md(c.new_reason) or '-'} ({_md(c.base_reason) or '-'})"
                  + "".join(f"<br>[{label}]({link})" for label, link in test_links(d, c, out_dir)) + " |"
                  for c in changes]
    for title, only in (("Only in base", d.only_in_base), ("Only in new", d.only_in_new)):
        if only:
            lines += ["", f"## {title} ({len(only)})", ""]
            lines += [f"- {what} `{key}`: {status}" for what, key, status in only]
    return "\n".join(lines) + "\n"


# -- HTML ----------------------------------------------------------------------------------------------
_e = html.escape


def render_diff_html(d: RunDiff, out_dir: Path) -> str:
    title = f"Conformance diff: {d.labels[0]} (base) -> {d.labels[1]} (new)"
    verdict = "REGRESSION" if d.exit_code else "NO REGRESSION"
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{_e(title)}</title>",
           f"<style>{_CSS}</style></head><body>", f"<h1>{_e(title)}</h1>",
           f'<p class="verdict {"fail" if d.exit_code else "pass"}"><b>{verdict}</b>: {_e(d.summary())}</p>',
           "<ul>" + "".join(f"<li>{name}: {_e(r.build or r.label)}; gate {_e(str(r.gate.get('verdict', 'unknown')))};"
                            f" {_e(str(r.folder))}</li>" for name, r in (("base", d.base), ("new", d.new)))
           + "</ul>"]
    if d.condition_warnings:
        out.append('<div class="warn"><b>WARNING: the runs were judged under different conditions</b><ul>'
                   + "".join(f"<li>{_e(w)}</li>" for w in d.condition_warnings) + "</ul></div>")
    for kind, section in _SECTIONS:
        changes = d.of_kind(kind)
        if not changes:
            continue
        out.append(f"<h2>{_e(section)} ({len(changes)})</h2><table><thead><tr><th></th><th>ID</th><th>base</th>"
                   "<th>new</th><th>new reason</th><th>base reason</th></tr></thead><tbody>")
        out += [_html_change(d, c, out_dir) for c in changes]
        out.append("</tbody></table>")
    for section, only in (("Only in base", d.only_in_base), ("Only in new", d.only_in_new)):
        if only:
            out.append(f"<h2>{section} ({len(only)})</h2><ul>" + "".join(
                f'<li>{what} <code>{_e(key)}</code>: <span class="{status_class(s)}">{_e(s)}</span></li>'
                for what, key, s in only) + "</ul>")
    out.append("</body></html>")
    return "\n".join(out)


def _html_change(d: RunDiff, c: Change, out_dir: Path) -> str:
    links = "".join(f' <a href="{_e(link)}">{label}</a>' for label, link in test_links(d, c, out_dir))
    return (f"<tr><td>{c.what}</td><td><code>{_e(c.id)}</code>{links}</td>"
            f'<td class="{status_class(c.base_status)}">{_e(c.base_status)}</td>'
            f'<td class="{status_class(c.new_status)}"><b>{_e(c.new_status)}</b></td>'
            f"<td>{_e(c.new_reason)}</td><td>{_e(c.base_reason)}</td></tr>")


def write_diff(d: RunDiff, out_dir: Path) -> list[Path]:
    """Write diff.html and diff.md into ``out_dir`` (created); returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / DIFF_HTML, out_dir / DIFF_MD]
    paths[0].write_text(render_diff_html(d, out_dir), encoding="utf-8")
    paths[1].write_text(render_diff_markdown(d, out_dir), encoding="utf-8")
    return paths


_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:20px;color:#222;max-width:1400px}
h1{font-size:20px} h2{font-size:16px}
table{border-collapse:collapse;font-size:13px;width:100%} th,td{border:1px solid #ddd;padding:5px 7px;
vertical-align:top;text-align:left} th{background:#f3f3f3}
.verdict{font-size:15px;padding:6px 10px;border-radius:4px;display:inline-block}
.warn{background:#fff3cd;border:1px solid #e0c060;padding:6px 10px;font-size:13px}
.pass{background:#e3f4e4;color:#1b5e20} .fail{background:#fde2e1;color:#b71c1c}
.na{background:#ececec;color:#555} .notrun{background:#fff6dc;color:#7a5b00}
.notimpl{background:#f8d0e8;color:#880e4f} .nonstrict{background:#fff0e0;color:#a04a00}
.inconclusive{background:#e3e8fd;color:#1a237e}
"""
