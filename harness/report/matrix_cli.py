"""``python -m harness matrix RUN_DIR... [--out DIR] [--diff BASE_DIR NEW_DIR]``: the side-by-side matrix
of several runs' results.json (harness/report/side_by_side.py) and, with --diff, the release diff of two
runs (harness/report/diff.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_OUT = Path("matrix")
EPILOG = ("exit codes:\n  0  pages written; with --diff: no regression from BASE to NEW\n"
          "  1  --diff: at least one requirement or test regressed\n"
          "  2  a run folder has no readable results.json (the message names it and the fix), or usage")


def add_matrix_command(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser(
        "matrix", help="one page with several runs side by side (requirements x SDK builds); --diff for a release",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Read the results.json of each RUN_DIR (written by `pytest conformance --sdk=NAME "
                    "--conformance-report=RUN_DIR`) and write matrix.html and matrix.md: requirements as rows, "
                    "one column per run in the order given, each cell the status with its reason and links to "
                    "the history and timeline of every test that did not pass, and under which conditions each "
                    "column was judged. --diff BASE_DIR NEW_DIR also writes diff.html and diff.md: every "
                    "requirement and test that regressed, improved or changed its reason from BASE to NEW.")
    m.add_argument("runs", nargs="*", type=Path, metavar="RUN_DIR",
                   help="a folder holding results.json (or the file itself); default with --diff: BASE_DIR NEW_DIR")
    m.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default ./%(default)s)")
    m.add_argument("--diff", type=Path, nargs=2, default=None, metavar=("BASE_DIR", "NEW_DIR"),
                   help="also diff two runs (e.g. the previous release and the release candidate)")


def run_matrix(args: argparse.Namespace) -> int:
    from harness.report.diff import diff_runs, write_diff
    from harness.report.results_file import ResultsFileError, load_results
    from harness.report.side_by_side import write_side_by_side

    folders: list[Path] = list(args.runs) or (list(args.diff) if args.diff else [])
    if not folders:
        print("error: give at least one RUN_DIR (a folder written by `pytest conformance --sdk=NAME "
              "--conformance-report=RUN_DIR`), or --diff BASE_DIR NEW_DIR", file=sys.stderr)
        return 2
    missing = [f for f in [*folders, *(args.diff or [])] if not f.exists()]
    if missing:  # load_results would name a results.json under the parent folder: say which folder is absent
        print(f"error: no folder {missing[0]}; write one with `pytest conformance --sdk=NAME "
              f"--conformance-report={missing[0]}`", file=sys.stderr)
        return 2
    try:
        runs = [load_results(f) for f in folders]
        pair = [load_results(f) for f in args.diff] if args.diff else None
    except ResultsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in write_side_by_side(runs, args.out):
        print(f"matrix: {path}")
    if pair is None:
        return 0
    d = diff_runs(*pair)
    for path in write_diff(d, args.out):
        print(f"diff: {path}")
    for warning in d.condition_warnings:
        print(f"warning: {warning}")
    for c in d.regressions:
        print(f"REGRESSION {c.what} {c.id}: {c.base_status} -> {c.new_status}"
              + (f" ({c.new_reason})" if c.new_reason else ""))
    print(d.summary())
    return d.exit_code
