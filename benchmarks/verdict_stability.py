"""Benchmark: are the verdicts stable? Run the whole suite N times on one build and compare.

    .venv/bin/python benchmarks/verdict_stability.py [--runs 5] [--sdk-version 1.12.0] [--out DIR] [-- PYTEST ARGS]
    .venv/bin/python benchmarks/verdict_stability.py --junit FILE --sdk-version V   # one finished run vs the pin

A flaky suite is worse than none: a release manager must get the same answer twice. Each run is the
whole ``conformance`` suite in a child pytest, exactly as a user runs it (tests/conformance's
``run_suite``: ``--sdk=python --sdk-version=V``, default ``-n 2``), reduced to what the reference pins
hold: per test its status and, unless it passed, the checks of its failed verdicts. Runs are compared
with the first, and with ``tests/conformance/reference_verdicts.json`` when it pins the version.

Prints the wall time of each run (monotonic clock) and every test whose status or failed checks
differ; each run's reduced verdicts go to ``--out`` (one JSON per run) so that the comparison can be
re-read. Exit 0 when every run is identical (to each other, and to the pin if there is one), 1 otherwise.
No assertion on speed: a measurement.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conformance.test_broken_variants import REFERENCE, pinned, read_junit, run_suite  # noqa: E402

Pins = dict[str, dict[str, object]]


def differences(a: Pins, b: Pins) -> list[str]:
    """One line per test whose entry differs between two reduced runs (or is missing from one)."""
    return [f"{t}: {a.get(t)} != {b.get(t)}" for t in sorted(set(a) | set(b)) if a.get(t) != b.get(t)]


def compare_with_pin(reduced: Pins, version: str) -> int:
    """Print how one reduced run differs from the pin of ``version``; 0 when identical."""
    pin = REFERENCE.get(version)
    if pin is None:
        print(f"reference_verdicts.json pins no {version}", file=sys.stderr)
        return 2
    diff = differences(pin, reduced)
    print(f"{len(reduced)} tests vs reference_verdicts.json[{version}]: "
          f"{'identical' if not diff else f'{len(diff)} differ'}")
    for line in diff:
        print(f"  {line}")
    return 1 if diff else 0


def main(argv: list[str]) -> int:
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    else:
        extra = ["-n", "2"]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sdk-version", default="1.12.0")
    ap.add_argument("--out", type=Path, default=None, help="folder for each run's reduced verdicts (JSON)")
    ap.add_argument("--junit", type=Path, default=None,
                    help="run nothing: compare this junit file of a finished run with the pin of --sdk-version")
    args = ap.parse_args(argv)
    if args.junit is not None:
        return compare_with_pin(pinned(read_junit(args.junit)), args.sdk_version)
    out = args.out or Path(tempfile.mkdtemp(prefix="verdict-stability-"))
    out.mkdir(parents=True, exist_ok=True)
    runs: list[Pins] = []
    for n in range(1, args.runs + 1):
        t0 = time.monotonic()
        with tempfile.TemporaryDirectory() as d:
            run = run_suite(Path(d), "conformance", sdk_version=args.sdk_version, args=tuple(extra), timeout=7200)
        wall = time.monotonic() - t0
        reduced = pinned(run)
        (out / f"run{n}.json").write_text(json.dumps(reduced, indent=1) + "\n")
        statuses: dict[str, int] = {}
        for entry in reduced.values():
            statuses[str(entry["status"])] = statuses.get(str(entry["status"]), 0) + 1
        diff = differences(runs[0], reduced) if runs else []
        print(f"run {n}: {wall:7.1f} s, exit {run.code}, {len(reduced)} tests {statuses}; "
              f"{'identical to run 1' if runs and not diff else f'{len(diff)} differ from run 1' if runs else 'first'}",
              flush=True)
        for line in diff:
            print(f"  {line}")
        if not reduced:
            print(run.out[-4000:], file=sys.stderr)
            return 1
        runs.append(reduced)
    same = all(not differences(runs[0], r) for r in runs[1:])
    pin = REFERENCE.get(args.sdk_version)
    if pin is not None:
        against_pin = differences(pin, runs[0])
        print(f"run 1 vs reference_verdicts.json[{args.sdk_version}]: "
              f"{'identical' if not against_pin else f'{len(against_pin)} differ'}")
        for line in against_pin:
            print(f"  {line}")
        same = same and not against_pin
    print(f"{args.runs} runs {'identical' if same else 'NOT identical'}; reduced verdicts in {out}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
