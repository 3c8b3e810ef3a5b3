"""harness/report/diff.py and `python -m harness matrix --diff BASE NEW`: the release diff of two runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.__main__ import main
from harness.report.diff import IMPROVEMENT, REASON_CHANGED, REGRESSION, classify, diff_runs
from harness.report.results_file import load_results
from harness.report.statuses import (
    FAIL,
    INCONCLUSIVE,
    NON_STRICT,
    NOT_APPLICABLE,
    NOT_IMPLEMENTED,
    NOT_RUN,
    PASS,
)
from tests.report.test_side_by_side import _req, _test, base_run, new_run, write_run


@pytest.mark.parametrize("base, new, kind", [
    (PASS, FAIL, REGRESSION), (FAIL, PASS, IMPROVEMENT),
    (PASS, NOT_APPLICABLE, REGRESSION),  # a capability lost: was PASS, now not
    (NOT_APPLICABLE, PASS, IMPROVEMENT),  # reaching PASS is never a regression
    (NON_STRICT, FAIL, REGRESSION), (FAIL, NON_STRICT, IMPROVEMENT),
    (INCONCLUSIVE, NOT_IMPLEMENTED, REGRESSION), (NOT_IMPLEMENTED, INCONCLUSIVE, IMPROVEMENT),
    (NOT_APPLICABLE, INCONCLUSIVE, REGRESSION), (NOT_RUN, NON_STRICT, IMPROVEMENT),
    (FAIL, FAIL, None),
])
def test_classify_follows_the_worst_of_order(base: str, new: str, kind: str | None) -> None:
    assert classify(base, new) == kind


def test_a_regression_an_improvement_and_one_sided_requirements_are_found(tmp_path: Path) -> None:
    d = diff_runs(load_results(base_run(tmp_path / "a")), load_results(new_run(tmp_path / "b")))
    assert [(c.what, c.id, c.base_status, c.new_status) for c in d.regressions] == [
        ("requirement", "REQ-A", PASS, FAIL), ("test", "t.py::test_a", PASS, FAIL)]
    assert d.regressions[0].new_reason == "test_a: [FAIL] stream reopened after 3.1s"
    assert [(c.what, c.id) for c in d.of_kind(IMPROVEMENT)] == [("requirement", "REQ-B"), ("test", "t.py::test_b")]
    assert d.of_kind(REASON_CHANGED) == []
    assert d.only_in_base == [("requirement", "REQ-Z", NON_STRICT), ("test", "t.py::test_z", NON_STRICT)]
    assert d.only_in_new == [("requirement", "REQ-Y", INCONCLUSIVE), ("test", "t.py::test_y", INCONCLUSIVE)]
    assert d.condition_warnings == [] and d.exit_code == 1


def test_same_status_with_another_reason_is_listed_but_not_a_regression(tmp_path: Path) -> None:
    base = write_run(tmp_path / "a", "1.12.0", [_req("REQ-B", FAIL, "test_b: bound 0.450s, took 1.0s", ("t.py::b",))],
                     [_test("t.py::b", FAIL, ("REQ-B",), "bound 0.450s, took 1.0s")])
    new = write_run(tmp_path / "b", "1.13.0", [_req("REQ-B", FAIL, "test_b: never reconnected", ("t.py::b",))],
                    [_test("t.py::b", FAIL, ("REQ-B",), "never reconnected")])
    d = diff_runs(load_results(base), load_results(new))
    assert [(c.what, c.kind, c.base_reason, c.new_reason) for c in d.changes] == [
        ("requirement", REASON_CHANGED, "test_b: bound 0.450s, took 1.0s", "test_b: never reconnected"),
        ("test", REASON_CHANGED, "bound 0.450s, took 1.0s", "never reconnected")]
    assert d.exit_code == 0


def test_different_conditions_are_warned_about_in_both_pages(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    a = base_run(tmp_path / "a")
    b = new_run(tmp_path / "b", tolerance=0.3, strict=True, patches=("slow_ramp.py",))
    d = diff_runs(load_results(a), load_results(b))
    assert [w.split(" differs")[0] for w in d.condition_warnings] == ["timing tolerance", "strict", "SDK patches"]
    assert "base 0.18, new 0.3" in d.condition_warnings[0]
    out = tmp_path / "out"
    assert main(["matrix", "--diff", str(a), str(b), "--out", str(out)]) == 1
    md, page = (out / "diff.md").read_text(), (out / "diff.html").read_text()
    assert "WARNING: the runs were judged under different conditions" in md
    assert "WARNING: the runs were judged under different conditions" in page
    assert "SDK patches differs: base [], new ['slow_ramp.py']" in md
    assert "SDK patches differs: base [], new [&#x27;slow_ramp.py&#x27;]" in page  # escaped in HTML
    assert "warning: timing tolerance differs" in capsys.readouterr().out


def test_cli_diff_exits_1_on_a_regression_and_writes_both_pages(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    a, b = base_run(tmp_path / "a"), new_run(tmp_path / "b")
    out = tmp_path / "out"
    assert main(["matrix", str(a), str(b), "--out", str(out), "--diff", str(a), str(b)]) == 1
    printed = capsys.readouterr().out
    assert "REGRESSION requirement REQ-A: PASS -> FAIL (test_a: [FAIL] stream reopened after 3.1s)" in printed
    md = (out / "diff.md").read_text()
    assert "**REGRESSION**" in md and "## Regressions (2)" in md and "## Improvements (2)" in md
    assert "| requirement | `REQ-A` | PASS | **FAIL** |" in md and "## Only in new (2)" in md
    # the regressed test links its history and timeline in NEW (BASE saved none: it passed)
    row = next(line for line in md.splitlines() if line.startswith("| test | `t.py::test_a`"))
    assert row.endswith("<br>[new history](../b/histories/test_a.json)<br>[new timeline](../b/histories/test_a.html) |")
    assert (out / "../b/histories/test_a.json").resolve() == (b / "histories/test_a.json").resolve()
    page = (out / "diff.html").read_text()
    assert '<td class="fail"><b>FAIL</b></td>' in page and "REQ-Z" in page
    assert '<a href="../b/histories/test_a.html">new timeline</a>' in page
    assert (out / "matrix.html").is_file()  # the matrix of the RUN_DIRs is written too


def test_cli_diff_of_an_unchanged_pair_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, a2 = base_run(tmp_path / "a"), base_run(tmp_path / "a2")
    assert main(["matrix", "--diff", str(a), str(a2), "--out", str(tmp_path / "out")]) == 0
    assert "0 regression(s), 0 improvement(s), 0 reason change(s)" in capsys.readouterr().out
    md = (tmp_path / "out" / "diff.md").read_text()
    assert md.startswith("# Conformance diff: python 1.12.0 (a) (base) -> python 1.12.0 (a2) (new)\n")
    assert "**NO REGRESSION**" in md and "## Regressions" not in md
    # without RUN_DIRs the matrix shows the two diffed runs
    assert "python 1.12.0 (a2)" in (tmp_path / "out" / "matrix.md").read_text()


def test_cli_diff_with_a_missing_folder_exits_2_naming_it(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    a = base_run(tmp_path / "a")
    assert main(["matrix", str(a), "--diff", str(a), str(tmp_path / "rc1"), "--out", str(tmp_path / "out")]) == 2
    assert f"no folder {tmp_path / 'rc1'}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
