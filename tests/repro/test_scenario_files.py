"""Scenario files (harness/repro, scenarios/): parsing, validation errors, time scaling, and one real
end-to-end run through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.repro import schema
from harness.repro.schema import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[2]
FIELD = ROOT / "scenarios" / "field"

GOOD = """
title = "t"
source = ["x#1"]
expected = "pass"
scale = 0.01
duration = 300

[server]
health_ping_every = 30

[worker_options]
hello_timeout_seconds = 20
channel_recreate_failure_threshold = 3

[workload.activity]
at = 10
duration_s = 60

[[step]]
at = 240
fault = "abort_stream"
code = "UNAVAILABLE"

[[step]]
at = 100
fault = "blackhole"
for = 50

[[expect]]
check = "reconnected_within"
after = "step 1"
within = ["first_reconnect", 2]
"""


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def errors_of(tmp_path: Path, text: str) -> str:
    p = write(tmp_path, text)
    with pytest.raises(ScenarioError) as ei:
        load_scenario(p)
    msg = str(ei.value)
    assert all(line.startswith(str(p) + ": ") for line in msg.splitlines()), msg
    return msg


# -- parsing and scaling ---------------------------------------------------------------------------
def test_good_file_parses_and_scales_every_time(tmp_path):
    sc = load_scenario(write(tmp_path, GOOD))
    assert sc.scale == 0.01 and sc.file_scale == 0.01
    assert sc.duration == pytest.approx(3.0)
    assert sc.health_ping_every == pytest.approx(0.3)
    s1, s2 = sc.steps
    assert s1.at == pytest.approx(2.4) and s1.raw_at == 240 and s1.params == {"code": "UNAVAILABLE", "message": ""}
    assert s2.for_ == pytest.approx(0.5) and s2.params["stream"] == "both"
    assert sc.workload["activity"] == {"at": pytest.approx(0.1), "duration_s": pytest.approx(0.6), "count": 1}
    # SDK options: the file's values and the documented defaults, all scaled; counts are not
    w = sc.worker_options
    assert w["hello_timeout_seconds"] == pytest.approx(0.2)
    assert w["silent_disconnect_timeout_seconds"] == pytest.approx(1.2)
    assert w["reconnect_backoff_base_seconds"] == pytest.approx(0.01)
    assert w["reconnect_backoff_cap_seconds"] == pytest.approx(0.3)
    assert w["channel_recreate_failure_threshold"] == 3
    # a `within` list: numbers scaled, names from the scaled options: min(cap, 2*base) + 2 s
    assert sc.within(sc.expects[0].params["within"]) == pytest.approx(0.02 + 0.02)


def test_scale_override_and_unscaled_defaults(tmp_path):
    p = write(tmp_path, GOOD.replace("[worker_options]\nhello_timeout_seconds = 20\n"
                                     "channel_recreate_failure_threshold = 3\n", ""))
    sc = load_scenario(p, scale=1.0)
    assert sc.scale == 1.0 and sc.file_scale == 0.01
    assert sc.steps[0].at == 240 and sc.duration == 300
    assert sc.worker_options is None  # scale 1 and no [worker_options]: the SDK's own defaults
    sc2 = load_scenario(p, scale=0.1)
    assert sc2.worker_options["hello_timeout_seconds"] == pytest.approx(3.0)
    assert sc2.field_time(sc2.steps[0].at) == pytest.approx(240)


def test_server_lease_mode(tmp_path):
    sc = load_scenario(write(tmp_path, GOOD))
    assert sc.lease_mode == "at_once" and sc.lease_s is None  # the default: redeliver at once
    ping = "health_ping_every = 30\n"
    sc = load_scenario(write(tmp_path, GOOD.replace(ping, ping + 'lease_mode = "expiry"\nlease_s = 90\n')))
    assert sc.lease_mode == "expiry" and sc.lease_s == pytest.approx(0.9)  # a time: scaled
    assert load_scenario(write(tmp_path, GOOD.replace(ping, ping + 'lease_mode = "never"\n'))).lease_mode == "never"
    cases = {'lease_mode = "expiry"\n': "[server]: field 'lease_s': required",
             'lease_s = 5\n': "[server]: field 'lease_s': only meaningful with lease_mode = \"expiry\"",
             'lease_mode = "later"\n': "[server]: field 'lease_mode': unknown value 'later'"}
    for extra, expected in cases.items():
        assert expected in errors_of(tmp_path, GOOD.replace(ping, ping + extra)), extra


def test_time_rule_is_the_naming_rule():
    for key in ("at", "for", "every", "within", "duration", "finishes_at", "health_ping_every", "after_s",
                "hello_timeout_seconds"):
        assert schema.is_time_key(key)
    for key in ("count", "repeat", "bytes", "rate_kbps", "at_most", "code"):
        assert not schema.is_time_key(key)


def test_repeated_step_occurrences(tmp_path):
    sc = load_scenario(write(tmp_path, GOOD.replace('at = 240\nfault = "abort_stream"',
                                                    'at = 60\nevery = 60\nrepeat = 3\nfault = "abort_stream"')))
    assert sc.steps[0].occurrences() == pytest.approx([0.6, 1.2, 1.8])


def test_every_shipped_file_is_valid_and_cites_a_source():
    files = sorted(FIELD.glob("*.toml"))
    assert len(files) >= 10
    for f in files:
        sc = load_scenario(f)
        assert sc.source and sc.sdk is not None, f"{f.name}: cite the report and name its SDK (sdk = ...)"
        assert sc.expected == "pass" or sc.expected_failure is not None, f
        assert sc.duration <= 15.0, f"{f.name} runs {sc.duration:.1f}s at its default scale"


# -- validation errors -----------------------------------------------------------------------------
def test_bad_status_names_file_step_and_field(tmp_path):
    msg = errors_of(tmp_path, GOOD.replace('code = "UNAVAILABLE"', 'code = "UNAVAILBLE"'))
    assert "step 1 (at=240s): field 'code': unknown status 'UNAVAILBLE'" in msg
    assert "did you mean 'UNAVAILABLE'" in msg and "valid: OK, CANCELLED," in msg


def test_unknown_fault_lists_the_valid_ones(tmp_path):
    msg = errors_of(tmp_path, GOOD.replace('fault = "blackhole"', 'fault = "blackhol"'))
    assert "step 2 (at=100s): field 'fault': unknown fault 'blackhol'" in msg
    for name in schema.FAULTS:
        assert name in msg


def test_unknown_check_lists_the_valid_ones(tmp_path):
    msg = errors_of(tmp_path, GOOD.replace('check = "reconnected_within"', 'check = "reconnects"'))
    assert "expect 1 (reconnects): field 'check': unknown check 'reconnects'" in msg
    for name in schema.CHECKS:
        assert name in msg


def test_field_errors(tmp_path):
    cases = {
        'for = 50': ('for = "soon"', "step 2 (at=100s): field 'for': expected a number of seconds"),
        'after = "step 1"': ('after = "step 9"', "field 'after': 'step 9': there is no step 9"),
        'within = ["first_reconnect", 2]': ('within = "fast"', "field 'within': unknown window 'fast'"),
        'duration_s = 60': ('duration_s = -1', "[workload.activity]: field 'duration_s': must be >= 0"),
        'hello_timeout_seconds = 20': ('hello_timeout = 20', "[worker_options]: field 'hello_timeout': unknown field"),
    }
    for old, (new, expected) in cases.items():
        assert expected in errors_of(tmp_path, GOOD.replace(old, new)), (old, new)


def test_missing_required_fields_and_both_fault_and_action(tmp_path):
    msg = errors_of(tmp_path, GOOD.replace('code = "UNAVAILABLE"', "").replace('title = "t"', ""))
    assert "top level: field 'title': required field is missing" in msg
    assert "step 1 (at=240s): field 'code': required field is missing" in msg
    msg = errors_of(tmp_path, GOOD.replace('fault = "blackhole"', 'fault = "blackhole"\naction = "probe"'))
    assert "step 2 (at=100s): field 'fault': give exactly one of 'fault' or 'action'" in msg


def test_top_level_key_after_a_table_is_explained(tmp_path):
    msg = errors_of(tmp_path, GOOD.replace("duration = 300\n", "") + "duration = 300\n")
    assert "field 'duration'" in msg and "must come before the first [table]" in msg


def test_not_toml_and_all_errors_at_once(tmp_path):
    assert "not valid TOML" in errors_of(tmp_path, "title = \n")
    msg = errors_of(tmp_path, GOOD.replace('code = "UNAVAILABLE"', 'code = "X"').replace("for = 50", "for = -5"))
    assert len(msg.splitlines()) == 2


def test_a_list_where_one_name_belongs_is_a_validation_error(tmp_path):
    msg = errors_of(tmp_path, GOOD.replace('fault = "blackhole"', 'fault = ["blackhole"]'))
    assert "field 'fault': expected one name (a string), got ['blackhole']" in msg


def test_nothing_is_started_before_the_file_is_valid(tmp_path, monkeypatch):
    """An invalid file: the CLI exits 2 naming the error and never resolves the SDK nor starts a part."""
    import harness.repro.runner as runner
    import harness.sdk.python as sdk
    from harness.__main__ import main

    def boom(*a, **k):
        raise AssertionError("something was started for an invalid file")

    monkeypatch.setattr(sdk, "resolve_python_sdk", boom)
    monkeypatch.setattr(runner.ScenarioRun, "__init__", boom)
    bad = write(tmp_path, GOOD.replace('fault = "blackhole"', 'fault = "blackhol"'))
    good = write(tmp_path, GOOD, "good.toml")
    assert main(["repro", str(good), str(bad), "--sdk=python"]) == 2


def test_vocabulary_lists_every_kind():
    text = schema.vocabulary()
    for name in list(schema.STEP_KINDS) + list(schema.CHECKS):
        assert f"  {name}:" in text
    assert "FAULTS (HTTP/2 frames" in text and "  rst_stream:" in text  # real frames now, no approximation


# -- one real run through the CLI ------------------------------------------------------------------
@pytest.mark.slow
def test_cli_end_to_end(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "harness", "repro",
                           str(FIELD / "js69_hello_never_answers.toml"), "--sdk=python", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "VERDICT: PASS" in proc.stdout and "scale:    0.014" in proc.stdout
    hist = json.loads((out / "history.json").read_text())
    assert hist["meta"]["scale"] == 0.014 and hist["meta"]["verdict"] == "PASS"
    assert any(e["kind"] == "step" for e in hist["events"])
    assert (out / "timeline.html").is_file() and (out / "timeline.txt").is_file()
    assert "<svg" in (out / "timeline.html").read_text()
    # the exit code follows the verdict: the same file with a bound no build can meet FAILs
    impossible = tmp_path / "impossible.toml"
    impossible.write_text((FIELD / "js69_hello_never_answers.toml").read_text()
                          .replace('within = ["hello_timeout", "first_reconnect"]', "within = 0"))
    proc = subprocess.run([sys.executable, "-m", "harness", "repro", str(impossible), "--sdk=python",
                           "--out", str(tmp_path / "out2"), "--timing-tolerance", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "VERDICT: FAIL" in proc.stdout
    assert json.loads((tmp_path / "out2" / "history.json").read_text())["meta"]["verdict"] == "FAIL"
