"""harness/report/ (spec, results, collector, markdown, html, plugin, attach): the requirement matrix
built from test reports, with verdicts travelling as data."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.checks.verdict import Verdict, for_requirement
from harness.history import FAKE, History
from harness.report import attach
from harness.report import results as cr
from harness.report.collector import ConformanceCollector
from harness.report.spec import parse_spec

SPEC = """\
# spec

| ID | Level | Requirement | Test |
|---|---|---|---|
| REQ-A | MUST | A passes. | `test_a.py` |
| REQ-B | MUST | B has a failing test. | `test_b.py` |
| REQ-C | SHOULD | C is not applicable. | `test_c.py` |
| REQ-D | MUST | D has no test. | `test_d.py` |
| REQ-E | MUST | E was only skipped. | `test_e.py` |

Some text | with a pipe.
"""


def _spec(tmp_path: Path) -> Path:
    p = tmp_path / "SPEC.md"
    p.write_text(SPEC)
    return p


def _report(nodeid: str, when: str, outcome: str, reqs=(), props=(), longrepr=None, duration=0.1):
    return SimpleNamespace(nodeid=nodeid, when=when, outcome=outcome, passed=outcome == "passed",
                           failed=outcome == "failed", skipped=outcome == "skipped", duration=duration,
                           user_properties=[("requirement", r) for r in reqs] + list(props),
                           longrepr=longrepr, longreprtext=str(longrepr or ""))


def _run(c: ConformanceCollector, nodeid: str, reqs, outcome: str, **kw) -> None:
    """A test's three phase reports."""
    if outcome == "setup-skip":
        c.add(_report(nodeid, "setup", "skipped", reqs, longrepr=("f.py", 1, kw["reason"])))
        c.add(_report(nodeid, "teardown", "passed", reqs))
        return
    c.add(_report(nodeid, "setup", "passed", reqs))
    c.add(_report(nodeid, "call", outcome, reqs, props=kw.get("props", ()), longrepr=kw.get("longrepr")))
    c.add(_report(nodeid, "teardown", "passed", reqs))


def test_parse_spec_reads_the_table(tmp_path: Path) -> None:
    reqs = parse_spec(_spec(tmp_path))
    assert [r.id for r in reqs] == ["REQ-A", "REQ-B", "REQ-C", "REQ-D", "REQ-E"]
    assert reqs[2].level == "SHOULD" and reqs[2].text == "C is not applicable." and reqs[2].tests == "`test_c.py`"


def test_parse_the_real_spec() -> None:
    ids = [r.id for r in parse_spec()]
    assert "WRK-STREAM-001" in ids and "NET-RST-001" in ids
    assert all(i and i != "ID" and not set(i) <= set("-") for i in ids)


def test_requirement_status_rules() -> None:
    """A requirement is the worst of its tests' outcomes on it (tests/report/test_gate.py has the rest)."""
    assert cr.requirement_status([]) == cr.NOT_RUN
    assert cr.requirement_status([cr.PASS, cr.FAIL]) == cr.FAIL
    assert cr.requirement_status([cr.PASS, cr.NOT_APPLICABLE]) == cr.PASS
    assert cr.requirement_status([cr.NOT_APPLICABLE, cr.NOT_APPLICABLE]) == cr.NOT_APPLICABLE
    assert cr.requirement_status([cr.NOT_APPLICABLE, cr.NOT_RUN]) == cr.NOT_RUN
    assert cr.requirement_status([cr.NOT_RUN]) == cr.NOT_RUN


def _collector(tmp_path: Path) -> ConformanceCollector:
    c = ConformanceCollector(_spec(tmp_path))
    h = History("t::b2")
    h.record(FAKE, "rpc_start", t=h.t0 + 0.1, call_id=1, method="GetWorkItems", peer="ipv4:127.0.0.1:5000",
             server_gen=1)
    hist = h.save(tmp_path / "histories" / "t_b2.json")
    _run(c, "t.py::test_a", ["REQ-A"], "passed", props=[("sdk", "python"), ("sdk_version", "9.9.9")])
    _run(c, "t.py::test_b1", ["REQ-B", "REQ-A"], "passed")
    verdicts = [Verdict("first thing", True, "fine"),
                Verdict("next Hello within 0.450s (bound: x)", False, "first Hello 1.002s after the failure",
                        measured={"reconnect_delay_s": 1.002}, evidence=[0])]
    failure = SimpleNamespace(reprcrash=SimpleNamespace(
        message="AssertionError: " + "\n".join(v.explain() for v in verdicts)))
    _run(c, "t.py::test_b2", ["REQ-B"], "failed", longrepr=failure,
         props=[("history", str(hist)), (attach.VERDICTS, json.dumps(attach.verdicts_json(verdicts)))])
    _run(c, "t.py::test_c", ["REQ-C"], "setup-skip", reason="Skipped: NOT APPLICABLE: no async client")
    _run(c, "t.py::test_e", ["REQ-E"], "setup-skip", reason="Skipped: conformance test: run with --sdk=python")
    _run(c, "t.py::test_x", ["REQ-X"], "passed")  # cites an ID SPEC.md does not have
    _run(c, "t.py::test_plain", [], "passed")
    return c


def test_matrix_statuses(tmp_path: Path) -> None:
    c = _collector(tmp_path)
    rows = {r.requirement.id: r for r in c.matrix()}
    assert rows["REQ-A"].status == cr.PASS
    assert [t.nodeid for t in rows["REQ-A"].tests] == ["t.py::test_a", "t.py::test_b1"]
    assert rows["REQ-B"].status == cr.FAIL  # one failed test is enough
    assert rows["REQ-C"].status == cr.NOT_APPLICABLE
    assert rows["REQ-D"].status == cr.NOT_RUN and rows["REQ-D"].tests == []
    assert rows["REQ-E"].status == cr.NOT_RUN
    assert rows["REQ-X"].status == cr.PASS and not rows["REQ-X"].in_spec
    results = {r.nodeid: r for r in c.results}
    assert results["t.py::test_b2"].outcome == cr.FAILED and results["t.py::test_b2"].status == cr.FAIL
    assert results["t.py::test_b2"].message.startswith("[FAIL] next Hello within 0.450s")
    assert results["t.py::test_c"].status == cr.NOT_APPLICABLE
    assert results["t.py::test_c"].message.startswith("NOT APPLICABLE")
    assert results["t.py::test_e"].outcome == cr.SKIPPED and results["t.py::test_e"].status == cr.NOT_RUN
    assert results["t.py::test_a"].duration == pytest.approx(0.3)
    assert [r.nodeid for r in c.untraced()] == ["t.py::test_plain"]
    assert c.sdk_under_test() == ("python", "9.9.9")


def test_teardown_failure_fails_the_test(tmp_path: Path) -> None:
    c = ConformanceCollector(_spec(tmp_path))
    c.add(_report("t::a", "setup", "passed", ["REQ-A"]))
    c.add(_report("t::a", "call", "passed", ["REQ-A"]))
    c.add(_report("t::a", "teardown", "failed", ["REQ-A"], longrepr="E   RuntimeError: driver left running"))
    r = c.results[0]
    assert r.outcome == cr.FAILED and r.phase == "teardown"
    assert "error in teardown" in r.message and "driver left running" in r.message
    assert {x.requirement.id: x.status for x in c.matrix()}["REQ-A"] == cr.FAIL


def test_write_md_and_html_with_links_and_timeline(tmp_path: Path) -> None:
    c = _collector(tmp_path)
    out = tmp_path / "report"
    md, page = c.write(out, sdk="python", sdk_version="1.12.0")
    text = md.read_text()
    assert text.startswith("# Connection-resiliency conformance: python 1.12.0")
    assert "| REQ-A | MUST | **PASS** |" in text
    assert "| REQ-B | MUST | **FAIL** |" in text
    assert "| REQ-C | SHOULD | **NOT APPLICABLE** |" in text
    assert "| REQ-D | MUST | **NOT RUN** | expected: `test_d.py` |" in text
    assert "REQ-X (not in SPEC.md)" in text
    assert "[history JSON](../histories/t_b2.json)" in text
    assert "[timeline](../histories/t_b2.html)" in text
    timeline = tmp_path / "histories" / "t_b2.html"
    assert timeline.exists()
    tl = timeline.read_text()
    assert "TCP :5000" in tl
    assert "next Hello within 0.450s (bound: x)" in tl and '<span class="badge fail">FAIL</span>' in tl
    assert '<span class="badge pass">PASS</span>' in tl
    assert 'class="evidence"' in tl  # the failed verdict's evidence, from the data
    h = page.read_text()
    assert "python 1.12.0" in h
    for status in ("PASS", "FAIL", "NOT APPLICABLE", "NOT RUN"):
        assert f">{status}</td>" in h
    assert 'href="../histories/t_b2.json"' in h and 'href="../histories/t_b2.html"' in h
    assert 'class="status fail"' in h and 'class="status na"' in h and 'class="status notrun"' in h


def test_unreadable_history_does_not_break_the_report(tmp_path: Path) -> None:
    c = ConformanceCollector(_spec(tmp_path))
    _run(c, "t::b", ["REQ-B"], "failed", props=[("history", str(tmp_path / "nope.json"))],
         longrepr="E   AssertionError: boom")
    md, _ = c.write(tmp_path / "out")
    assert "| REQ-B | MUST | **FAIL** |" in md.read_text()
    assert "[timeline]" not in md.read_text()


def test_verdicts_travel_as_data_into_the_report_the_item_and_the_saved_history(tmp_path: Path) -> None:
    vs = [*for_requirement("REQ-A", Verdict("a (x: y)", True, "fine", measured={"q": 1, "odd": {1, 2}})),
          Verdict("b", False, "bad: worse", evidence=[3])]
    item = SimpleNamespace(nodeid="t.py::test_v", user_properties=[("requirement", "REQ-A")])
    report = SimpleNamespace(when="call", failed=True, user_properties=list(item.user_properties), sections=[])
    h = History("t.py::test_v")
    attach.attach_verdicts(item, report, vs, h)
    prop = (attach.VERDICTS, json.dumps(attach.verdicts_json(vs)))
    assert report.user_properties[-1] == prop and item.user_properties[-1] == prop  # teardown/junit copy the item's
    back = attach.decode_verdicts(prop[1])
    assert [(v.check, v.ok, v.summary, v.requirement, v.evidence) for v in back] == [
        ("a (x: y)", True, "fine", "REQ-A", []), ("b", False, "bad: worse", None, [3])]
    assert back[0].measured["odd"] == str({1, 2})  # what JSON cannot carry becomes its text
    settings = SimpleNamespace(history_dir=tmp_path, keep_histories=False)
    attach.attach(item, report, settings, h, [])  # a failed call: the history is saved
    saved = History.load(attach.history_path(settings, item.nodeid))
    assert saved.meta["verdicts"] == json.loads(prop[1])
    with pytest.raises(ValueError):
        attach.decode_verdicts('{"check": "x"}')
    with pytest.raises(ValueError):
        attach.decode_verdicts('[{"ok": true}]')


def test_an_unreadable_verdicts_property_counts_against_all_requirements(tmp_path: Path) -> None:
    c = ConformanceCollector(_spec(tmp_path))
    _run(c, "t::x", ["REQ-A", "REQ-B"], "failed", longrepr="E   AssertionError: boom",
         props=[(attach.VERDICTS, "not json")])
    rows = {r.requirement.id: r.status for r in c.matrix()}
    assert rows["REQ-A"] == rows["REQ-B"] == cr.FAIL


def test_junit_properties_from_markers() -> None:
    marks = [SimpleNamespace(args=("A-1", "B-2")), SimpleNamespace(args=("A-1", "C-3"))]
    item = SimpleNamespace(iter_markers=lambda name: marks if name == "requirement" else [])
    assert cr.junit_properties(item) == [("requirement", "A-1"), ("requirement", "B-2"), ("requirement", "C-3")]


def test_real_pytest_run_with_the_plugin_and_junitxml(tmp_path: Path) -> None:
    """End to end in a child pytest (with xdist when available): the wiring plugin.py will get."""
    (tmp_path / "SPEC.md").write_text(SPEC.replace(
        "| REQ-E | MUST | E was only skipped. | `test_e.py` |\n",
        "| REQ-E | MUST | E was only skipped. | `test_e.py` |\n| REQ-F | MUST | F's verdict failed. | `test_fg.py` |\n"
        "| REQ-G | MUST | G's verdict passed. | `test_fg.py` |\n"))
    (tmp_path / "conftest.py").write_text(textwrap.dedent(f"""
        from harness.report import plugin as cr
        def pytest_addoption(parser):
            parser.addoption("--conformance-report-test", default=None)
        def pytest_configure(config):
            config.addinivalue_line("markers", "requirement(*ids): ids")
            out = config.getoption("--conformance-report-test")
            if out and not hasattr(config, "workerinput"):
                cr._default = cr.ConformanceCollector({str(tmp_path / "SPEC.md")!r}, sdk="fake-sdk",
                                                      sdk_version="0.1")
                config.pluginmanager.register(cr.ReportPlugin(out), "conformance-report")
        def pytest_collection_modifyitems(config, items):
            for item in items:
                item.user_properties.extend(cr.junit_properties(item))
    """))
    (tmp_path / "test_sample.py").write_text(textwrap.dedent("""
        import pytest
        @pytest.mark.requirement("REQ-A")
        def test_a(): pass
        @pytest.mark.requirement("REQ-B", "REQ-A")
        def test_b(): assert 1 == 2, "[FAIL] b check: measured two"
        @pytest.mark.requirement("REQ-C")
        def test_c(): pytest.skip("NOT APPLICABLE: capability missing")
        @pytest.mark.requirement("REQ-E")
        @pytest.mark.skip(reason="not today")
        def test_e(): pass
        @pytest.mark.requirement("REQ-F", "REQ-G")
        def test_fg():
            from harness.checks.verdict import Verdict, for_requirement, require
            require(*for_requirement("REQ-F", Verdict("f check", False, "measured badly")),
                    *for_requirement("REQ-G", Verdict("g check", True, "fine")))
    """))
    args = [sys.executable, "-m", "pytest", str(tmp_path), "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
            f"--conformance-report-test={tmp_path / 'out'}", f"--junitxml={tmp_path / 'junit.xml'}"]
    try:
        import xdist  # noqa: F401
        args += ["-n", "2"]
    except ImportError:
        pass
    proc = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "conformance report:" in proc.stdout
    md = (tmp_path / "out" / "conformance.md").read_text()
    assert "fake-sdk 0.1" in md
    assert "| REQ-A | MUST | **FAIL** |" in md  # test_b cites REQ-A too
    assert "| REQ-B | MUST | **FAIL** |" in md
    assert "| REQ-C | SHOULD | **NOT APPLICABLE** |" in md
    assert "| REQ-D | MUST | **NOT RUN** |" in md
    assert "| REQ-E | MUST | **NOT RUN** |" in md
    junit = (tmp_path / "junit.xml").read_text()
    assert '<property name="requirement" value="REQ-B" />' in junit
    assert '<property name="requirement" value="REQ-A" />' in junit
    # the verdicts the harness plugin collected reach the controller (the matrix) and --junitxml
    assert "| REQ-F | MUST | **FAIL** |" in md
    assert "| REQ-G | MUST | **PASS** |" in md
    assert "[FAIL] f check: measured badly" in md  # the text people read is unchanged
    case = next(c for c in ET.parse(tmp_path / "junit.xml").getroot().iter("testcase") if c.get("name") == "test_fg")
    props = [p.get("value") for p in case.iter("property") if p.get("name") == "verdicts"]
    assert len(props) == 1
    assert [(v.check, v.ok, v.requirement) for v in attach.decode_verdicts(props[0])] == [
        ("f check", False, "REQ-F"), ("g check", True, "REQ-G")]


def test_a_failed_test_fails_only_the_requirements_of_its_failed_verdicts():
    from harness.report.results import FAIL, FAILED, PASS, TestResult, outcome_for

    r = TestResult("t::x")
    r.requirements = ["REQ-A-001", "REQ-B-001"]
    r.outcome, r.phase = FAILED, "call"
    r.verdicts = [*for_requirement("REQ-A-001", Verdict("prompt stop", False, "took 1.2 s")),
                  *for_requirement("REQ-B-001", Verdict("nothing after stop", True, "none"))]
    assert outcome_for(r, "REQ-A-001") == FAIL
    assert outcome_for(r, "REQ-B-001") == PASS
    # An untagged failed verdict counts against every requirement the test cites.
    r.verdicts.append(Verdict("setup", False, "no stream"))
    assert outcome_for(r, "REQ-B-001") == FAIL
    # So does a failure without a failed verdict (e.g. an assert in setup); and the text people
    # read is never parsed for tags.
    r.verdicts = [*for_requirement("REQ-A-001", Verdict("prompt stop", True, "took 0.1 s"))]
    r.details = "AssertionError: [FAIL] prompt stop: took 1.2 s\n  requirement: REQ-A-001"
    assert outcome_for(r, "REQ-A-001") == outcome_for(r, "REQ-B-001") == FAIL
    r.verdicts = []
    assert outcome_for(r, "REQ-B-001") == FAIL


def test_a_field_scenarios_own_verdicts_stay_in_its_history_and_its_timeline(tmp_path: Path) -> None:
    """harness/repro/runner.py writes history.meta["verdicts"] itself and judges without ``require``:
    an empty collection does not erase them, and the failure's timeline lists them."""
    h = History("scenarios/field/x.toml::x")
    h.record(FAKE, "rpc_start", t=h.t0 + 0.1, call_id=1, method="Hello", peer="ipv4:127.0.0.1:5000", server_gen=1)
    h.meta["verdicts"] = [{"check": "field check", "ok": False, "summary": "too slow", "measured": {}}]
    item = SimpleNamespace(nodeid=h.name, user_properties=[])
    report = SimpleNamespace(when="call", failed=True, user_properties=[], sections=[])
    attach.attach_verdicts(item, report, [], h)
    assert report.user_properties == [(attach.VERDICTS, "[]")]
    assert h.meta["verdicts"][0]["check"] == "field check"
    hist = h.save(tmp_path / "histories" / "x.json")
    c = ConformanceCollector(_spec(tmp_path))
    _run(c, h.name, ["REQ-A", "REQ-B"], "failed", longrepr="E   AssertionError: [FAIL] field check: too slow",
         props=[("history", str(hist)), *report.user_properties])
    c.write(tmp_path / "out")
    tl = (tmp_path / "histories" / "x.html").read_text()
    assert '<span class="badge fail">FAIL</span><b>field check</b>: too slow' in tl
    attach.attach_verdicts(item, report, [Verdict("judged", True, "ok")], h)  # collected ones win
    assert [v["check"] for v in h.meta["verdicts"]] == ["judged"]
