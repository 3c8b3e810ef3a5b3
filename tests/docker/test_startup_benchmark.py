"""benchmarks/toxiproxy_startup.py still runs against a real engine (it is part of no verdict, so
nothing else would notice it break)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def test_startup_benchmark_measures_both_paths(docker_client: Any, toxiproxy_image: str, tmp_path: Path):
    out = tmp_path / "samples.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "toxiproxy_startup.py"), "--rounds", "2",
                           "--json", str(out)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "  binary" in proc.stdout and "  docker" in proc.stdout, proc.stdout
    samples = json.loads(out.read_text())
    assert {len(samples["binary"]), len(samples["docker"])} == {2}
    assert all(0 < s["start"] <= s["ready"] for rows in samples.values() for s in rows)
