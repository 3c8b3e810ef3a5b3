"""The side-by-side matrix of several SDK builds: requirements as rows, one column per run (its
``results.json``), each cell the requirement's status in that run with its reason and links to the
history and timeline of every test that did not pass. Autobahn's multi-implementation report is the
model: one page a maintainer or release manager reads across builds.

Written as ``matrix.html`` (self-contained, no script) and ``matrix.md`` (the same table, for a PR
comment). Links are relative to the page's folder, so the output folder and the run folders can be
moved together (a CI artifact).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.report.html import status_class
from harness.report.results import relative_link
from harness.report.results_file import RunResults
from harness.report.spec import Requirement, parse_spec
from harness.report.statuses import (
    NOT_RUN,
    PASS,
    STATUSES,
)

MATRIX_HTML, MATRIX_MD = "matrix.html", "matrix.md"
# A run whose results.json lacks a requirement another run has (it was judged against an older SPEC.md):
# the cell must say so rather than look like a skip of that run.
ABSENT_REASON = "not in this run's results.json (judged against a SPEC.md without this requirement)"


@dataclass(frozen=True)
class Link:
    """A non-PASS test behind a cell, with its saved history and timeline relative to the page."""

    nodeid: str
    status: str
    reason: str
    history: str | None
    timeline: str | None


@dataclass(frozen=True)
class Cell:
    status: str
    reason: str
    links: tuple[Link, ...] = ()


@dataclass
class Column:
    label: str  # "sdk sdk_version", made unique with the folder name when two runs share it
    run: RunResults

    @property
    def gate_verdict(self) -> str:
        return str(self.run.gate.get("verdict") or "unknown")

    def conditions(self) -> list[str]:
        """Under which conditions this column was judged, one short item each."""
        ctx = self.run.gate.get("context") or {}
        tol = ctx.get("tolerance")
        wall = self.run.wall_time_s
        return [f"gate {self.gate_verdict}",
                f"build: {self.run.build or 'unknown'}",
                f"tolerance {'unknown' if tol is None else f'{tol:g} s'}",
                f"patches: {', '.join(ctx.get('patches') or []) or 'none'}",
                f"strict: {'yes' if ctx.get('strict') else 'no'}",
                *(["--skip-at-defaults"] if ctx.get("skip_at_defaults") else []),
                f"workers: {self.run.workers or 'no xdist'}",
                f"wall time {'unknown' if wall is None else f'{wall:g} s'}",
                f"started {self.run.started or 'unknown'}"]


@dataclass
class Row:
    id: str
    level: str
    title: str
    in_spec: bool
    cells: list[Cell] = field(default_factory=list)


@dataclass
class SideBySide:
    columns: list[Column]
    rows: list[Row]

    def counts(self, column: int) -> dict[str, int]:
        """Requirements per status in one column, every status present (zeros included)."""
        out = {s: 0 for s in STATUSES}
        for row in self.rows:
            out[row.cells[column].status] = out.get(row.cells[column].status, 0) + 1
        return out


def relative_to_page(path: Path | None, out_dir: Path) -> str | None:
    """``path`` as a link from a page in ``out_dir``."""
    return None if path is None else relative_link(path, out_dir)


def _cell(run: RunResults, rid: str, out_dir: Path) -> Cell:
    req = run.requirement(rid)
    if req is None:
        return Cell(NOT_RUN, ABSENT_REASON)
    links: list[Link] = []
    if req.status != PASS:
        for nodeid in req.tests:
            t = run.test(nodeid)
            if t is None or t.status == PASS:
                continue
            links.append(Link(nodeid, t.status, t.reason, relative_to_page(run.path(t.history), out_dir),
                              relative_to_page(run.path(t.timeline), out_dir)))
    return Cell(req.status, req.reason, tuple(links))


def column_labels(runs: Sequence[RunResults]) -> list[str]:
    """``sdk sdk_version`` per run; two runs of one build (e.g. patched and not) also get their folder's
    name, or its whole path when the names are alike too (two CI artifacts both called ``report``)."""
    plain = [r.label for r in runs]
    names = [r.folder.name for r in runs]
    return [label if plain.count(label) == 1 else
            f"{label} ({r.folder.name if names.count(r.folder.name) == 1 else r.folder.as_posix()})"
            for label, r in zip(plain, runs, strict=True)]


def _row_order(runs: Sequence[RunResults], spec: Sequence[Requirement]) -> list[str]:
    """The union of the runs' requirement IDs: SPEC.md's order first, then the others as first met."""
    seen: list[str] = []
    for run in runs:
        seen += [r.id for r in run.requirements if r.id not in seen]
    in_spec = [r.id for r in spec if r.id in seen]
    return in_spec + [rid for rid in seen if rid not in in_spec]


def build_side_by_side(runs: Sequence[RunResults], out_dir: Path,
                       spec: Sequence[Requirement] | None = None) -> SideBySide:
    """The model of the page written into ``out_dir``: columns in the order of ``runs``."""
    spec = parse_spec() if spec is None else spec
    by_id = {r.id: r for r in spec}
    columns = [Column(label, run) for label, run in zip(column_labels(runs), runs, strict=True)]
    rows = []
    for rid in _row_order(runs, spec):
        known = next((run.requirement(rid) for run in runs if run.requirement(rid) is not None), None)
        level = by_id[rid].level if rid in by_id else (known.level if known else "")
        title = " ".join(by_id[rid].text.split()) if rid in by_id else (known.title if known else "")
        rows.append(Row(rid, level, title, rid in by_id,
                        [_cell(run, rid, out_dir) for run in runs]))
    return SideBySide(columns, rows)


# -- Markdown ------------------------------------------------------------------------------------------
def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _short(s: str, limit: int = 140) -> str:
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def render_side_by_side_markdown(m: SideBySide) -> str:
    lines = ["# Conformance of several SDK builds, side by side", "",
             "## Columns: the conditions each was judged under", ""]
    lines += [f"- **{_md(c.label)}**: " + "; ".join(_md(x) for x in c.conditions()) for c in m.columns]
    lines += ["", "| Requirement | Level | " + " | ".join(_md(c.label) for c in m.columns) + " |",
              "|---|---|" + "---|" * len(m.columns)]
    for row in m.rows:
        rid = row.id + ("" if row.in_spec else " (not in SPEC.md)")
        cells = []
        for cell in row.cells:
            text = f"**{cell.status}**"
            if cell.reason:
                text += f"<br>{_short(cell.reason)}"
            for link in cell.links:
                refs = [f"[{kind}]({path})" for kind, path in (("history", link.history),
                                                               ("timeline", link.timeline)) if path]
                if refs:
                    text += f"<br>`{link.nodeid.rsplit('::', 1)[-1]}` {' '.join(refs)}"
            cells.append(_md(text))
        lines.append(f"| {_md(rid)} | {_md(row.level)} | " + " | ".join(cells) + " |")
    lines.append("| **gate** | | " + " | ".join(f"**{c.gate_verdict}**" for c in m.columns) + " |")
    lines.append("| **requirements per status** | | "
                 + " | ".join(_md(_counts_text(m.counts(i))) for i in range(len(m.columns))) + " |")
    return "\n".join(lines) + "\n"


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"


# -- HTML ----------------------------------------------------------------------------------------------
_e = html.escape
def _html_cell(cell: Cell) -> str:
    links = "".join(
        f'<div class="link"><code>{_e(link.nodeid.rsplit("::", 1)[-1])}</code> {_e(link.status)}'
        + "".join(f' <a href="{_e(path)}" title="{_e(link.reason)}">{kind}</a>'
                  for kind, path in (("history", link.history), ("timeline", link.timeline)) if path)
        + "</div>" for link in cell.links)
    reason = f'<div class="why">{_e(_short(cell.reason))}</div>' if cell.reason else ""
    return (f'<td class="cell {status_class(cell.status)}" title="{_e(cell.reason)}">'
            f'<b>{_e(cell.status)}</b>{reason}{links}</td>')


def render_side_by_side_html(m: SideBySide) -> str:
    title = "Conformance of several SDK builds, side by side"
    head = "".join(f'<th class="col"><div>{_e(c.label)}</div><div class="gate {status_class(c.gate_verdict)}">'
                   f'gate {_e(c.gate_verdict)}</div></th>' for c in m.columns)
    conditions = "".join(f"<li><b>{_e(c.label)}</b>: {_e('; '.join(c.conditions()))}</li>" for c in m.columns)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{_e(title)}</title>",
           f"<style>{_CSS}</style></head><body>", f"<h1>{_e(title)}</h1>",
           f'<ul class="conditions">{conditions}</ul>',
           f"<table><thead><tr><th>Requirement</th><th>Level</th>{head}</tr></thead><tbody>"]
    for row in m.rows:
        text = _e(row.title) if row.title else ""
        if not row.in_spec:
            text += " <i>not in SPEC.md</i>"
        out.append(f'<tr><td class="req"><b>{_e(row.id)}</b><div class="title">{text}</div></td>'
                   f"<td>{_e(row.level)}</td>{''.join(_html_cell(c) for c in row.cells)}</tr>")
    out.append("</tbody><tfoot><tr><th>requirements per status</th><th></th>"
               + "".join(f"<td>{_counts_html(m.counts(i))}</td>" for i in range(len(m.columns)))
               + "</tr></tfoot></table></body></html>")
    return "\n".join(out)


def _counts_html(counts: dict[str, int]) -> str:
    return "".join(f'<div class="{status_class(s)}">{n} {_e(s)}</div>' for s, n in counts.items() if n)


def write_side_by_side(runs: Sequence[RunResults], out_dir: Path,
                       spec: Sequence[Requirement] | None = None) -> list[Path]:
    """Write matrix.html and matrix.md into ``out_dir`` (created); returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model = build_side_by_side(runs, out_dir, spec)
    paths = [out_dir / MATRIX_HTML, out_dir / MATRIX_MD]
    paths[0].write_text(render_side_by_side_html(model), encoding="utf-8")
    paths[1].write_text(render_side_by_side_markdown(model), encoding="utf-8")
    return paths


_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:20px;color:#222}
h1{font-size:20px} .conditions{font-size:13px;color:#444}
table{border-collapse:collapse;font-size:13px} th,td{border:1px solid #ddd;padding:5px 7px;vertical-align:top;
text-align:left} thead th{position:sticky;top:0;background:#f3f3f3;z-index:1} tfoot th,tfoot td{background:#fafafa}
td.req{max-width:420px} .title{color:#555;font-size:12px;margin-top:2px}
td.cell{min-width:150px;max-width:280px} .why{font-size:11px;margin-top:2px}
.link{font-size:11px;margin-top:2px} code{font-size:11px}
.gate{font-size:11px;padding:1px 4px;border-radius:3px;margin-top:3px;display:inline-block}
.pass{background:#e3f4e4;color:#1b5e20} .fail{background:#fde2e1;color:#b71c1c}
.na{background:#ececec;color:#555} .notrun{background:#fff6dc;color:#7a5b00}
.notimpl{background:#f8d0e8;color:#880e4f} .nonstrict{background:#fff0e0;color:#a04a00}
.inconclusive{background:#e3e8fd;color:#1a237e}
"""
