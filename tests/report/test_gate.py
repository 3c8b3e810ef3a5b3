"""Gate semantics (harness/report/statuses.py, gate.py): every status rule on synthetic reports, the
gate over a run, and the wiring end to end in a child pytest (statuses shown apart, exit code from
the gate, --strict)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.checks.verdict import Verdict, control, for_requirement
from harness.report import attach
from harness.report import statuses as st
from harness.report.collector import ConformanceCollector
from harness.report.gate import GateContext, judge
from harness.report.results import FAILED, PASSED, SKIPPED, TestResult

LEVELS = {"M-1": "MUST", "M-2": "MUST (P)", "S-1": "SHOULD (N)", "H-1": "harness"}


def result(outcome: str = FAILED, reqs=("M-1",), verdicts=(), phase: str = "call", **facts) -> TestResult:
    r = TestResult("t::x", outcome=outcome, requirements=list(reqs), phase=phase, verdicts=list(verdicts))
    for k, v in facts.items():
        setattr(r, k, v)
    return r


def bad(rid: str | None, check: str = "c") -> Verdict:
    v = Verdict(check, False, "measured badly")
    return for_requirement(rid, v)[0] if rid else v


# -- per test and per requirement ---------------------------------------------------------------------
def test_pass_and_plain_fail():
    assert st.status_of(result(PASSED), LEVELS) == st.PASS
    assert st.status_of(result(verdicts=[bad("M-1")]), LEVELS) == st.FAIL
    assert st.status_of(result(verdicts=[]), LEVELS) == st.FAIL  # an assert without a verdict
    assert st.status_of(result(reqs=()), LEVELS) == st.FAIL  # cites nothing


def test_skips_are_not_applicable_only_when_the_plugin_said_so():
    assert st.status_of(result(SKIPPED, message="NOT APPLICABLE to this SDK build: lacks async_client"),
                        LEVELS) == st.NOT_APPLICABLE
    assert st.status_of(result(SKIPPED, message="NOT RUN: left out by --skip-at-defaults: ..."),
                        LEVELS) == st.NOT_RUN
    assert st.status_of(result(SKIPPED, message="no root"), LEVELS) == st.NOT_RUN


def test_a_failed_should_is_non_strict_and_a_failed_must_wins():
    assert st.status_of(result(reqs=("S-1",), verdicts=[bad("S-1")]), LEVELS) == st.NON_STRICT
    assert st.status_of(result(reqs=("S-1",), verdicts=[bad(None)]), LEVELS) == st.NON_STRICT  # cites only a SHOULD
    both = result(reqs=("S-1", "M-1"), verdicts=[bad("S-1")])
    assert st.status_of(both, LEVELS) == st.NON_STRICT
    assert st.requirement_outcome(both, "M-1", LEVELS) == st.PASS
    assert st.requirement_outcome(both, "S-1", LEVELS) == st.NON_STRICT
    assert st.status_of(result(reqs=("S-1", "M-1"), verdicts=[bad("S-1"), bad("M-1")]), LEVELS) == st.FAIL
    # an untagged failure in a test that cites a MUST counts against the MUST
    assert st.status_of(result(reqs=("S-1", "M-1"), verdicts=[bad(None)]), LEVELS) == st.FAIL


def test_inconclusive_from_the_exception_a_control_or_a_harness_requirement():
    assert st.status_of(result(inconclusive="setup: no stream"), LEVELS) == st.INCONCLUSIVE
    ctl = control(Verdict("control: fault took effect", False, "it did not"))
    r = result(reqs=("M-1", "M-2"), verdicts=[ctl, bad("M-1")])
    assert st.status_of(r, LEVELS) == st.INCONCLUSIVE
    assert st.requirement_outcome(r, "M-1", LEVELS) == st.requirement_outcome(r, "M-2", LEVELS) == st.INCONCLUSIVE
    harness = result(reqs=("H-1", "M-1"), verdicts=[bad("H-1")])  # NET-RST-001 style: the harness failed
    assert st.status_of(harness, LEVELS) == st.INCONCLUSIVE
    # an untagged failure in a test citing a harness and a MUST requirement is the SDK's (FAIL), and
    # the harness requirement's own row says INCONCLUSIVE, never FAIL
    mixed = result(reqs=("H-1", "M-1"), verdicts=[bad(None)])
    assert st.status_of(mixed, LEVELS) == st.FAIL
    assert st.requirement_outcome(mixed, "H-1", LEVELS) == st.INCONCLUSIVE


def test_not_implemented_at_the_defaults_or_without_running():
    at = "python 1.4.0 has no resiliency_options: run at the SDK's defaults"
    assert st.status_of(result(verdicts=[bad("M-1")], at_defaults=at), LEVELS) == st.NOT_IMPLEMENTED
    assert st.status_of(result(PASSED, at_defaults=at), LEVELS) == st.PASS  # a pass at the defaults is a pass
    # a SHOULD not met at the defaults is still NON-STRICT
    assert st.status_of(result(reqs=("S-1",), verdicts=[bad("S-1")], at_defaults=at), LEVELS) == st.NON_STRICT
    # a control failed at the defaults: what it needed (a recreation, say) is what such a build lacks
    assert st.status_of(result(verdicts=[control(bad("M-1"))], at_defaults=at), LEVELS) == st.NOT_IMPLEMENTED
    # ... but a failed harness requirement, or an explicit inconclusive() (setup), stays INCONCLUSIVE
    assert st.status_of(result(reqs=("H-1", "M-1"), verdicts=[control(bad("H-1"))], at_defaults=at),
                        LEVELS) == st.INCONCLUSIVE
    assert st.status_of(result(inconclusive="setup: no stream", at_defaults=at), LEVELS) == st.INCONCLUSIVE
    assert st.status_of(result(not_implemented="no resiliency_options; infeasible"), LEVELS) == st.NOT_IMPLEMENTED


def test_errors_around_the_test_fail_it():
    assert st.status_of(result(phase="setup", verdicts=[]), LEVELS) == st.FAIL
    assert st.status_of(result(phase="teardown", reqs=("S-1",)), LEVELS) == st.FAIL
    assert st.status_of(result(phase="setup", inconclusive="guard: tolerance too coarse"), LEVELS) == st.INCONCLUSIVE


def test_unknown_levels_count_as_must():
    assert st.level_kind("") == st.MUST and st.level_kind("MUST (P)") == st.MUST
    assert st.level_kind("SHOULD (N)") == st.SHOULD and st.level_kind("harness") == st.HARNESS
    assert st.status_of(result(reqs=("X-9",), verdicts=[bad("X-9")]), LEVELS) == st.FAIL


def test_a_requirement_is_the_worst_of_its_tests():
    order = [st.FAIL, st.NOT_IMPLEMENTED, st.INCONCLUSIVE, st.NOT_RUN, st.NON_STRICT, st.PASS, st.NOT_APPLICABLE]
    for i, worse in enumerate(order):
        for better in order[i:]:
            assert st.requirement_status([better, worse]) == worse
    assert st.requirement_status([]) == st.NOT_RUN


# -- the gate -------------------------------------------------------------------------------------------
def test_the_gate_passes_only_on_pass_not_applicable_and_non_strict():
    assert judge([(st.PASS, ""), (st.NOT_APPLICABLE, "NOT APPLICABLE ...")]).passed
    assert judge([(st.PASS, ""), (st.NON_STRICT, "")]).passed
    assert not judge([(st.PASS, ""), (st.NON_STRICT, "")], context=GateContext(strict=True)).passed
    for failing in (st.FAIL, st.NOT_IMPLEMENTED, st.INCONCLUSIVE, st.NOT_RUN):
        gate = judge([(st.PASS, ""), (failing, "")])
        assert not gate.passed and any(failing in r for r in gate.reasons), (failing, gate.reasons)
    assert not judge([]).passed and not judge([(st.NOT_APPLICABLE, "")]).passed  # nothing passed


def test_the_gate_says_what_was_left_out_and_under_what_it_was_judged():
    gate = judge([(st.PASS, ""), (st.NOT_RUN, "NOT RUN: left out by --skip-at-defaults: no options")],
                 [st.PASS, st.NOT_RUN],
                 GateContext(tolerance=0.03, patches=("/x/mutants/no_reconnect.py",), skip_at_defaults=True))
    assert not gate.passed and gate.left_out == 1
    text = "\n".join(gate.lines())
    assert text.startswith("gate FAIL: tests 1 PASS, 1 NOT RUN; requirements 1 PASS, 1 NOT RUN")
    assert "1 test(s) left out by --skip-at-defaults" in text and "not passed while tests are left out" in text
    assert "timing tolerance 0.03 s" in text and "SDK patched: no_reconnect.py" in text and "strict: no" in text


# -- the collector reads the facts from report properties ----------------------------------------------
SPEC = """\
| ID | Level | Requirement | Test |
|---|---|---|---|
| M-1 | MUST | must. | `t.py` |
| S-1 | SHOULD | should. | `t.py` |
| H-1 | harness | the harness works. | `t.py` |
"""


def _report(nodeid, when, outcome, reqs, props=()):
    return SimpleNamespace(nodeid=nodeid, when=when, outcome=outcome, passed=outcome == "passed",
                           failed=outcome == "failed", skipped=outcome == "skipped", duration=0.1,
                           user_properties=[("requirement", r) for r in reqs] + list(props),
                           longrepr="E   boom", longreprtext="E   boom")


def _verdicts(*vs):
    return (attach.VERDICTS, json.dumps(attach.verdicts_json(vs)))


def test_the_collector_applies_the_rules_and_writes_the_gate_into_the_matrix(tmp_path: Path):
    (tmp_path / "SPEC.md").write_text(SPEC)
    c = ConformanceCollector(tmp_path / "SPEC.md", sdk="python", sdk_version="1.4.0")
    cases = {
        "t::pass": ("passed", ["M-1"], []),
        "t::should": ("failed", ["S-1", "M-1"], [_verdicts(*for_requirement("S-1", Verdict("s", False, "late")))]),
        "t::at_defaults": ("failed", ["M-1"], [(st.PROP_AT_DEFAULTS, "no resiliency_options: at the defaults"),
                                               _verdicts(Verdict("m", False, "never"))]),
        "t::inconclusive": ("failed", ["M-1"], [(st.PROP_INCONCLUSIVE, "control failed")]),
        "t::harness": ("failed", ["H-1", "M-1"], [_verdicts(*for_requirement("H-1", Verdict("rst", False, "none")))]),
    }
    for nodeid, (outcome, reqs, props) in cases.items():
        c.add(_report(nodeid, "setup", "passed", reqs))
        c.add(_report(nodeid, "call", outcome, reqs, props))
    rows = {r.requirement.id: r.status for r in c.matrix()}  # matrix() applies the rules
    statuses = {r.nodeid: r.status for r in c.results}
    assert statuses == {"t::pass": st.PASS, "t::should": st.NON_STRICT, "t::at_defaults": st.NOT_IMPLEMENTED,
                        "t::inconclusive": st.INCONCLUSIVE, "t::harness": st.INCONCLUSIVE}
    assert rows == {"M-1": st.NOT_IMPLEMENTED, "S-1": st.NON_STRICT, "H-1": st.INCONCLUSIVE}
    md, page = c.write(tmp_path / "out", context=GateContext(tolerance=0.03, strict=True))
    text = md.read_text()
    assert "**gate FAIL: tests 1 PASS, 1 NOT IMPLEMENTED, 2 INCONCLUSIVE, 1 NON-STRICT" in text
    assert "strict: yes" in text and "timing tolerance 0.03 s" in text
    assert "## INCONCLUSIVE: the harness could not observe" in text
    assert "no resiliency_options: at the defaults" in text
    html = page.read_text()
    assert 'class="gate fail"' in html and 'class="status notimpl"' in html and "INCONCLUSIVE" in html


# -- end to end: the plugin's statuses, the summary line, the exit code ---------------------------------
CHILD_TESTS = """
import pytest
from harness.checks.verdict import Verdict, control, for_requirement, inconclusive, require
from harness.drivers.capabilities import NotImplementedByBuild

@pytest.mark.requirement("M-1")
def test_pass(): pass

@pytest.mark.requirement("S-1", "M-1")
def test_should():
    require(*for_requirement("S-1", Verdict("s check", False, "late")),
            *for_requirement("M-1", Verdict("m check", True, "fine")))

@pytest.mark.requirement("M-1")
def test_na(): pytest.skip("NOT APPLICABLE to this SDK build: lacks async_client (optional)")
"""
CHILD_FAILING = """
@pytest.mark.requirement("M-1")
def test_control(): require(control(Verdict("control: fault took effect", False, "it did not")))

@pytest.mark.requirement("M-1")
def test_setup_did_not_take(): inconclusive("setup: no stream")

@pytest.mark.requirement("M-1")
def test_not_implemented(): raise NotImplementedByBuild("no resiliency_options, infeasible at the defaults")
"""


def _child(tmp_path: Path, tests: str, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "SPEC.md").write_text(SPEC)
    (tmp_path / "conftest.py").write_text(textwrap.dedent(f"""
        import harness.plugin as hp
        from harness.report import plugin as cr
        from harness.report.gate import GateContext
        from harness.report.spec import parse_spec
        hp._LEVELS = {{r.id: r.level for r in parse_spec({str(tmp_path / "SPEC.md")!r})}}  # the SPEC of these tests
        def pytest_configure(config):
            if not hasattr(config, "workerinput"):
                cr._default = cr.ConformanceCollector({str(tmp_path / "SPEC.md")!r})
                config.pluginmanager.register(cr.ReportPlugin(None, context=GateContext(
                    tolerance=0.03, strict=bool(config.getoption("strict"))), gate=True), "conformance-gate")
    """))
    (tmp_path / "test_child.py").write_text(tests)
    cmd = [sys.executable, "-m", "pytest", str(tmp_path), "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
           f"--junitxml={tmp_path / 'junit.xml'}", *args]
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_non_strict_passes_the_gate_unless_strict(tmp_path: Path):
    proc = _child(tmp_path, CHILD_TESTS)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out  # pytest saw a failure, the gate did not
    assert "conformance gate PASS: tests 1 PASS, 1 NON-STRICT, 1 NOT APPLICABLE" in out
    assert "1 passed, 1 non-strict, 1 not applicable" in out  # pytest's own line shows them apart
    junit = (tmp_path / "junit.xml").read_text()
    assert '<property name="status" value="NON-STRICT" />' in junit
    strict = _child(tmp_path, CHILD_TESTS, "--strict")
    assert strict.returncode == 1 and "conformance gate FAIL" in strict.stdout, strict.stdout


def test_inconclusive_and_not_implemented_fail_the_gate_and_are_listed_apart(tmp_path: Path):
    proc = _child(tmp_path, CHILD_TESTS + CHILD_FAILING, "-n", "2")
    out = proc.stdout
    assert proc.returncode == 1, out
    assert "conformance gate FAIL: tests 1 PASS, 1 NOT IMPLEMENTED, 2 INCONCLUSIVE, 1 NON-STRICT" in out
    assert "2 inconclusive" in out and "1 not implemented" in out
    inconclusive = out[out.index("INCONCLUSIVE:"):]
    assert "test_setup_did_not_take: setup: no stream" in inconclusive
    assert "test_not_implemented: no resiliency_options, infeasible at the defaults" in out


@pytest.mark.parametrize("code", [0, 1])
def test_the_gate_sets_the_exit_code(code: int):
    from harness.report import plugin as rp
    rp._default = ConformanceCollector(Path("/nonexistent/SPEC.md"))
    rp.collector().add(_report("t::a", "call", "passed" if code == 0 else "failed", ["M-1"]))
    plugin = rp.ReportPlugin(None, gate=True)
    session = SimpleNamespace(exitstatus=1 - code, config=SimpleNamespace())
    plugin.pytest_sessionfinish(session)
    assert session.exitstatus == code and plugin.gate is not None and plugin.gate.passed == (code == 0)
    rp._default = ConformanceCollector(Path("/nonexistent/SPEC.md"))
    rp.collector().add(_report("t::a", "call", "passed", ["M-1"]))
    interrupted = SimpleNamespace(exitstatus=2, config=SimpleNamespace())
    rp.ReportPlugin(None, gate=True).pytest_sessionfinish(interrupted)
    assert interrupted.exitstatus == 2  # an interrupted run keeps its code
    rp._default = None
