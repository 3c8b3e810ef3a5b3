"""A field file's `sdk` (which SDK its report is about, and so which build a run uses) and its honest
expectation (`expected = "fail"` + [expected_failure]): parsing, validation errors, the SDK a run picks,
and the outcome rules, judged on hand-made verdicts (no SDK, no network)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.checks.verdict import Verdict
from harness.repro.model import DRIVER_SDKS, REFERENCE_SDK
from harness.repro.output import verdict_text
from harness.repro.runner import (
    EXIT_CODES,
    FAIL,
    FIXED,
    PASS,
    REPRODUCED,
    Outcome,
    judge_outcome,
    pick_sdk,
)
from harness.repro.schema import ScenarioError, load_scenario

# Three expectations: the churn file's shape (activity done in time; exactly once; at most one run).
BASE = """
title = "t"
source = ["x#1"]
sdk = "dapr-dotnet"
expected = "fail"
scale = 0.05
duration = 40

[workload.activity]
at = 2
duration_s = 20

[[step]]
at = 6
fault = "abort_stream"
code = "UNAVAILABLE"

[[expect]]
check = "activity_completed_within"
within = 30

[[expect]]
check = "exactly_once"

[[expect]]
check = "activity_runs_at_most"
at_most = 1

[expected_failure]
kind = "design-gap"
check = ["exactly_once", "activity_runs_at_most"]
reason = "no SDK de-duplicates a redelivered item"
report = "https://github.com/dapr/dapr/pull/9903"
"""


def load(tmp_path: Path, text: str):
    p = tmp_path / "f.toml"
    p.write_text(textwrap.dedent(text))
    return load_scenario(p)


def errors(tmp_path: Path, text: str) -> str:
    with pytest.raises(ScenarioError) as ei:
        load(tmp_path, text)
    return str(ei.value)


def verdicts(*oks: bool) -> list[Verdict]:
    """One verdict per [[expect]] of BASE, labelled as expect.evaluate labels them."""
    names = ["activity_completed_within", "exactly_once", "activity_runs_at_most"]
    # fewer oks than names: the later expectations judged nothing (zip stops at the shorter)
    return [Verdict(f"expect {i} ({n}): the check", ok, "measured")
            for i, (n, ok) in enumerate(zip(names, oks, strict=False), 1)]


# -- parsing -------------------------------------------------------------------------------------------
def test_the_table_is_parsed(tmp_path):
    sc = load(tmp_path, BASE)
    ef = sc.expected_failure
    assert sc.sdk == "dapr-dotnet" and sc.expected == "fail"
    assert ef.kind == "design-gap" and ef.expects == (2, 3) and ef.sdks == ()
    assert ef.report.endswith("9903") and sc.expected_failure_for("go") is ef


def test_a_check_by_expect_number_and_sdks(tmp_path):
    sc = load(tmp_path, BASE.replace('check = ["exactly_once", "activity_runs_at_most"]',
                                     'check = "expect 3"\nsdks = ["python", "go"]'))
    assert sc.expected_failure.expects == (3,)
    assert sc.expected_failure_for("python") is not None and sc.expected_failure_for("js") is None


def test_unknown_sdk_lists_the_valid_names(tmp_path):
    msg = errors(tmp_path, BASE.replace('sdk = "dapr-dotnet"', 'sdk = "dotnett"'))
    assert "top level: field 'sdk': unknown value 'dotnett' (did you mean 'dotnet'?)" in msg
    for name in DRIVER_SDKS + ("dotnet", "dapr-dotnet", "any"):
        assert name in msg


def test_the_old_option_tables_still_read_but_not_with_sdk(tmp_path):
    """[sdk.worker] (before files named their SDK) still parses, so saved histories can be re-judged; with
    `sdk = ...` it cannot be TOML, and the error says what to rename."""
    old = BASE.replace('sdk = "dapr-dotnet"\n', "") + "\n[sdk.worker]\nhello_timeout_seconds = 20\n"
    sc = load(tmp_path, old)
    assert sc.sdk is None and sc.worker_options["hello_timeout_seconds"] == pytest.approx(1.0)  # 20 s x 0.05
    msg = errors(tmp_path, BASE + "\n[sdk.worker]\nhello_timeout_seconds = 20\n")
    assert "not valid TOML" in msg and "rename the tables [worker_options] / [client_options]" in msg
    msg = errors(tmp_path, old + "\n[worker_options]\nhello_timeout_seconds = 20\n")
    assert "give the options once: [worker_options] (the new name) or [sdk.worker]" in msg


@pytest.mark.parametrize("old,new,expected", [
    ('expected = "fail"', 'expected = "maybe"', "field 'expected': unknown value 'maybe'"),
    ('kind = "design-gap"', 'kind = "bug"', "[expected_failure]: field 'kind': unknown value 'bug'"),
    ('reason = "no SDK de-duplicates a redelivered item"\n', "",
     "[expected_failure]: field 'reason': required field is missing"),
    ('report = "https://github.com/dapr/dapr/pull/9903"\n', "",
     "[expected_failure]: field 'report': required field is missing"),
    ('check = ["exactly_once", "activity_runs_at_most"]', 'check = "exactly_twice"',
     "[expected_failure]: field 'check': unknown check 'exactly_twice' (did you mean 'exactly_once'?)"),
    ('check = ["exactly_once", "activity_runs_at_most"]', 'check = "expect 7"',
     "field 'check': 'expect 7': there is no [[expect]] 7 (the file has 3)"),
    ('check = ["exactly_once", "activity_runs_at_most"]', 'check = ["exactly_once", "expect 2"]',
     "field 'check': names the same [[expect]] twice"),
    ('reason =', 'sdks = ["cobol"]\nreason =', "[expected_failure]: field 'sdks': unknown SDK 'cobol'"),
])
def test_expected_failure_errors(tmp_path, old, new, expected):
    assert old in BASE
    assert expected in errors(tmp_path, BASE.replace(old, new))


def test_fail_needs_the_table_and_pass_refuses_it(tmp_path):
    no_table = BASE[: BASE.index("[expected_failure]")]
    assert "field 'expected': \"fail\" needs an [expected_failure] table" in errors(tmp_path, no_table)
    msg = errors(tmp_path, BASE.replace('expected = "fail"', 'expected = "pass"'))
    assert "[expected_failure]: only meaningful with expected = \"fail\"" in msg


def test_a_check_used_twice_must_be_named_by_number(tmp_path):
    text = BASE.replace('check = "activity_runs_at_most"\nat_most = 1', 'check = "exactly_once"')
    assert "'exactly_once' is the check of expects 2, 3: name one as \"expect N\"" in errors(tmp_path, text)


# -- which SDK a run uses ----------------------------------------------------------------------------
def test_the_driver_names_match_the_registry():
    from harness.sdk import ADAPTERS
    assert set(DRIVER_SDKS) == set(ADAPTERS)


def test_pick_sdk(tmp_path):
    sc = load(tmp_path, BASE)  # dapr-dotnet: no driver
    p = pick_sdk(sc, None)
    assert p.sdk == REFERENCE_SDK and "about dapr-dotnet, which has no driver" in p.note
    assert "this verdict is about python, not the reporter's SDK" in p.note
    p = pick_sdk(sc, "go")
    assert p.sdk == "go" and "although the file's report is about dapr-dotnet" in p.note
    sc.sdk = "dapr-java"
    assert pick_sdk(sc, None).sdk == "dapr-java"
    sc.sdk = "any"
    assert pick_sdk(sc, None).sdk == REFERENCE_SDK and "a server or network" in pick_sdk(sc, None).note
    sc.sdk = None
    with pytest.raises(ValueError, match="names no SDK and no --sdk was given"):
        pick_sdk(sc, None)
    assert pick_sdk(sc, "js").sdk == "js"


# -- the outcome rules -------------------------------------------------------------------------------
def test_stated_checks_fail_and_the_others_pass_is_reproduced(tmp_path):
    sc = load(tmp_path, BASE)
    verdict, reason = judge_outcome(sc, verdicts(True, False, False), "python")
    assert verdict == REPRODUCED and EXIT_CODES[verdict] == 0
    assert reason.startswith("reproduced (expected failure): the design-gap") and "no SDK de-duplicates" in reason


def test_stated_checks_pass_is_fixed_with_its_own_exit_code(tmp_path):
    sc = load(tmp_path, BASE)
    verdict, reason = judge_outcome(sc, verdicts(True, True, True), "python")
    assert verdict == FIXED and EXIT_CODES[FIXED] == 6
    assert "FIXED: the build no longer reproduces the design-gap" in reason and 'expected = "pass"' in reason
    # one of the two stated checks passes now: the statement is wrong too, and the file must say so
    verdict, reason = judge_outcome(sc, verdicts(True, True, False), "python")
    assert verdict == FIXED and "expect 2 (exactly_once) passes now" in reason


def test_another_check_failing_is_a_fail(tmp_path):
    sc = load(tmp_path, BASE)
    verdict, reason = judge_outcome(sc, verdicts(False, False, False), "python")
    assert verdict == FAIL and "expect 1 (activity_completed_within): the check failed too" in reason
    verdict, _ = judge_outcome(sc, verdicts(False, True, True), "python")
    assert verdict == FAIL


def test_stated_checks_without_a_verdict_are_not_reproduced(tmp_path):
    sc = load(tmp_path, BASE)
    verdict, reason = judge_outcome(sc, verdicts(True), "python")  # expects 2 and 3 judged nothing
    assert verdict == FAIL and "expect 2 (exactly_once), expect 3 (activity_runs_at_most) gave no verdict" in reason
    verdict, reason = judge_outcome(sc, verdicts(True, False), "python")  # expect 3 judged nothing
    assert verdict == FAIL and "expect 3 (activity_runs_at_most) gave no verdict" in reason


def test_a_stated_check_that_could_not_be_evaluated_is_not_reproduced(tmp_path):
    sc = load(tmp_path, BASE)
    vs = verdicts(True, False, False)
    vs[1].summary = "cannot evaluate: no completion was recorded"
    verdict, reason = judge_outcome(sc, vs, "python")
    assert verdict == FAIL and "could not be evaluated" in reason


def test_a_build_outside_sdks_is_expected_to_pass(tmp_path):
    sc = load(tmp_path, BASE.replace("reason =", 'sdks = ["python"]\nreason ='))
    assert judge_outcome(sc, verdicts(True, False, False), "go") == (FAIL, "")
    assert judge_outcome(sc, verdicts(True, True, True), "go") == (PASS, "")
    assert judge_outcome(sc, verdicts(True, False, False), "python")[0] == REPRODUCED


def test_a_pass_file_is_unchanged(tmp_path):
    text = BASE[: BASE.index("[expected_failure]")].replace('expected = "fail"', 'expected = "pass"')
    sc = load(tmp_path, text)
    assert judge_outcome(sc, verdicts(True, True, True), "python") == (PASS, "")
    assert judge_outcome(sc, verdicts(True, False, True), "python") == (FAIL, "")


def test_the_verdict_text_names_the_sdk_used_and_the_expectation(tmp_path):
    sc = load(tmp_path, BASE)
    vs = verdicts(True, False, False)
    verdict, reason = judge_outcome(sc, vs, "python")
    note = pick_sdk(sc, None).note
    out = Outcome(sc, verdict, vs, reason, sdk={"sdk": "python", "sdk_version": "1.12.0"}, sdk_note=note,
                  sdk_name="python")
    text = verdict_text(out)
    assert f"SDK:      python 1.12.0  ({note})" in text
    assert "VERDICT: REPRODUCED   (expected: FAIL of expect 2 (exactly_once), expect 3 (activity_runs_at_most) " \
           "only, a design-gap" in text
    assert "reported FIXED (exit 6)" in text
