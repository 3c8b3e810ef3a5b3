"""Benchmark: the wall time of a multi-SDK matrix, and whether more xdist workers than cores change a verdict.

    .venv/bin/python benchmarks/matrix_wall_time.py --out /tmp/matrix \
        --build python --build go --build js --build java --build dapr-go --workers 2 --workers 8

For each ``--workers N`` (in the order given) and each ``--build SDK[==VERSION]`` it runs
``pytest conformance --sdk=SDK [--sdk-version=VERSION] -n N --conformance-report=OUT/nN/SDK-VERSION``,
one run at a time (runs never overlap: they would share the cores), and times it on the monotonic
clock. Then it prints the wall time per run and per matrix, and compares every test's status between
the first ``--workers`` (the reference, e.g. -n 2 = one worker per core) and each other: a test whose
status differs is listed with both reasons. Exit 0 when every verdict agrees, 1 otherwise.

Why it exists: the conformance tests mostly wait (on backoffs, timeouts, the SDK's defaults), so
more workers than cores may shorten a matrix; that is only worth having if the verdicts stay the
same, which the timing tolerance (docs/TOLERANCE.md) was measured for under "every core busy".
Each run's folder holds results.json, so ``python -m harness matrix OUT/nN/*`` draws the matrix.
No assertion about speed: a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.report.diff import diff_runs  # noqa: E402
from harness.report.results_file import ResultsFileError, load_results  # noqa: E402


def _folder_name(build: str) -> str:
    return build.replace("==", "-").replace("/", "_")


def run_one(build: str, workers: int, out: Path, extra: list[str]) -> tuple[float, int]:
    """One conformance run; returns (wall time s, pytest exit code)."""
    sdk, _, version = build.partition("==")
    cmd = [sys.executable, "-m", "pytest", "conformance", f"--sdk={sdk}", f"-n{workers}", "-q",
           "-p", "no:cacheprovider", f"--conformance-report={out}", f"--junitxml={out}/junit.xml", *extra]
    if version:
        cmd.append(f"--sdk-version={version}")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with open(out / "pytest.log", "w", encoding="utf-8") as log:
        rc = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT).returncode
    return time.monotonic() - t0, rc


def compare(reference: Path, other: Path) -> list[str]:
    """Tests whose status differs between two runs of one build, with both reasons (harness/report/diff.py;
    a changed reason alone is not a different verdict)."""
    d = diff_runs(load_results(reference), load_results(other))
    out = [f"{c.id}: {c.base_status} ({c.base_reason[:120]}) vs {c.new_status} ({c.new_reason[:120]})"
           for c in d.changes if c.what == "test" and c.base_status != c.new_status]
    out += [f"{key}: {status} vs (not in the other run)" for what, key, status in d.only_in_base if what == "test"]
    out += [f"{key}: (not in the reference run) vs {status}" for what, key, status in d.only_in_new if what == "test"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", action="append", required=True, metavar="SDK[==VERSION]",
                    help="a build to run (repeat); VERSION defaults to the adapter's default")
    ap.add_argument("--workers", action="append", type=int, required=True, metavar="N",
                    help="xdist workers (repeat; the first is the reference the others are compared with)")
    ap.add_argument("--out", type=Path, required=True, help="one folder per workers value and build under here")
    ap.add_argument("--reuse", action="store_true", help="keep a run whose results.json already exists")
    args, extra = ap.parse_known_args(argv)
    walls: dict[int, dict[str, float]] = {}
    for n in args.workers:
        walls[n] = {}
        for build in args.build:
            folder = args.out / f"n{n}" / _folder_name(build)
            if args.reuse and (folder / "results.json").is_file() and (folder / "wall.json").is_file():
                walls[n][build] = json.loads((folder / "wall.json").read_text())["wall_time_s"]
                continue
            wall, rc = run_one(build, n, folder, extra)
            walls[n][build] = wall
            (folder / "wall.json").write_text(json.dumps({"wall_time_s": wall, "exit": rc, "workers": n,
                                                          "cores": os.cpu_count()}))
            try:
                gate = load_results(folder).gate.get("verdict", "?")
            except ResultsFileError as exc:
                gate = f"no results ({exc})"
            print(f"-n {n:<2} {build:<22} {wall:7.1f} s  exit {rc}  gate {gate}", flush=True)
    print(f"\ncores: {os.cpu_count()}")
    for n, per in walls.items():
        print(f"-n {n}: matrix of {len(per)} builds {sum(per.values()):.1f} s "
              f"({', '.join(f'{b} {w:.0f} s' for b, w in per.items())})")
    ref = args.workers[0]
    differ = False
    for n in args.workers[1:]:
        for build in args.build:
            diffs = compare(args.out / f"n{ref}" / _folder_name(build), args.out / f"n{n}" / _folder_name(build))
            print(f"{build}: -n {ref} vs -n {n}: " + ("same status for every test" if not diffs else
                                                      f"{len(diffs)} test(s) differ"))
            for d in diffs:
                print(f"  {d}")
            differ = differ or bool(diffs)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
