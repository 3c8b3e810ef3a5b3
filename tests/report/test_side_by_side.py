"""harness/report/side_by_side.py and `python -m harness matrix`: several runs' results.json side by side.
The fixtures are hand-written results.json files (the schema of harness/report/results_file.py), so no
conformance run is needed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.__main__ import main
from harness.report.results_file import FORMAT, load_results
from harness.report.side_by_side import ABSENT_REASON, build_side_by_side, write_side_by_side
from harness.report.spec import Requirement

# SPEC order differs from the runs' order on purpose: the rows must follow SPEC.md.
SPEC = [Requirement("REQ-C", "SHOULD (N)", "C is optional."), Requirement("REQ-B", "MUST", "B reconnects."),
        Requirement("REQ-A", "MUST", "A streams.")]


def _req(rid: str, status: str, reason: str = "", tests: tuple[str, ...] = (), level: str = "MUST") -> dict[str, Any]:
    return {"id": rid, "level": level, "title": f"{rid} title", "in_spec": rid.startswith("REQ-") and rid != "REQ-Z",
            "status": status, "reason": reason, "tests": list(tests)}


def _test(nodeid: str, status: str, reqs: tuple[str, ...], reason: str = "", artefacts: bool = False) -> dict[str, Any]:
    stem = nodeid.rsplit("::", 1)[-1]
    return {"nodeid": nodeid, "status": status, "outcome": "passed" if status == "PASS" else "failed",
            "requirements": list(reqs), "duration": 1.5, "reason": reason, "message": reason, "at_defaults": "",
            "history": f"histories/{stem}.json" if artefacts else None,
            "timeline": f"histories/{stem}.html" if artefacts else None, "verdicts": []}


def write_run(folder: Path, version: str, requirements: list[dict[str, Any]], tests: list[dict[str, Any]],
              tolerance: float = 0.18, strict: bool = False, patches: tuple[str, ...] = ()) -> Path:
    """A run folder as a conformance run leaves it: results.json, and the histories it links."""
    folder.mkdir(parents=True)
    for t in tests:
        for key in ("history", "timeline"):
            if t[key]:
                (folder / t[key]).parent.mkdir(parents=True, exist_ok=True)
                (folder / t[key]).write_text("{}")
    verdict = "PASS" if all(r["status"] in ("PASS", "NOT APPLICABLE") for r in requirements) else "FAIL"
    data = {"format": FORMAT, "sdk": "python", "sdk_version": version,
            "build": f"durabletask {version} (PyPI; CPython 3.11)", "started": "2026-12-04T13:00:00Z",
            "wall_time_s": 191.2, "workers": 2,
            "gate": {"verdict": verdict, "tests": {}, "requirements": {}, "reasons": [],
                     "context": {"tolerance": tolerance, "patches": list(patches), "strict": strict,
                                 "skip_at_defaults": False}},
            "requirements": requirements, "tests": tests}
    (folder / "results.json").write_text(json.dumps(data))
    return folder


def base_run(folder: Path, **kw: Any) -> Path:
    """1.12.0: A passes, B fails (with a history and a timeline), C not applicable, Z outside SPEC."""
    return write_run(folder, "1.12.0", [
        _req("REQ-A", "PASS", tests=("t.py::test_a",)),
        _req("REQ-B", "FAIL", "test_b: [FAIL] next Hello within 0.450s", ("t.py::test_a", "t.py::test_b")),
        _req("REQ-C", "NOT APPLICABLE", "test_c: no asyncio client", ("t.py::test_c",), level="SHOULD (N)"),
        _req("REQ-Z", "NON-STRICT", "test_z: a SHOULD failed", ("t.py::test_z",), level="SHOULD")],
        [_test("t.py::test_a", "PASS", ("REQ-A", "REQ-B")),
         _test("t.py::test_b", "FAIL", ("REQ-B",), "[FAIL] next Hello within 0.450s", artefacts=True),
         _test("t.py::test_c", "NOT APPLICABLE", ("REQ-C",), "no asyncio client"),
         _test("t.py::test_z", "NON-STRICT", ("REQ-Z",), "a SHOULD failed", artefacts=True)], **kw)


def new_run(folder: Path, **kw: Any) -> Path:
    """1.13.0: A now fails (a regression), B passes, C unchanged, Z gone, Y new."""
    return write_run(folder, "1.13.0", [
        _req("REQ-A", "FAIL", "test_a: [FAIL] stream reopened after 3.1s", ("t.py::test_a",)),
        _req("REQ-B", "PASS", tests=("t.py::test_a", "t.py::test_b")),
        _req("REQ-C", "NOT APPLICABLE", "test_c: no asyncio client", ("t.py::test_c",), level="SHOULD (N)"),
        _req("REQ-Y", "INCONCLUSIVE", "test_y: control step failed", ("t.py::test_y",))],
        [_test("t.py::test_a", "FAIL", ("REQ-A", "REQ-B"), "[FAIL] stream reopened after 3.1s", artefacts=True),
         _test("t.py::test_b", "PASS", ("REQ-B",)),
         _test("t.py::test_c", "NOT APPLICABLE", ("REQ-C",), "no asyncio client"),
         _test("t.py::test_y", "INCONCLUSIVE", ("REQ-Y",), "control step failed")], **kw)


def _status_grid(m) -> dict[str, list[str]]:
    return {row.id: [c.status for c in row.cells] for row in m.rows}


def test_rows_follow_spec_then_unknown_ids_and_columns_follow_the_given_order(tmp_path: Path) -> None:
    runs = [load_results(base_run(tmp_path / "runs" / "a")), load_results(new_run(tmp_path / "runs" / "b"))]
    m = build_side_by_side(runs, tmp_path / "out", SPEC)
    assert [c.label for c in m.columns] == ["python 1.12.0", "python 1.13.0"]
    assert [r.id for r in m.rows] == ["REQ-C", "REQ-B", "REQ-A", "REQ-Z", "REQ-Y"]
    assert _status_grid(m) == {"REQ-C": ["NOT APPLICABLE", "NOT APPLICABLE"], "REQ-B": ["FAIL", "PASS"],
                               "REQ-A": ["PASS", "FAIL"], "REQ-Z": ["NON-STRICT", "NOT RUN"],
                               "REQ-Y": ["NOT RUN", "INCONCLUSIVE"]}
    z = m.rows[3]
    assert not z.in_spec and z.cells[1].reason == ABSENT_REASON and z.title == "REQ-Z title"
    assert m.rows[1].title == "B reconnects." and m.rows[1].cells[0].reason.startswith("test_b: [FAIL]")
    assert m.counts(0)["FAIL"] == 1 and m.counts(0)["NOT RUN"] == 1 and m.counts(1)["PASS"] == 1


def test_cells_link_only_non_pass_tests_relative_to_the_page(tmp_path: Path) -> None:
    runs = [load_results(base_run(tmp_path / "runs" / "a")), load_results(new_run(tmp_path / "runs" / "b"))]
    out = tmp_path / "reports" / "matrix"
    m = build_side_by_side(runs, out, SPEC)
    b_base = m.rows[1].cells[0]
    # test_a also cites REQ-B but passed: only the failing test is linked
    assert [(lnk.nodeid, lnk.status) for lnk in b_base.links] == [("t.py::test_b", "FAIL")]
    assert b_base.links[0].history == "../../runs/a/histories/test_b.json"
    assert b_base.links[0].timeline == "../../runs/a/histories/test_b.html"
    assert (out / b_base.links[0].history).resolve() == (tmp_path / "runs/a/histories/test_b.json").resolve()
    assert m.rows[1].cells[1].links == ()  # PASS in the new run: nothing to link
    y_new = m.rows[4].cells[1]  # INCONCLUSIVE without saved history: listed, no link
    assert [(lnk.nodeid, lnk.history, lnk.timeline) for lnk in y_new.links] == [("t.py::test_y", None, None)]


def test_pages_show_status_reason_links_and_the_conditions_of_each_column(tmp_path: Path) -> None:
    a = base_run(tmp_path / "runs" / "a")
    b = new_run(tmp_path / "runs" / "b", tolerance=0.25, strict=True, patches=("never_reconnect.py",))
    out = tmp_path / "out"
    html_path, md_path = write_side_by_side([load_results(a), load_results(b)], out, SPEC)
    page = html_path.read_text()
    assert 'title="test_b: [FAIL] next Hello within 0.450s"' in page
    assert 'href="../runs/a/histories/test_b.json"' in page and 'href="../runs/a/histories/test_b.html"' in page
    assert "position:sticky" in page and "<script" not in page
    assert "tolerance 0.18 s" in page and "tolerance 0.25 s" in page and "patches: never_reconnect.py" in page
    assert "strict: yes" in page and "workers: 2" in page and "wall time 191.2 s" in page
    assert "durabletask 1.13.0 (PyPI; CPython 3.11)" in page and "gate FAIL" in page
    md = md_path.read_text()
    row_b = next(line for line in md.splitlines() if line.startswith("| REQ-B "))
    assert row_b.count("|") == 5 and "**FAIL**<br>test_b: [FAIL] next Hello" in row_b and "**PASS**" in row_b
    assert "[history](../runs/a/histories/test_b.json)" in row_b
    summary = next(line for line in md.splitlines() if line.startswith("| **requirements per status**"))
    assert "1 PASS, 1 FAIL, 1 NON-STRICT, 1 NOT APPLICABLE, 1 NOT RUN" in summary


def test_two_runs_of_one_build_are_told_apart_by_their_folder(tmp_path: Path) -> None:
    runs = [load_results(base_run(tmp_path / "plain")), load_results(base_run(tmp_path / "patched"))]
    m = build_side_by_side(runs, tmp_path / "out", SPEC)
    assert [c.label for c in m.columns] == ["python 1.12.0 (plain)", "python 1.12.0 (patched)"]
    alike = [load_results(base_run(tmp_path / "ci1" / "report")), load_results(base_run(tmp_path / "ci2" / "report"))]
    labels = [c.label for c in build_side_by_side(alike, tmp_path / "out", SPEC).columns]
    assert labels == [f"python 1.12.0 ({(tmp_path / 'ci1' / 'report').as_posix()})",
                      f"python 1.12.0 ({(tmp_path / 'ci2' / 'report').as_posix()})"]


def test_cli_writes_both_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = base_run(tmp_path / "a"), new_run(tmp_path / "b")
    out = tmp_path / "out"
    assert main(["matrix", str(a), str(b), "--out", str(out)]) == 0
    assert (out / "matrix.html").is_file() and (out / "matrix.md").is_file()
    assert f"matrix: {out / 'matrix.html'}" in capsys.readouterr().out


def test_cli_names_a_missing_folder_or_file_and_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = base_run(tmp_path / "a")
    assert main(["matrix", str(a), str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"no folder {tmp_path / 'nowhere'}" in err and f"--conformance-report={tmp_path / 'nowhere'}" in err
    (tmp_path / "empty").mkdir()
    assert main(["matrix", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "empty/results.json: no such file" in err and f"--conformance-report={tmp_path / 'empty'}" in err
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "results.json").write_text(json.dumps({"format": "durabletask-conformance-results/0"}))
    assert main(["matrix", str(tmp_path / "old"), "--out", str(tmp_path / "out")]) == 2
    assert "format 'durabletask-conformance-results/0'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main(["matrix"]) == 2
    assert "give at least one RUN_DIR" in capsys.readouterr().err
