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

The reference case runs the unpatched release and compares every verdict with
``tests/conformance/reference_verdicts.json``; a difference means either the suite or the SDK changed, and the
finding list in docs/FINDINGS.md must be updated with evidence, never the check loosened.
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

ROOT = Path(__file__).resolve().parents[2]
MUTANTS = ROOT / "harness" / "drivers" / "python" / "mutants"
SDK_VERSION = "1.12.0"

# (mutant, target, how the check of a failed verdict starts: the broken requirement's; "" = any)
CASES = [
    ("no_silent_timeout.py", "conformance/test_silent_stall.py",
     "stream abandoned after the silent-disconnect timeout"),
    ("no_reconnect.py", "conformance/test_silent_stall.py", "reconnected within"),
    ("no_reconnect.py", "conformance/test_tcp_reset.py", "next Hello within"),
    ("no_backoff_growth.py", "conformance/test_tcp_reset.py", "next Hello within"),
    ("no_reconnect.py", "conformance/test_graceful_close.py", ""),
    ("long_poll_counts.py", "conformance/test_long_poll_deadline.py::"
     "test_long_poll_deadline_is_not_a_transport_failure[sync]",
     "no channel recreation (during repeated long-poll DEADLINE_EXCEEDED)"),
    ("long_poll_ignores_timeout.py", "conformance/test_long_poll_deadline.py::"
     "test_long_poll_deadline_is_not_a_transport_failure[sync]",
     "long polls end at the caller's timeout"),
    ("graceful_counted.py", "conformance/test_graceful_close.py::test_ok_close[ok-before-first]",
     "no channel recreation (one UNAVAILABLE after two graceful closes"),
    ("graceful_counted.py", "conformance/test_graceful_close.py::test_ok_close[ok-before-first]",
     "a fresh SDK-owned channel (after a graceful close (P))"),
]

# Verdicts of unpatched releases on the whole suite; every "failed" there is a finding.
REFERENCE = {k: v for k, v in json.loads((Path(__file__).parent / "reference_verdicts.json").read_text()).items()
             if not k.startswith("_")}


class SuiteRun(NamedTuple):
    code: int  # pytest's exit code
    out: str  # its stdout + stderr
    outcomes: dict[str, str]  # test -> "passed", "failed", "not applicable" or "skipped: <reason>"
    verdicts: dict[str, list[Verdict]]  # test -> every verdict its call judged (junit property "verdicts")


def run_suite(tmp_path: Path, target: str, *patches: str, sdk_version: str = SDK_VERSION) -> SuiteRun:
    junit = tmp_path / "junit.xml"
    cmd = [sys.executable, "-m", "pytest", target, "--sdk=python", f"--sdk-version={sdk_version}",
           "-p", "no:cacheprovider", "-q", f"--junitxml={junit}", f"--history-dir={tmp_path / 'histories'}"]
    for p in patches:
        cmd += ["--sdk-patch", str(MUTANTS / p)]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    outcomes: dict[str, str] = {}
    verdicts: dict[str, list[Verdict]] = {}
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            outcome = "passed"
            if case.find("failure") is not None or case.find("error") is not None:
                outcome = "failed"
            elif case.find("skipped") is not None:
                # Only a declared capability gap counts; any other skip is a defect of the suite.
                reason = case.find("skipped").get("message", "")
                outcome = "not applicable" if "NOT APPLICABLE" in reason else f"skipped: {reason}"
            name = f"{case.get('classname')}::{case.get('name')}"
            outcomes[name] = outcome
            props = [p.get("value", "") for p in case.iter("property") if p.get("name") == VERDICTS]
            verdicts[name] = decode_verdicts(props[-1]) if props else []
    return SuiteRun(proc.returncode, proc.stdout + proc.stderr, outcomes, verdicts)


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


def assert_fails_for_the_right_reason(tmp_path: Path, mutant: str, target: str, expected: str) -> None:
    """The suite run against ``mutant`` fails (exit 1), and with a failed verdict of the broken requirement
    (its check starts with ``expected``). Shared by every tests/conformance/test_broken_variants*.py."""
    run = run_suite(tmp_path, target, mutant)
    assert run.code == 1, f"expected the suite to FAIL with {mutant} (exit 1), got {run.code}:\n{run.out[-4000:]}"
    assert_failed_verdict(run, expected)
    assert run.outcomes and "failed" in run.outcomes.values()


@pytest.mark.parametrize("version", sorted(REFERENCE))
def test_reference_release_verdicts(tmp_path, version):
    code, out, outcomes, _ = run_suite(tmp_path, "conformance", sdk_version=version)
    assert outcomes == REFERENCE[version], out[-6000:]
    assert code == (1 if "failed" in REFERENCE[version].values() else 0)
