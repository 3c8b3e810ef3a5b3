"""Run one of tests/repro/scenarios/*.toml against the real Python SDK build of this environment
(durabletask from PyPI), optionally patched with a broken variant from harness/drivers/python/mutants/,
behind a real Toxiproxy and the fake on loopback, and assert which checks failed -- read from the
verdicts (data), never from printed text. A run that cannot start (no root for iptables/ss -K, no
Toxiproxy binary) is skipped with what is missing; a run that errors fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.checks.windows import DEFAULT_TOLERANCE_S
from harness.history import History
from harness.net.conn import ConnectionFaults, ConnFaultUnavailable
from harness.net.toxiproxy_server import ToxiproxyUnavailable, find_or_build_binary
from harness.paths import default_cache_dir
from harness.repro.runner import ScenarioRun
from harness.repro.schema import load_scenario
from harness.sdk import BuildChoice, SdkUnavailable, resolve

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
MUTANTS = ROOT / "harness" / "drivers" / "python" / "mutants"


def _prerequisites() -> tuple[str, object]:
    """The Toxiproxy binary and the Python SDK build, or a skip naming what is missing."""
    try:
        ConnectionFaults.check_available()  # per-connection faults: root + iptables
        binary = find_or_build_binary(os.environ.get("TOXIPROXY_BIN"), default_cache_dir(), build=False)
        build = resolve(BuildChoice("python"), default_cache_dir())
    except (ConnFaultUnavailable, ToxiproxyUnavailable, SdkUnavailable) as exc:
        pytest.skip(f"a real scenario run needs it: {exc}")
    return str(binary), build


def run(scenario: str, mutant: str | None, tmp_path: Path):
    """Run ``scenario`` (a file name under tests/repro/scenarios/) with ``mutant`` (a file stem under
    harness/drivers/python/mutants/, or None for the release); returns the runner's Outcome."""
    binary, build = _prerequisites()
    patches = [str(MUTANTS / f"{mutant}.py")] if mutant else []
    if mutant and not Path(patches[0]).is_file():
        raise FileNotFoundError(f"no mutant {patches[0]}")
    sc = load_scenario(SCENARIOS / scenario, tolerance=DEFAULT_TOLERANCE_S)
    return ScenarioRun(sc, sdk=build, history=History(f"test:{scenario}"), toxiproxy_bin=binary,
                       toxiproxy_mode="binary", tolerance=DEFAULT_TOLERANCE_S, log_dir=tmp_path / "logs",
                       patches=patches).run()


def failed_checks(outcome) -> set[str]:
    """The check kinds (expect labels' kind names) whose verdicts failed."""
    return {v.check.split("(", 1)[1].split(")", 1)[0] for v in outcome.verdicts if not v.ok}


def assert_verdicts(scenario: str, mutant: str | None, must_fail: str | None, tmp_path: Path) -> None:
    """The release passes every check of ``scenario``; ``mutant`` fails ``must_fail`` (other checks may
    fail too: a broken backoff also breaks a reconnect-time check)."""
    out = run(scenario, mutant, tmp_path)
    explained = "\n".join(f"  [{'PASS' if v.ok else 'FAIL'}] {v.check}: {v.summary}" for v in out.verdicts)
    assert out.verdicts, f"{scenario} with {mutant or 'the release'}: {out.verdict} {out.reason}\n{out.driver_stderr}"
    failed = failed_checks(out)
    if must_fail is None:
        assert not failed, f"{scenario} on the release: {out.verdict}\n{explained}"
    else:
        assert must_fail in failed, f"{scenario} with {mutant}: {must_fail} did not fail\n{explained}"
