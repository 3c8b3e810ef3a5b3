"""The suite must FAIL on SDK builds that break its rules, and give the known verdicts on a
known release.

Each case runs a conformance scenario in a separate pytest process (exactly as a user runs
it) against durabletask 1.12.0 patched with a deliberately broken variant from
``harness/drivers/python/mutants/``, and checks that the run fails AND that it fails for the right reason:
the verdict line of the requirement the mutant breaks. A scenario that passed with a mutant
would be a check that cannot fail.

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

import pytest

ROOT = Path(__file__).resolve().parents[2]
MUTANTS = ROOT / "harness" / "drivers" / "python" / "mutants"
SDK_VERSION = "1.12.0"

# (mutant, target, text that must appear in the failure: the broken requirement's verdict)
CASES = [
    ("no_silent_timeout.py", "conformance/test_silent_stall.py",
     "[FAIL] stream abandoned after the silent-disconnect timeout"),
    ("no_reconnect.py", "conformance/test_silent_stall.py", "[FAIL] reconnected within"),
    ("no_reconnect.py", "conformance/test_tcp_reset.py", "[FAIL] next Hello within"),
    ("no_backoff_growth.py", "conformance/test_tcp_reset.py", "[FAIL] next Hello within"),
    ("no_reconnect.py", "conformance/test_graceful_close.py", "[FAIL]"),
    ("long_poll_counts.py", "conformance/test_long_poll_deadline.py::"
     "test_long_poll_deadline_is_not_a_transport_failure[sync]",
     "[FAIL] no channel recreation (during repeated long-poll DEADLINE_EXCEEDED)"),
    ("long_poll_ignores_timeout.py", "conformance/test_long_poll_deadline.py::"
     "test_long_poll_deadline_is_not_a_transport_failure[sync]",
     "[FAIL] long polls end at the caller's timeout"),
    ("graceful_counted.py", "conformance/test_graceful_close.py::test_ok_close[ok-before-first]",
     "[FAIL] no channel recreation (one UNAVAILABLE after two graceful closes"),
    ("graceful_counted.py", "conformance/test_graceful_close.py::test_ok_close[ok-before-first]",
     "[FAIL] a fresh SDK-owned channel (after a graceful close (P))"),
]

# Verdicts of unpatched releases on the whole suite; every "failed" there is a finding.
REFERENCE = {k: v for k, v in json.loads((Path(__file__).parent / "reference_verdicts.json").read_text()).items()
             if not k.startswith("_")}


def run_suite(tmp_path: Path, target: str, *patches: str,
              sdk_version: str = SDK_VERSION) -> tuple[int, str, dict[str, str]]:
    junit = tmp_path / "junit.xml"
    cmd = [sys.executable, "-m", "pytest", target, "--sdk=python", f"--sdk-version={sdk_version}",
           "-p", "no:cacheprovider", "-q", f"--junitxml={junit}", f"--history-dir={tmp_path / 'histories'}"]
    for p in patches:
        cmd += ["--sdk-patch", str(MUTANTS / p)]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    verdicts: dict[str, str] = {}
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            outcome = "passed"
            if case.find("failure") is not None or case.find("error") is not None:
                outcome = "failed"
            elif case.find("skipped") is not None:
                # Only a declared capability gap counts; any other skip is a defect of the suite.
                reason = case.find("skipped").get("message", "")
                outcome = "not applicable" if "NOT APPLICABLE" in reason else f"skipped: {reason}"
            verdicts[f"{case.get('classname')}::{case.get('name')}"] = outcome
    return proc.returncode, proc.stdout + proc.stderr, verdicts


@pytest.mark.parametrize("mutant, target, expected", CASES,
                         ids=[f"{m[:-3]}-{t.split('/')[-1].split('::')[0][5:-3]}" for m, t, _ in CASES])
def test_suite_fails_on_broken_variant(tmp_path, mutant, target, expected):
    assert_fails_for_the_right_reason(tmp_path, mutant, target, expected)


def assert_fails_for_the_right_reason(tmp_path: Path, mutant: str, target: str, expected: str) -> None:
    """The suite run against ``mutant`` fails (exit 1), and with the broken requirement's verdict line.
    Shared by every tests/conformance/test_broken_variants*.py."""
    code, out, verdicts = run_suite(tmp_path, target, mutant)
    assert code == 1, f"expected the suite to FAIL with {mutant} (exit 1), got {code}:\n{out[-4000:]}"
    assert expected in out, f"the run failed, but not with {expected!r}:\n{out[-6000:]}"
    assert verdicts and "failed" in verdicts.values()


@pytest.mark.parametrize("version", sorted(REFERENCE))
def test_reference_release_verdicts(tmp_path, version):
    code, out, verdicts = run_suite(tmp_path, "conformance", sdk_version=version)
    assert verdicts == REFERENCE[version], out[-6000:]
    assert code == (1 if "failed" in REFERENCE[version].values() else 0)
