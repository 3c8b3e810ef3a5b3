"""Command line: ``python -m harness <command>``.

  provision-toxiproxy   find or build the Toxiproxy server binary into the cache
  timeline HISTORY.json print a saved history as a timeline
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("provision-toxiproxy", help="find or build the Toxiproxy server binary")
    p.add_argument("--toxiproxy-bin", default=None)
    p.add_argument("--cache", default=None)
    t = sub.add_parser("timeline", help="print a saved history as a timeline")
    t.add_argument("history", type=Path)
    args = parser.parse_args(argv)

    if args.command == "provision-toxiproxy":
        from harness.options import default_cache_dir
        from harness.toxiproxy_server import ToxiproxyUnavailable, find_or_build_binary
        try:
            path = find_or_build_binary(args.toxiproxy_bin, Path(args.cache) if args.cache else default_cache_dir())
        except ToxiproxyUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"toxiproxy server: {path}")
        return 0
    if args.command == "timeline":
        from harness.history import History
        print(History.load(args.history).format())
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
