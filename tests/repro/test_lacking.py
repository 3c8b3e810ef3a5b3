"""A field file a build cannot run as written is judged by the class of what it lacks, as in the
conformance suite (harness/drivers/capabilities.py): never a pass in disguise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.repro.runner import ERROR, INCONCLUSIVE, NOT_APPLICABLE, NOT_IMPLEMENTED, Outcome, lacking

ROOT = Path(__file__).resolve().parents[2]


def test_only_an_optional_feature_is_not_applicable() -> None:
    verdict, reason = lacking("async_client", "the async client is not supported")
    assert verdict == NOT_APPLICABLE and "async_client" in reason and "optional" in reason


def test_a_missing_resiliency_option_is_not_implemented() -> None:
    verdict, reason = lacking("resiliency_options", "resiliency_options is not supported by durabletask 1.4.0")
    assert verdict == NOT_IMPLEMENTED and "resiliency_options" in reason and "1.4.0" in reason


def test_an_unobservable_build_is_inconclusive() -> None:
    assert lacking("rpc_observer", "no interceptors")[0] == INCONCLUSIVE


def test_an_unnamed_capability_is_a_driver_error() -> None:
    verdict, reason = lacking(None, "something is not supported")
    assert verdict == ERROR and "PROTOCOL.md" in reason
    assert lacking("no_such_capability", "x")[0] == ERROR


def test_exit_codes_keep_the_gate() -> None:
    codes = {v: Outcome(scenario=None, verdict=v).exit_code  # type: ignore[arg-type]
             for v in (NOT_IMPLEMENTED, NOT_APPLICABLE, INCONCLUSIVE, ERROR)}
    assert codes == {NOT_IMPLEMENTED: 1, NOT_APPLICABLE: 3, INCONCLUSIVE: 5, ERROR: 4}


def test_a_build_without_resiliency_options_is_not_implemented_on_a_scaled_file(tmp_path: Path) -> None:
    """durabletask 1.4.0 has no resiliency options, so a time-scaled worker file cannot run on it: the
    real run exits 1 with NOT IMPLEMENTED naming the option (it used to be NOT APPLICABLE, exit 3)."""
    proc = subprocess.run([sys.executable, "-m", "harness", "repro", "scenarios/field/aca_stream_timeout.toml",
                           "--sdk=python", "--sdk-version=1.4.0", "--out", str(tmp_path / "out"), "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 1, text
    assert "NOT IMPLEMENTED" in text and "resiliency_options" in text, text
