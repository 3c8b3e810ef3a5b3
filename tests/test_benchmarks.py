"""The benchmarks still run (they are not part of any verdict, so nothing else would notice them break)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_timing_precision_runs_and_reports_percentiles(tmp_path: Path) -> None:
    out = tmp_path / "samples.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "timing_precision.py"), "--samples", "4",
                           "--json", str(out)], capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for part in ("reconnect", "deadline", "silence", "probe", "stop"):
        assert f"  {part}" in proc.stdout, proc.stdout
    assert "p99" in proc.stdout and "worst tolerance component" in proc.stdout and "safety factor" in proc.stdout
    assert out.is_file()


def test_core_chain_has_a_working_command_line() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "core_chain.py"), "--help"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0 and "--runs" in proc.stdout, proc.stdout + proc.stderr
