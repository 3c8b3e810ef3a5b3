"""The timing tolerance against a field file's scale (harness/repro/schema.py ``check_tolerance``).

The tolerance covers machine latency, so it is added to a scaled window unscaled; a scale at which it
would exceed half of a window an expectation uses is refused, before anything starts, naming the scale,
the window and the tolerance (issue #8: dtpy175 at scale 0.002 allowed 0.004 s + 0.25 s)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.checks.windows import DEFAULT_TOLERANCE_S, WINDOW_FRACTION
from harness.repro.runner import ERROR, ScenarioRun
from harness.repro.schema import ScenarioError, check_tolerance, load_scenario, tolerance_windows

ROOT = Path(__file__).resolve().parents[2]
FIELD = ROOT / "scenarios" / "field"

FILE = """
title = "t"
source = ["x#1"]
expected = "pass"
scale = {scale}

[[step]]
at = 60
fault = "tcp_reset"

[[expect]]
check = "reconnected_within"
after = "step 1"
within = "first_reconnect"

[[expect]]
check = "working_stream_within"
after = "step 1"
within = {probe}
"""


def write(tmp_path: Path, scale: float, probe: str = '["first_reconnect", 1]') -> Path:
    p = tmp_path / "s.toml"
    p.write_text(textwrap.dedent(FILE.format(scale=scale, probe=probe)))
    return p


def test_windows_are_the_scaled_within_of_each_expectation(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, 0.1))
    ws = tolerance_windows(sc)
    # the SDK's documented defaults, scaled: first window 2*base = 2 field s
    assert sorted(round(w, 6) for w in ws.values()) == [0.2, 0.3]
    name = min(ws, key=ws.get)
    assert name.startswith("expect 1 (reconnected_within)") and "first_reconnect" in name and "2 field s" in name


def test_within_zero_is_no_window(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, 0.1, probe="0"))
    assert len(tolerance_windows(sc)) == 1  # the probe "at once": its bound is the tolerance alone


def test_a_scale_that_lets_the_tolerance_swamp_a_window_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path, 0.002)
    load_scenario(p)  # without a tolerance the file itself is valid
    with pytest.raises(ScenarioError) as ei:
        load_scenario(p, tolerance=0.25)
    msg = str(ei.value)
    # names the scale, the window (which expectation, its length scaled and in field seconds), the tolerance
    assert "at scale 0.002" in msg and "expect 1 (reconnected_within)" in msg and "0.004s" in msg
    assert "2 field s" in msg and "timing tolerance 0.25s" in msg and f"more than {WINDOW_FRACTION:g}" in msg
    assert "125 field seconds" in msg  # what the tolerance is worth at this scale
    # and the way out: the smallest scale at which every window is judged, or a smaller tolerance
    assert "use scale >= 0.25" in msg and "--timing-tolerance <= 0.002s" in msg
    assert all(line.startswith(str(p) + ": ") for line in msg.splitlines())


def test_the_limit_is_half_a_window(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, 0.1))  # smallest window 0.2 s
    check_tolerance(sc, 0.1)  # exactly half: judged
    with pytest.raises(ScenarioError):
        check_tolerance(sc, 0.1001)
    check_tolerance(load_scenario(write(tmp_path, 0.1001 / WINDOW_FRACTION / 2)), 0.1001)  # or scale up


def test_the_refused_scale_is_a_run_error_before_anything_starts(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, 0.002))
    out = ScenarioRun(sc, sdk=None, tolerance=0.25, log_dir=tmp_path).run()  # sdk=None: nothing may start
    assert out.verdict == ERROR and "ScenarioError" in out.reason and "at scale 0.002" in out.reason
    assert out.history is not None and out.history.meta["tolerance_s"] == 0.25


def test_every_shipped_file_can_be_judged_at_the_default_tolerance() -> None:
    files = sorted(FIELD.glob("*.toml"))
    assert len(files) >= 17
    for f in files:
        sc = load_scenario(f, tolerance=DEFAULT_TOLERANCE_S)  # raises ScenarioError naming the window
        for name, w in tolerance_windows(sc).items():
            assert DEFAULT_TOLERANCE_S <= WINDOW_FRACTION * w + 1e-9, (f.name, name, w)


def test_the_collected_field_files_use_the_runs_tolerance(tmp_path: Path) -> None:
    """scenarios/conftest.py loads each file with --timing-tolerance: a coarser one is a collection
    error naming the file and the window, not a run."""
    (tmp_path / "conftest.py").write_text((ROOT / "scenarios" / "conftest.py").read_text())
    (tmp_path / "f.toml").write_text(textwrap.dedent(FILE.format(scale=0.01, probe="0")))

    def collect(tol: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                               "--timing-tolerance", tol, str(tmp_path)], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)

    res = collect("0.25")
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "f.toml" in out and "at scale 0.01" in out and "timing tolerance 0.25s" in out
    res = collect("0.01")
    assert res.returncode == 0, res.stdout + res.stderr
