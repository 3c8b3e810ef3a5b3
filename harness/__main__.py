"""Command line: ``python -m harness <command>``.

  provision-toxiproxy   find or build the Toxiproxy server binary into the cache
  timeline HISTORY.json print a saved history as a timeline (--html OUT.html draws it)
  repro FILE --sdk=python  run a field-report scenario file (scenarios/README.md)
  repro FILE.toml       reproduce a field report from a scenario file (scenarios/README.md)
  check HISTORY.json    re-judge a saved history's verdicts without running anything (--html OUT.html)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.options import add_sdk_options, sdk_choice


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("provision-toxiproxy", help="find or build the Toxiproxy server binary")
    p.add_argument("--toxiproxy-bin", default=None)
    p.add_argument("--cache", default=None)
    t = sub.add_parser("timeline", help="print a saved history as a timeline")
    t.add_argument("history", type=Path)
    t.add_argument("--html", type=Path, default=None,
                   help="draw it instead: an HTML page with an SVG timeline (connections as lanes, RPCs as bars, "
                        "faults as shaded bands)")
    r = sub.add_parser("repro", help="run a field-report scenario file against an SDK build",
                       description="Run scenario files (see scenarios/README.md). Exit code: 0 PASS, 1 FAIL or NOT "
                                   "IMPLEMENTED (the build lacks a promised option), 2 invalid file or usage, "
                                   "3 NOT APPLICABLE (an optional feature missing), 4 ERROR (could not run), "
                                   "5 INCONCLUSIVE (the driver cannot observe the build).")
    r.add_argument("files", nargs="*", type=Path, metavar="FILE")
    add_sdk_options(r.add_argument)
    r.add_argument("--out", type=Path, default=None,
                   help="output folder (one FILE) or parent folder (several); default histories/repro/<name>--<sdk>--<time>")
    r.add_argument("--scale", type=float, default=None, help="override the file's scale (1 = field time)")
    r.add_argument("--timing-tolerance", type=float, default=None,
                   help="the machine-latency tolerance added (unscaled) to each bound (default: "
                        "harness/checks/windows.py DEFAULT_TOLERANCE_S); a scale at which it exceeds half a "
                        "window is refused")
    r.add_argument("--toxiproxy-url", default=None)
    r.add_argument("--toxiproxy-bin", default=None)
    r.add_argument("--conformance-cache", default=None)
    r.add_argument("--validate", action="store_true", help="only validate the files; start nothing")
    r.add_argument("--vocabulary", action="store_true", help="print every fault, action and check with its fields")
    r.add_argument("--quiet", action="store_true", help="no live step lines")
    c = sub.add_parser(
        "check", help="re-judge a saved history's verdicts (no SDK, no Toxiproxy, no network)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Re-judge a saved history with the checks of this checkout, without running anything: a "
                    "conformance test's history (saved by the pytest plugin, --keep-histories) or a field "
                    "report's (written by `python -m harness repro`). Each verdict is printed with its "
                    "evidence, the recorded and the recomputed outcome, and whether they agree.",
        epilog="exit codes:\n  0  every verdict passes\n  1  a verdict fails\n"
               "  3  none fails, but a recomputed verdict differs from the recorded one (the history was judged "
               "by\n     another version of the checks, or edited)\n"
               "  2  the history (or the scenario file it needs) cannot be read; the message names the fix")
    c.add_argument("history", type=Path, metavar="HISTORY.json", help="a saved history (histories/<test>.json, "
                   "<repro out>/history.json)")
    c.add_argument("--scenario", type=Path, default=None, metavar="FILE",
                   help="field-report histories only: the scenario file the run used, when it is not at the "
                        "path the history names")
    c.add_argument("--html", type=Path, default=None, metavar="OUT.html",
                   help="also draw the timeline with the re-judged verdicts into OUT.html")
    args = parser.parse_args(argv)
    if args.command == "repro":
        args.sdk_choice = sdk_choice(lambda flag: getattr(args, flag.lstrip("-").replace("-", "_")))

    if args.command == "provision-toxiproxy":
        from harness.net.toxiproxy_server import ToxiproxyUnavailable, find_or_build_binary
        from harness.paths import default_cache_dir
        try:
            path = find_or_build_binary(args.toxiproxy_bin, Path(args.cache) if args.cache else default_cache_dir())
        except ToxiproxyUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"toxiproxy server: {path}")
        return 0
    if args.command == "timeline":
        if args.html:
            from harness.report.timeline import main as timeline_main
            return timeline_main([str(args.history), "--html", str(args.html)])
        from harness.history import History
        print(History.load(args.history).format())
        return 0
    if args.command == "repro":
        from harness.repro.cli import repro
        return repro(args)
    if args.command == "check":
        from harness.recheck import run as recheck_run
        return recheck_run(args.history, scenario=args.scenario, html=args.html)
    return 2


if __name__ == "__main__":
    sys.exit(main())
