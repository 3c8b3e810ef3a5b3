"""The suite must FAIL on SDK builds that break its rules, and give the known verdicts on a
known release.

Each case runs a conformance scenario in a separate pytest process (exactly as a user runs
it) against durabletask 1.12.0 patched with a deliberately broken variant from
``harness/drivers/python/mutants/``, and checks that the run fails AND that it fails for the right reason:
a failed verdict of the requirement the mutant breaks. The verdicts are data: every test's call
carries them in the ``verdicts`` property of the ``--junitxml`` file (harness/report/attach.py), so
a case names the start of the failed check (``Verdict.check``), not a text to find in the output
(the ``[FAIL] ...`` lines people read). A scenario that passed with a mutant would be a check that
cannot fail.

Runs are strict (pytest ``--strict``): a broken variant of a SHOULD requirement must fail the run too,
although a failed SHOULD alone is NON-STRICT and passes the gate without ``--strict``.

The reference case runs the unpatched release and compares every test's status (PASS, FAIL, NOT
IMPLEMENTED, NON-STRICT, INCONCLUSIVE, NOT APPLICABLE, NOT RUN: harness/report/statuses.py) and, for
every test that does not pass, the checks of its failed verdicts with
``tests/conformance/reference_verdicts.json``; a difference means either the suite or the SDK changed, and
the finding list in docs/FINDINGS.md must be updated with evidence, never the check loosened.
Regenerate with ``python -m tests.conformance.regen_reference VERSION --write [-n 2]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import NamedTuple

import pytest

from harness.checks.verdict import Verdict
from harness.report.attach import VERDICTS, decode_verdicts
from harness.report.statuses import NOT_APPLICABLE, NOT_APPLICABLE_PREFIX, NOT_RUN, PASS, PROP_STATUS

ROOT = Path(__file__).resolve().parents[2]
MUTANTS = ROOT / "harness" / "drivers" / "python" / "mutants"
SDK_VERSION = "1.12.0"

# (mutant, target, how the check of a failed verdict starts: the broken requirement's; "" = any)
CASES = [
    ("no_silent_timeout.py", "conformance/test_silent_stall.py",
     "stream abandoned after the silent-disconnect timeout"),
    ("no_reconnect.py", "conformance/test_silent_stall.py", "reconnected within"),
    ("no_reconnect.py", "conformance/test_tcp_reset.py", "next connect attempt within"),
    ("no_backoff_growth.py", "conformance/test_tcp_reset.py", "next connect attempt within"),
    ("no_reconnect.py", "conformance/test_graceful_close.py::test_ok_close[ok-before-first]",
     "next connect attempt within"),
    ("long_poll_counts.py", "conformance/test_long_poll_deadline.py::"
     "test_long_poll_deadline_is_not_a_transport_failure[sync]",
     "no channel recreation (during repeated long-poll DEADLINE_EXCEEDED)"),
    ("long_poll_ignores_timeout.py", "conformance/test_long_poll_deadline.py::"
     "test_long_poll_ends_at_callers_timeout[sync]",
     "long polls end at the caller's timeout"),
    ("graceful_counted.py", "conformance/test_graceful_close.py::test_ok_close[ok-before-first]",
     "no channel recreation (one UNAVAILABLE after 2 graceful closes"),
    ("graceful_counted.py", "conformance/test_graceful_close.py::test_ok_close[ok-before-first]",
     "a fresh SDK-owned channel (after a graceful close (P))"),
]

REFERENCE_FILE = Path(__file__).parent / "reference_verdicts.json"
# Statuses of unpatched releases on the whole suite; every status but PASS and NOT APPLICABLE there is
# a finding (docs/FINDINGS.md). Format: {version: {test: {"status": S, "failed_checks": [check, ...]}}},
# "failed_checks" only for a test that does not pass (sorted; empty when no verdict failed, e.g. NOT
# APPLICABLE, or NOT IMPLEMENTED without running).
REFERENCE = {k: v for k, v in json.loads(REFERENCE_FILE.read_text()).items() if not k.startswith("_")}


class SuiteRun(NamedTuple):
    code: int  # pytest's exit code (it follows the gate)
    out: str  # its stdout + stderr
    outcomes: dict[str, str]  # test -> "passed", "failed", "not applicable" or "skipped: <reason>" (pytest's)
    verdicts: dict[str, list[Verdict]]  # test -> every verdict its call judged (junit property "verdicts")
    statuses: dict[str, str] = {}  # test -> its status (junit property "status", harness/report/statuses.py)
    requirements: dict[str, list[str]] = {}  # test -> the requirement IDs it cites (junit "requirement")


def run_suite(tmp_path: Path, target: str, *patches: str, sdk_version: str = SDK_VERSION,
              strict: bool = True, args: tuple[str, ...] = (), timeout: float = 600) -> SuiteRun:
    """Run ``target`` in a child pytest, as a user does, against ``sdk_version`` patched with ``patches``
    (mutant file names); ``args`` are more pytest arguments (e.g. ``-n 2``)."""
    junit = tmp_path / "junit.xml"
    cmd = [sys.executable, "-m", "pytest", target, "--sdk=python", f"--sdk-version={sdk_version}",
           "-p", "no:cacheprovider", "-q", f"--junitxml={junit}", f"--history-dir={tmp_path / 'histories'}",
           *(["--strict"] if strict else []), *args]
    for p in patches:
        cmd += ["--sdk-patch", str(MUTANTS / p)]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    return read_junit(junit, code=proc.returncode, out=proc.stdout + proc.stderr)


def read_junit(junit: Path, *, code: int = 0, out: str = "") -> SuiteRun:
    """A run's verdicts from its junit file (the plugin's properties); empty when there is none."""
    outcomes: dict[str, str] = {}
    verdicts: dict[str, list[Verdict]] = {}
    statuses: dict[str, str] = {}
    requirements: dict[str, list[str]] = {}
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            name = f"{case.get('classname')}::{case.get('name')}"
            outcomes[name], statuses[name] = _outcome_and_status(case)
            props = [p.get("value", "") for p in case.iter("property") if p.get("name") == VERDICTS]
            verdicts[name] = decode_verdicts(props[-1]) if props else []
            requirements[name] = [p.get("value", "") for p in case.iter("property") if p.get("name") == "requirement"]
    return SuiteRun(code, out, outcomes, verdicts, statuses, requirements)


def _outcome_and_status(case: ET.Element) -> tuple[str, str]:
    """pytest's outcome of a junit test case, and its status: the plugin's ``status`` property (the
    deciding phase's), FAIL when a later phase errored, else what the outcome alone says."""
    outcome, reason = "passed", ""
    if case.find("failure") is not None or case.find("error") is not None:
        outcome = "failed"
    elif case.find("skipped") is not None:
        # Only a declared capability gap counts; any other skip is a defect of the suite.
        reason = case.find("skipped").get("message", "")
        outcome = "not applicable" if NOT_APPLICABLE_PREFIX in reason else f"skipped: {reason}"
    props = [p.get("value", "") for p in case.iter("property") if p.get("name") == PROP_STATUS]
    status = props[-1] if props else {"passed": PASS, "not applicable": NOT_APPLICABLE}.get(outcome, NOT_RUN)
    if outcome == "failed" and status == PASS:  # e.g. a teardown error after a passing call
        status = "FAIL"
    return outcome, status


def pinned(run: SuiteRun) -> dict[str, dict[str, object]]:
    """A run in reference_verdicts.json's format: per test its status and, unless it passed, the
    sorted checks of its failed verdicts."""
    out: dict[str, dict[str, object]] = {}
    for test, status in sorted(run.statuses.items()):
        entry: dict[str, object] = {"status": status}
        if status != PASS:
            entry["failed_checks"] = sorted({v.check for v in run.verdicts.get(test, []) if not v.ok})
        out[test] = entry
    return out


def failed_checks(run: SuiteRun) -> list[str]:
    """The check of every failed verdict of the run, test by test."""
    return [v.check for vs in run.verdicts.values() for v in vs if not v.ok]


def assert_failed_verdict(run: SuiteRun, expected: str) -> None:
    """Some failed verdict's check starts with ``expected``."""
    failed = failed_checks(run)
    assert any(c.startswith(expected) for c in failed), \
        f"the run failed, but no failed verdict's check starts with {expected!r}; failed: {failed}\n{run.out[-6000:]}"


@pytest.mark.parametrize("mutant, target, expected", CASES,
                         ids=[f"{m[:-3]}-{t.split('/')[-1].split('::')[0][5:-3]}" for m, t, _ in CASES])
def test_suite_fails_on_broken_variant(tmp_path, mutant, target, expected):
    assert_fails_for_the_right_reason(tmp_path, mutant, target, expected)


KILL_LOG = "DT_KILL_LOG"  # env: a file each kill is appended to (JSON lines), for kill_table.py


def assert_killed(tmp_path: Path, patches: tuple[str, ...], target: str,
                  expected: str | tuple[str, ...]) -> SuiteRun:
    """The run against ``patches`` fails (exit 1) and, for each of ``expected``, with a failed verdict
    whose check starts with it and which is NOT a control (a failed control alone makes a run
    INCONCLUSIVE, which proves nothing about the requirement). Shared by every
    tests/conformance/test_broken_variants*.py. With $DT_KILL_LOG set, each kill is recorded there with
    the requirements of the killing verdicts (``python -m tests.conformance.kill_table`` tabulates them)."""
    run = run_suite(tmp_path, target, *patches)
    assert run.code == 1, f"expected the suite to FAIL with {patches} (exit 1), got {run.code}:\n{run.out[-4000:]}"
    killed: set[str] = set()
    for prefix in (expected,) if isinstance(expected, str) else expected:
        killers = [(test, v) for test, vs in run.verdicts.items() for v in vs
                   if not v.ok and not v.control and v.check.startswith(prefix)]
        assert killers, (f"no failed non-control verdict's check starts with {prefix!r}; failed: "
                         f"{failed_checks(run)}\n{run.out[-6000:]}")
        for test, v in killers:
            killed.update([v.requirement] if v.requirement else run.requirements.get(test, []))
    if os.environ.get(KILL_LOG):
        with open(os.environ[KILL_LOG], "a") as f:
            f.write(json.dumps({"patches": list(patches), "target": target, "expected": expected,
                                "requirements": sorted(killed)}) + "\n")
    return run


def assert_fails_for_the_right_reason(tmp_path: Path, mutant: str, target: str, expected: str) -> None:
    """``assert_killed`` with one mutant."""
    assert_killed(tmp_path, (mutant,), target, expected)


def test_a_renamed_option_fails_the_gate(tmp_path):
    """One documented worker option renamed, behaviour intact (mutant opt_renamed_field.py): the driver
    cannot configure the build, its tests run at the defaults, and OPT-001 fails the gate."""
    run = run_suite(tmp_path, "conformance/test_options.py", "opt_renamed_field.py", strict=False)
    assert run.code == 1, run.out[-4000:]
    assert_failed_verdict(run, "documented worker resiliency options (GrpcWorkerResiliencyOptions)")
    assert run.statuses == {"conformance.test_options::test_worker_options_are_documented": "NOT IMPLEMENTED",
                            "conformance.test_options::test_client_options_are_documented": "PASS"}, run.statuses
    assert "conformance gate FAIL" in run.out and "SDK patched: opt_renamed_field.py" in run.out


def test_a_changed_client_default_fails_the_gate(tmp_path):
    """A documented client default changed (mutant opt_client_default_changed.py): the fields are all
    there, the build is configurable, and OPT-002 fails (FAIL, not NOT IMPLEMENTED)."""
    run = run_suite(tmp_path, "conformance/test_options.py", "opt_client_default_changed.py", strict=False)
    assert run.code == 1, run.out[-4000:]
    assert_failed_verdict(run, "documented client resiliency options (GrpcClientResiliencyOptions)")
    assert run.statuses == {"conformance.test_options::test_worker_options_are_documented": "PASS",
                            "conformance.test_options::test_client_options_are_documented": "FAIL"}, run.statuses


@pytest.mark.parametrize("version", sorted(REFERENCE))
def test_reference_release_verdicts(tmp_path, version):
    pins = REFERENCE[version]
    assert all(isinstance(v, dict) and "status" in v for v in pins.values()), \
        (f"reference_verdicts.json[{version}] is not in the status format; regenerate it: "
         f"python -m tests.conformance.regen_reference {version} --write")
    run = run_suite(tmp_path, "conformance", sdk_version=version, args=("-n", "2"), timeout=7200)
    assert pinned(run) == pins, run.out[-6000:]
    gate_passes = all(v["status"] in (PASS, NOT_APPLICABLE) for v in pins.values())
    assert run.code == (0 if gate_passes else 1)
