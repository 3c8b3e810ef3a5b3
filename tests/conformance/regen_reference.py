"""Print (or with --write, store) the statuses of an unpatched release on the whole suite, in
tests/conformance/reference_verdicts.json's format (per test its status and, unless it passed, the
checks of its failed verdicts):

    python -m tests.conformance.regen_reference 1.12.0 [--write] [pytest args, e.g. -n 2]

Every change to a stored entry is a finding or a suite change: explain it in docs/FINDINGS.md."""

import json
import sys
import tempfile
from pathlib import Path

from tests.conformance.test_broken_variants import REFERENCE_FILE, pinned, run_suite


def main(argv: list[str]) -> int:
    version, rest = argv[0], argv[1:]
    write = "--write" in rest
    args = tuple(a for a in rest if a != "--write")
    with tempfile.TemporaryDirectory() as d:
        run = run_suite(Path(d), "conformance", sdk_version=version, args=args, timeout=7200)
    entry = pinned(run)
    if not entry:
        print(run.out[-4000:], file=sys.stderr)
        return 2
    if write:
        data = json.loads(REFERENCE_FILE.read_text())
        data[version] = entry
        REFERENCE_FILE.write_text(json.dumps(data, indent=1) + "\n")
    print(json.dumps(entry, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
