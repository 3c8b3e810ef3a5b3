"""Benchmark: wall time of the conformance scenarios and the reconnect delays they measure.

    .venv/bin/python benchmarks/core_chain.py [--runs 3] [--sdk-version 1.12.0] [-n 2]

Runs ``pytest conformance --sdk=python`` (the whole catalogue) RUNS times with --keep-histories, then reads the
histories (the same records the checkers read) and prints, per run, the wall time and the
verdicts, and over all runs the distribution of:
  - reconnect delay after a TCP RST (driver-seen failure -> next Hello at the fake),
  - silent-stall give-up time after the last delivered message (vs the configured timeout),
  - Hello delay after a graceful OK close / GOAWAY,
  and whether the verdicts of all runs are identical (exit 1 if not).
Clock agreement between the two processes is measured by benchmarks/timing_precision.py.
No assertion on speed: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.history import DRIVER, FAKE, NETWORK, History  # noqa: E402


def run_once(out: Path, args: argparse.Namespace) -> tuple[float, dict[str, str]]:
    junit = out / "junit.xml"
    cmd = [sys.executable, "-m", "pytest", "conformance", "--sdk=python", "-q", "-p", "no:cacheprovider",
           "--keep-histories", f"--history-dir={out}", f"--junitxml={junit}"]
    if args.sdk_version:
        cmd.append(f"--sdk-version={args.sdk_version}")
    if args.n:
        cmd += ["-n", str(args.n)]
    start = time.monotonic()
    subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    wall = time.monotonic() - start
    verdicts = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        bad = case.find("failure") is not None or case.find("error") is not None
        verdicts[case.get("name")] = "failed" if bad else ("skipped" if case.find("skipped") is not None else "passed")
    return wall, verdicts


def measure(histories: list[History]) -> dict[str, list[float]]:
    m: dict[str, list[float]] = {"rst_reconnect_s": [], "silent_give_up_s": [], "graceful_hello_s": [],
                                 }
    for h in histories:
        name = h.name
        if "tcp_reset" in name:
            reset = h.last(source=NETWORK, kind="tcp_reset")
            if reset:
                seen = h.first(source=DRIVER, kind="rpc_done", method="GetWorkItems", after=reset.get("requested_t"))
                hello = h.first(source=FAKE, kind="rpc_start", method="Hello", after=seen.t) if seen else None
                if hello:
                    m["rst_reconnect_s"].append(hello.t - seen.t)
        if "silent_stall" in name:
            fault = h.first(source=NETWORK, kind="fault_start")
            first = h.first(source=FAKE, kind="rpc_start", method="GetWorkItems")
            if fault and first:
                last = h.last(source=FAKE, kind="message_sent", call_id=first.get("call_id"), before=fault.t)
                gave = h.first(source=DRIVER, kind="rpc_done", method="GetWorkItems", after=fault.t)
                if last and gave:
                    m["silent_give_up_s"].append(gave.t - last.t)
        if "graceful" in name:
            for f in h.select(FAKE, "server_fault", fault="EndOk") + h.select(FAKE, "goaway"):
                hello = h.first(source=FAKE, kind="rpc_start", method="Hello", after=f.t)
                if hello:
                    m["graceful_hello_s"].append(hello.t - f.t)
    return m


def summary(values: list[float]) -> str:
    if not values:
        return "n=0"
    v = sorted(values)
    p = lambda q: v[min(len(v) - 1, int(round(q * (len(v) - 1))))]  # noqa: E731
    return (f"n={len(v)} min={v[0]:.3f} median={statistics.median(v):.3f} p90={p(0.9):.3f} "
            f"p99={p(0.99):.3f} max={v[-1]:.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sdk-version", default=None)
    ap.add_argument("-n", default="2", help="pytest-xdist workers (default 2; 0 for serial)")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw numbers here")
    args = ap.parse_args()
    args.n = None if args.n in ("0", "") else args.n
    all_hist: list[History] = []
    walls = []
    runs_verdicts: list[dict[str, str]] = []
    spans = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as d:
            wall, verdicts = run_once(Path(d), args)
            walls.append(wall)
            hist = [History.load(p) for p in Path(d).glob("*.json")]
            all_hist += hist
            runs_verdicts.append(verdicts)
            # Time each test spends inside its scenario (first to last event): every configured
            # timeout the test waits out lies inside it, so the sum bounds the floor from above.
            spans.append(sum(h.events[-1].t - h.events[0].t for h in hist if len(h) > 1))
            failed = sorted(k for k, v in verdicts.items() if v != "passed")
            print(f"run {i + 1}: wall {wall:.1f}s, {len(verdicts)} tests, not passed: {failed or 'none'}")
    m = measure(all_hist)
    print(f"wall time per run: {summary(walls)} s")
    print(f"sum of per-test scenario spans per run (>= the waits the configured timeouts impose): "
          f"{summary(spans)} s")
    same = all(v == runs_verdicts[0] for v in runs_verdicts)
    print(f"verdicts identical across {len(runs_verdicts)} runs: {same}")
    if not same:
        for i, v in enumerate(runs_verdicts):
            diff = {k: x for k, x in v.items() if runs_verdicts[0].get(k) != x}
            print(f"  run {i + 1} differs from run 1 on: {diff}")
    for k, v in m.items():
        print(f"{k:32} {summary(v)}")
    if args.json:
        args.json.write_text(json.dumps({"walls": walls, "spans": spans, **m}, indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
