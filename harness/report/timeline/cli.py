"""The timeline's command line: ``python -m harness.report.timeline HISTORY.json [--html OUT]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.history import History
from harness.report.timeline.draw import render_timeline


def main(argv: list[str] | None = None) -> int:
    """Draw a saved history as an HTML page (next to it unless ``--html``); 2 if it cannot be read."""
    parser = argparse.ArgumentParser(prog="python -m harness.report.timeline",
                                     description="Draw a saved history as an HTML timeline.")
    parser.add_argument("history", type=Path, help="a history JSON file (histories/*.json)")
    parser.add_argument("--html", type=Path, default=None,
                        help="where to write the page (default: next to the history, .html)")
    parser.add_argument("--title", default="")
    args = parser.parse_args(argv)
    try:
        h = History.load(args.history)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: cannot read {args.history}: {exc}", file=sys.stderr)
        return 2
    out = args.html or args.history.with_suffix(".html")
    render_timeline(h, out, title=args.title)
    print(out)
    return 0
