"""The benchmarks still run (they are not part of any verdict, so nothing else would notice them break)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from harness.history import DRIVER, FAKE, History
from harness.sdk import ADAPTERS

ROOT = Path(__file__).resolve().parents[1]


def _timing_precision() -> ModuleType:
    spec = importlib.util.spec_from_file_location("timing_precision", ROOT / "benchmarks" / "timing_precision.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tp = _timing_precision()


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


def test_clock_check_bounds_the_driver_clock_and_catches_another_clock() -> None:
    # Legs of calls between two processes on one clock: every leg >= 0, the offset interval holds 0.
    one_clock = [(0.0008, 0.0003), (0.0011, 0.0005)]
    assert "within [-0.80, +0.30] ms" in tp.clock_check(one_clock)
    # The same calls stamped by a driver whose clock runs 2 s ahead: request legs -2 s, response legs +2 s.
    ahead = [(req - 2.0, resp + 2.0) for req, resp in one_clock]
    assert "within [+1999.20, +2000.30] ms" in tp.clock_check(ahead)
    # A leg below zero on both sides at once fits no single offset: two clocks, or stamps taken late.
    assert tp.clock_check([(-0.002, 0.001), (0.001, -0.003)]).startswith("CLOCKS DISAGREE")


def test_reconnect_pairs_on_getworkitems_for_a_build_that_sends_no_hello() -> None:
    h = History("no-hello")
    for k in range(2):  # two failed streams, each followed 5 s later (fake clock) by the next GetWorkItems
        base = 10.0 * k
        h.record(FAKE, "rpc_start", t=base + 1.000, method="GetWorkItems", call_id=k)
        h.record(FAKE, "server_fault", t=base + 1.002, method="GetWorkItems", call_id=k, fault="Abort")
        h.record(DRIVER, "rpc_start", t=base + 0.999, method="GetWorkItems")
        h.record(DRIVER, "rpc_done", t=base + 1.004, method="GetWorkItems", code="UNAVAILABLE", elapsed=0.005)
        h.record(DRIVER, "rpc_start", t=base + 6.001, method="GetWorkItems")
        h.record(FAKE, "rpc_start", t=base + 6.003, method="GetWorkItems", call_id=k + 10)
    got = tp.pairs(h, "GetWorkItems")
    assert [(round(f, 3), round(d, 3)) for f, d in got] == [(5.001, 4.997), (5.001, 4.997)]
    assert tp.pairs(h, "Hello") == []  # no Hello in this history: nothing to pair, not a zero delay


@pytest.mark.parametrize("component, reason", [
    ("deadline", "no Hello deadline at its defaults"), ("silence", "no silent timer at its defaults")])
def test_a_build_without_options_says_why_a_timer_is_not_measurable(component: str, reason: str) -> None:
    parts = tp.Rig(build=None)  # type: ignore[arg-type]  # no driver is started: the build's hello is given
    parts.info = {"capabilities": {"resiliency_options": False},
                  "defaults": {"worker": {"reconnect_backoff_base_seconds": 5.0}}}
    with pytest.raises(tp.NotMeasurable, match=reason):
        tp.MEASURES[component](parts, 4)
    parts.sends_hello = False
    if component == "deadline":
        with pytest.raises(tp.NotMeasurable, match="sends no Hello"):
            tp.MEASURES[component](parts, 4)


def test_sdk_all_names_every_driver_once() -> None:
    assert tp.sdk_names(None) == ["python"]
    assert tp.sdk_names(["go", "all"]) == ["go"] + [n for n in ADAPTERS if n != "go"]


def test_pool_prints_one_row_per_driver_and_component(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reason = "not measurable: no worker resiliency options (resiliency_options: false) and it sends no Hello at all"
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"drivers": [{"sdk": "java 1.5.0", "runs": {"as found": {
        "probe": [0.004, 0.090], "deadline": reason}}}]}))
    b.write_text(json.dumps({"sdk": "java 1.5.0", "runs": {"as found": {"probe": [0.005], "deadline": reason}}}))
    tp.print_summary(tp.pooled_from([a, b]))
    out = capsys.readouterr().out
    assert "| java 1.5.0 | probe | 3 | 5.00 | 90.00 | 90.00 | NO (270 > 180 tolerance) |" in out
    assert f"| java 1.5.0 | deadline | 0 | – | – | – | {reason} |" in out
