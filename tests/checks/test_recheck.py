"""Re-judging a saved history (harness/recheck.py, ``python -m harness check``) and the call each verdict
records (``harness.checks.verdict.check``): synthetic histories saved to files, then re-judged through the
command line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from harness.__main__ import main
from harness.checks import client as cc
from harness.checks import worker as cw
from harness.checks.verdict import (
    RECORDED_CHECKS,
    CallCodecError,
    Verdict,
    decode_arg,
    encode_arg,
    for_requirement,
)
from harness.checks.windows import WorkerOptions
from harness.history import DRIVER, FAKE, SCENARIO, History
from harness.recheck import EXIT_DISAGREE, EXIT_FAIL, EXIT_INVALID, EXIT_PASS, rerun

T0 = 1000.0


# -- synthetic histories ---------------------------------------------------------------------------
def stalled_history() -> History:
    """A stream, a black hole, a reconnect 0.3 s after the heal, a work item completed once; the caller's
    channel 7 stays open."""
    h = History("conformance/test_silent_stall.py::test_x[python]")
    h.t0 = T0
    h.meta.update({"test": h.name, "tolerance_s": 0.25, "sdk": {"sdk": "durabletask", "sdk_version": "1.12.0"}})
    h.record(DRIVER, "channel_created", t=T0 + 0.01, channel_id=7, owner="caller")
    h.record(FAKE, "rpc_start", t=T0 + 0.1, method="GetWorkItems", call_id=1, peer="ipv4:127.0.0.1:5000")
    h.mark("healed", t=T0 + 2.0)
    h.record(FAKE, "rpc_start", t=T0 + 2.3, method="GetWorkItems", call_id=2, peer="ipv4:127.0.0.1:5001")
    h.record(FAKE, "work_item_completed", t=T0 + 2.5, completion_token="tok", duplicate=False)
    return h


def judge(h: History) -> list[Verdict]:
    """What a conformance test does: run checks (tagging some with a requirement); the plugin stores them."""
    return [*for_requirement("WRK-HEALTH-001", cw.reconnected_within(h, after=T0 + 2.0, within=0.5)),
            cw.exactly_once(h, token="tok"),
            cc.channel_not_closed(h, channel_id=7),
            cw.no_rpc_after(h, after=T0 + 3.0, methods=("Hello", "GetWorkItems"))]


def save(h: History, verdicts: list[Verdict], path: Path) -> Path:
    h.meta["verdicts"] = [v.to_json() for v in verdicts]
    return h.save(path)


def edit(path: Path, fn: Any) -> None:
    raw = json.loads(path.read_text())
    fn(raw)
    path.write_text(json.dumps(raw))


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    h = stalled_history()
    verdicts = judge(h)
    assert all(v.ok for v in verdicts)
    # Teardown after the checks ran: the driver closes the caller's channel. A re-run must not see it.
    h.record(DRIVER, "channel_closed", t=T0 + 4.0, channel_id=7)
    return save(h, verdicts, tmp_path / "history.json")


# -- recording the call ----------------------------------------------------------------------------
def test_every_public_check_records_its_call():
    from harness.checks import conn, field
    for mod in (cw, cc, conn, field):
        for name in dir(mod):
            fn = getattr(mod, name)
            if name.startswith("_") or getattr(fn, "__module__", None) != mod.__name__:
                continue
            if "Verdict" in str(getattr(fn, "__annotations__", {}).get("return", "")):
                assert RECORDED_CHECKS.get(f"{mod.__name__}:{name}") is fn, f"{mod.__name__}.{name} lacks @check"


def test_recorded_call_is_json_and_skips_the_history():
    h = stalled_history()
    v = cw.no_rpc_after(h, after=T0 + 3.0, methods=("Hello",))
    assert v.call == {"fn": "harness.checks.worker:no_rpc_after", "history_len": len(h),
                      "kwargs": {"after": T0 + 3.0, "methods": {"__tuple__": ["Hello"]}}}
    assert json.loads(json.dumps(v.to_json()))["call"] == v.call


def test_codec_round_trip_worker_options():
    opts = WorkerOptions(hello_timeout_seconds=2.5, channel_recreate_failure_threshold=3)
    data = json.loads(json.dumps(encode_arg({"opts": opts, "codes": ("UNAVAILABLE",), "xs": [1, 2.5, None]})))
    assert data["opts"]["__type__"] == "harness.checks.windows:WorkerOptions"
    back = decode_arg(data)
    assert back == {"opts": opts, "codes": ("UNAVAILABLE",), "xs": [1, 2.5, None]}
    assert type(back["opts"]) is WorkerOptions


def test_codec_refuses_types_outside_harness_checks():
    with pytest.raises(CallCodecError):
        encode_arg(object())
    with pytest.raises(CallCodecError):
        decode_arg({"__type__": "subprocess:Popen", "args": ["true"]})
    with pytest.raises(CallCodecError):
        decode_arg({"__type__": "harness.checks.worker:hellos"})  # not a dataclass


def test_unencodable_argument_leaves_the_verdict_as_it_was():
    h = stalled_history()
    plain = cw.no_rpc_after(h, after=T0 + 3.0, methods=())
    odd = cw.no_rpc_after(h, after=T0 + 3.0, methods=frozenset())  # type: ignore[arg-type]
    assert odd.call is None
    assert (odd.ok, odd.check, odd.summary, odd.measured) == (plain.ok, plain.check, plain.summary, plain.measured)


def test_rerun_refuses_anything_but_a_recorded_check():
    h = stalled_history()
    for fn in ("os:system", "harness.checks.queries:streams", "harness.checks.worker:hellos"):
        with pytest.raises(Exception, match="not a check|no check"):
            rerun({"fn": fn, "kwargs": {}}, h)


# -- conformance histories -------------------------------------------------------------------------
def test_recorded_verdicts_rejudged_to_the_same_result(saved, capsys):
    code, out, err = check(capsys, str(saved))
    assert code == EXIT_PASS, out + err
    assert out.count("re-judged: PASS, as recorded") == 4
    assert "[PASS] reconnected within 0.500s" in out and "requirement: WRK-HEALTH-001" in out
    assert "evidence: t=2.300s fake rpc_start" in out
    assert out.strip().splitlines()[-1].startswith("RE-JUDGED PASS: 4 verdict(s), 4 PASS, 0 FAIL")


def test_tampered_history_flips_a_verdict(saved, capsys):
    def later_reconnect(raw: dict[str, Any]) -> None:
        ev = next(e for e in raw["events"] if e["kind"] == "rpc_start" and e["data"]["call_id"] == 2)
        ev["t"] = T0 + 2.9
    edit(saved, later_reconnect)
    code, out, _ = check(capsys, str(saved))
    assert code == EXIT_FAIL, out
    assert "[FAIL] reconnected within 0.500s: a new GetWorkItems stream 0.900s after the reference point" in out
    assert "DISAGREES with the recorded verdict" in out and "outcome: recorded PASS, now FAIL" in out
    assert "RE-JUDGED FAIL: 4 verdict(s), 3 PASS, 1 FAIL; 1 disagree(s)" in out


def test_recorded_call_that_disagrees(saved, capsys):
    # Judged by another version of the checks: it said FAIL with other wording; this version says PASS.
    def other_version(raw: dict[str, Any]) -> None:
        v = raw["meta"]["verdicts"][1]
        v.update(ok=False, summary="2 completion(s), 1 duplicate(s)")
    edit(saved, other_version)
    code, out, _ = check(capsys, str(saved))
    assert code == EXIT_DISAGREE, out
    assert "outcome: recorded FAIL, now PASS" in out and "summary: recorded '2 completion(s), 1 duplicate(s)'" in out
    assert out.strip().splitlines()[-1].startswith("RE-JUDGED DISAGREES: 4 verdict(s), 4 PASS, 0 FAIL; 1 disagree")


def test_recorded_check_missing_from_this_version(saved, capsys):
    edit(saved, lambda raw: raw["meta"]["verdicts"][2]["call"].update(fn="harness.checks.client:gone"))
    code, out, _ = check(capsys, str(saved))
    assert code == EXIT_DISAGREE, out
    assert "could not be re-run (DISAGREES): shown as recorded (PASS); this version of the checks has no check " \
           "harness.checks.client:gone" in out


def test_verdict_without_a_call_is_not_recheckable(tmp_path, capsys):
    h = stalled_history()
    own = Verdict("control: the fault took effect", True, "3 RST segments")  # built by the test itself
    path = save(h, [cw.exactly_once(h, token="tok"), own], tmp_path / "h.json")
    code, out, _ = check(capsys, str(path))
    assert code == EXIT_PASS, out
    assert "[PASS] control: the fault took effect: 3 RST segments\n  not re-checkable: shown as recorded (PASS); " \
           "no call was recorded" in out
    assert "1 not re-judged (recorded: 1 PASS, 0 FAIL)" in out
    edit(path, lambda raw: raw["meta"]["verdicts"][1].update(ok=False))
    assert check(capsys, str(path))[0] == EXIT_FAIL  # a recorded FAIL still counts


@pytest.mark.parametrize("content, expected", [
    ('{"name": "x", "events": [', "is not valid JSON"),
    ('[1, 2]', "is JSON but not a history"),
    ('{"name": "x", "t0": 0, "meta": {}, "events": []}', "records no verdicts"),
    ('{"name": "x", "t0": 0, "meta": {"verdicts": [{"ok": true}]}, "events": []}', "meta.verdicts[0] is not a verdict"),
    ('{"name": "x", "t0": 0, "meta": {"verdicts": []}, "events": []}', "nothing to re-judge"),
    ('{"name": "x", "t0": 0, "meta": {"verdicts": []}, "events": [{"t": 1}]}', "an event is malformed"),
])
def test_invalid_input_exits_2_naming_the_problem(tmp_path, capsys, content, expected):
    p = tmp_path / "h.json"
    p.write_text(content)
    code, out, err = check(capsys, str(p))
    assert code == EXIT_INVALID and out == ""
    assert err.startswith("error: ") and expected in err, err


def test_missing_file_exits_2(tmp_path, capsys):
    code, _, err = check(capsys, str(tmp_path / "nope.json"))
    assert code == EXIT_INVALID and "no such file" in err and "--keep-histories" in err


def test_html_draws_the_rejudged_verdicts(saved, tmp_path, capsys):
    out_html = tmp_path / "t.html"
    code, out, _ = check(capsys, str(saved), "--html", str(out_html))
    assert code == EXIT_PASS and f"timeline: {out_html}" in out
    page = out_html.read_text()
    assert "re-judged PASS" in page and "reconnected within 0.500s" in page


# -- field-report scenario histories ---------------------------------------------------------------
SCENARIO_FILE = """
title = "t"
source = ["x#1"]
expected = "pass"
scale = 1.0
duration = 5

[[step]]
at = 1
fault = "abort_stream"
code = "UNAVAILABLE"

[[expect]]
check = "reconnected_within"
after = "step 1"
within = 0.5
"""


def scenario_history(tmp_path: Path, reconnect_after: float) -> Path:
    from harness.repro.expect import evaluate
    from harness.repro.schema import load_scenario
    file = tmp_path / "s.toml"
    file.write_text(textwrap.dedent(SCENARIO_FILE))
    sc = load_scenario(file)
    h = History(f"repro:{sc.name}")
    h.t0 = T0
    h.record(SCENARIO, "scenario_start", t=T0, scale=1.0, title="t", duration_s=5.0)
    h.record(FAKE, "rpc_start", t=T0 + 0.1, method="GetWorkItems", call_id=1)
    h.record(SCENARIO, "step", t=T0 + 1.0, step=1, occurrence=0, phase="start", name="abort_stream")
    h.record(FAKE, "rpc_start", t=T0 + 1.0 + reconnect_after, method="GetWorkItems", call_id=2)
    verdicts = evaluate(sc, h, 0.25)
    # As harness/repro/runner.py stores them.
    h.meta.update({"scenario": str(file), "scale": 1.0, "tolerance_s": 0.25,
                   "verdict": "PASS" if all(v.ok for v in verdicts) else "FAIL", "verdict_reason": "",
                   "verdicts": [{"check": v.check, "ok": v.ok, "summary": v.summary, "measured": v.measured}
                                for v in verdicts]})
    return h.save(tmp_path / "out" / "history.json")


def test_scenario_history_rejudged(tmp_path, capsys):
    code, out, _ = check(capsys, str(scenario_history(tmp_path, 0.3)))
    assert code == EXIT_PASS, out
    assert "field-report scenario" in out and "[PASS] expect 1 (reconnected_within): reconnected within 0.750s" in out
    assert "re-judged: PASS, as recorded" in out


def test_scenario_file_needed(tmp_path, capsys):
    path = scenario_history(tmp_path, 1.2)
    moved = tmp_path / "elsewhere.toml"
    (tmp_path / "s.toml").rename(moved)
    code, _, err = check(capsys, str(path))
    assert code == EXIT_INVALID and "s.toml, which is not here" in err and "--scenario FILE" in err
    code, out, _ = check(capsys, str(path), "--scenario", str(moved))
    assert code == EXIT_FAIL and "[FAIL] expect 1 (reconnected_within)" in out and "as recorded" in out


# -- field-report histories of an expected failure (expected = "fail") ------------------------------
EXPECTED_FAIL_FILE = """
title = "t"
source = ["x#1"]
sdk = "python"
expected = "fail"
scale = 1.0
duration = 5

[[step]]
at = 1
fault = "abort_stream"
code = "UNAVAILABLE"

[[expect]]
check = "reconnected_within"
after = "step 1"
within = 0.5

[[expect]]
check = "reconnected_within"
after = "step 1"
within = 2.0

[expected_failure]
kind = "known-defect"
check = ["expect 1"]
sdks = ["python"]
reason = "the build reconnects late"
report = "https://example.invalid/issues/1"
"""


def expected_failure_history(tmp_path: Path, reconnect_after: float, sdk: str = "python") -> Path:
    """A history as `python -m harness repro` saves it for EXPECTED_FAIL_FILE run against ``sdk``:
    expect 1 (within 0.5 s, the stated failure) and expect 2 (within 2 s) judged by the runner."""
    from harness.repro.expect import evaluate
    from harness.repro.runner import judge_outcome
    from harness.repro.schema import load_scenario
    file = tmp_path / "ef.toml"
    file.write_text(textwrap.dedent(EXPECTED_FAIL_FILE))
    sc = load_scenario(file)
    h = History(f"repro:{sc.name}")
    h.t0 = T0
    h.record(SCENARIO, "scenario_start", t=T0, scale=1.0, title="t", duration_s=5.0)
    h.record(FAKE, "rpc_start", t=T0 + 0.1, method="GetWorkItems", call_id=1)
    h.record(SCENARIO, "step", t=T0 + 1.0, step=1, occurrence=0, phase="start", name="abort_stream")
    h.record(FAKE, "rpc_start", t=T0 + 1.0 + reconnect_after, method="GetWorkItems", call_id=2)
    verdicts = evaluate(sc, h, 0.25)
    verdict, reason = judge_outcome(sc, verdicts, sdk)
    ef = sc.expected_failure
    assert ef is not None
    # As harness/repro/runner.py stores them (_meta and _finish).
    h.meta.update({"scenario": str(file), "scale": 1.0, "tolerance_s": 0.25, "expected": "fail",
                   "expected_failure": {"kind": ef.kind, "expects": list(ef.expects), "reason": ef.reason,
                                        "report": ef.report, "sdks": list(ef.sdks)},
                   "sdk_under_test": sdk, "verdict": verdict, "verdict_reason": reason,
                   "verdicts": [{"check": v.check, "ok": v.ok, "summary": v.summary, "measured": v.measured}
                                for v in verdicts]})
    return h.save(tmp_path / "out" / "history.json")


def test_exit_codes_are_those_of_repro():
    from harness import recheck
    from harness.repro import runner
    assert (recheck.PASS, recheck.REPRODUCED, recheck.FIXED) == (runner.PASS, runner.REPRODUCED, runner.FIXED)
    assert recheck.EXIT_FIXED == runner.EXIT_CODES[runner.FIXED]
    assert EXIT_PASS == runner.EXIT_CODES[runner.REPRODUCED] and EXIT_FAIL == runner.EXIT_CODES[runner.FAIL]


def test_reproduced_history_rejudged_reproduced(tmp_path, capsys):
    # Reconnected 1.2 s after the fault: expect 1 (0.5 s, the stated failure) fails, expect 2 (2 s) passes.
    path = expected_failure_history(tmp_path, 1.2)
    assert json.loads(path.read_text())["meta"]["verdict"] == "REPRODUCED"
    code, out, _ = check(capsys, str(path))
    assert code == EXIT_PASS, out
    assert "[FAIL] expect 1 (reconnected_within)" in out and "[PASS] expect 2 (reconnected_within)" in out
    assert out.count("as recorded") == 2
    assert "judged as the run was, for the SDK it ran against (python)" in out
    last = out.strip().splitlines()
    assert last[-2].startswith("RE-JUDGED REPRODUCED: 2 verdict(s), 1 PASS, 1 FAIL"), out
    assert last[-1].startswith("reproduced (expected failure): the known-defect (https://example.invalid/issues/1)")
    assert "the build reconnects late" in last[-1]


def test_expected_failure_that_passes_now_is_fixed_exit_6(tmp_path, capsys):
    from harness.recheck import EXIT_FIXED
    path = expected_failure_history(tmp_path, 1.2)

    def earlier_reconnect(raw: dict[str, Any]) -> None:  # as if the build had reconnected in time
        ev = next(e for e in raw["events"] if e["kind"] == "rpc_start" and e["data"]["call_id"] == 2)
        ev["t"] = T0 + 1.3
    edit(path, earlier_reconnect)
    code, out, _ = check(capsys, str(path))
    assert code == EXIT_FIXED, out
    assert "outcome: recorded FAIL, now PASS" in out  # the disagreement is still listed
    assert "RE-JUDGED FIXED: 2 verdict(s), 2 PASS, 0 FAIL" in out
    assert "FIXED: the build no longer reproduces the known-defect" in out and "Update the file" in out


def test_expected_failure_with_another_check_failing_is_fail(tmp_path, capsys):
    # Reconnected 3 s after the fault: expect 2 fails too, so the run did not fail for the stated reason.
    path = expected_failure_history(tmp_path, 3.0)
    code, out, _ = check(capsys, str(path))
    assert code == EXIT_FAIL, out
    assert "RE-JUDGED FAIL: 2 verdict(s), 0 PASS, 2 FAIL" in out
    assert "expected to fail only for the known-defect" in out and "expect 2 (reconnected_within): reconnected within 2.250s failed too" in out


def test_expected_failure_of_another_sdk_is_judged_plainly(tmp_path, capsys):
    # The file's expected failure holds for python only: a js run that failed expect 1 is a plain FAIL.
    path = expected_failure_history(tmp_path, 1.2, sdk="js")
    code, out, _ = check(capsys, str(path))
    assert code == EXIT_FAIL, out
    assert "RE-JUDGED FAIL: 2 verdict(s), 1 PASS, 1 FAIL" in out and "for the SDK it ran against (js)" in out


def test_patched_build_is_named_in_the_header(tmp_path, capsys):
    path = expected_failure_history(tmp_path, 1.2)
    edit(path, lambda raw: raw["meta"].update(sdk_patches=["worker_hello_no_deadline.py"]))
    code, out, _ = check(capsys, str(path))
    assert code == EXIT_PASS and "SDK patched: worker_hello_no_deadline.py (a deliberately broken variant)" in out


def test_expected_failure_without_the_sdk_it_ran_against_exits_2(tmp_path, capsys):
    path = expected_failure_history(tmp_path, 1.2)
    edit(path, lambda raw: raw["meta"].pop("sdk_under_test"))
    code, out, err = check(capsys, str(path))
    assert code == EXIT_INVALID and out == ""
    assert "meta.sdk_under_test" in err and "python -m harness repro" in err, err
