"""results.json: the run as data -- what it holds, that its links survive moving the folder, and that a
file the harness cannot read is refused with a message naming it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.report import results as cr
from harness.report.results_file import FORMAT, ResultsFileError, RunInfo, canonical_nodeid, load_results
from tests.report.test_matrix import _collector


def _write(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    _collector(tmp_path).write(out, sdk="python", sdk_version="1.12.0",
                               info=RunInfo(build="python 1.12.0 (PyPI)", started="2026-12-04T00:00:00Z",
                                            wall_time_s=12.34, workers=4))
    return out


def test_results_hold_the_build_the_gate_and_each_status_with_its_reason(tmp_path: Path) -> None:
    run = load_results(_write(tmp_path))
    assert (run.sdk, run.sdk_version, run.build, run.workers, run.wall_time_s) == \
        ("python", "1.12.0", "python 1.12.0 (PyPI)", 4, 12.3)
    assert run.gate["verdict"] == "FAIL" and run.gate["tests"][cr.FAIL] == 1
    assert run.gate["context"]["tolerance"] is None and run.gate["context"]["patches"] == []
    statuses = {r.id: r.status for r in run.requirements}
    assert statuses == {"REQ-A": cr.PASS, "REQ-B": cr.FAIL, "REQ-C": cr.NOT_APPLICABLE, "REQ-D": cr.NOT_RUN,
                        "REQ-E": cr.NOT_RUN, "REQ-X": cr.PASS}
    b = run.requirement("REQ-B")
    assert b is not None and b.reason.startswith("test_b2: [FAIL] next Hello within 0.450s")
    assert b.tests == ["t.py::test_b1", "t.py::test_b2"]
    assert run.requirement("REQ-D").reason == "no test of this run cites it"
    assert run.requirement("REQ-X").in_spec is False
    t = run.test("t.py::test_b2")
    assert t is not None and t.status == cr.FAIL and t.verdicts[1]["ok"] is False
    assert run.test("t.py::test_a").reason == ""


def test_history_and_timeline_links_are_relative_to_the_folder_and_survive_a_move(tmp_path: Path) -> None:
    out = _write(tmp_path)
    t = load_results(out).test("t.py::test_b2")
    assert t.history == "../histories/t_b2.json" and t.timeline == "../histories/t_b2.html"
    moved = tmp_path / "elsewhere" / "artifacts"
    moved.mkdir(parents=True)
    shutil.copytree(out, moved / "run")
    shutil.copytree(tmp_path / "histories", moved / "histories")
    run = load_results(moved / "run" / "results.json")
    assert run.path(run.test("t.py::test_b2").history).is_file()


def test_a_missing_or_foreign_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ResultsFileError, match="--conformance-report"):
        load_results(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps({"format": "something-else/9"}))
    with pytest.raises(ResultsFileError, match="something-else/9"):
        load_results(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps({"format": FORMAT, "sdk": "python"}))
    with pytest.raises(ResultsFileError, match="missing or unexpected field"):
        load_results(tmp_path)
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(ResultsFileError, match="not readable as JSON"):
        load_results(tmp_path)


@pytest.mark.parametrize("nodeid", [
    "conformance/test_x.py::test_y[p]",
    "test_x.py::test_y[p]",  # pytest run from inside conformance/
    "/home/runner/venv/lib/python3.11/site-packages/conformance/test_x.py::test_y[p]",  # --pyargs
])
def test_test_ids_do_not_depend_on_where_pytest_ran(nodeid: str) -> None:
    assert canonical_nodeid(nodeid) == "conformance/test_x.py::test_y[p]"
    assert canonical_nodeid("t.py::test_a") == "t.py::test_a"  # not a conformance test: as it is
