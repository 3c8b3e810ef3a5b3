"""Which broken SDK variant kills which requirement, from a real run of the broken-variant tests:

    DT_KILL_LOG=/tmp/kills.jsonl .venv/bin/python -m pytest tests/conformance -n 2 -k "broken or fails or repaired"
    .venv/bin/python -m tests.conformance.kill_table /tmp/kills.jsonl [--markdown]

Each passing kill (``assert_killed`` in test_broken_variants.py) appended one line: the patches, the
target, the expected check and the requirements of the verdicts that killed it (a tagged verdict's own
requirement, else every requirement its test cites). This prints, for every requirement in SPEC.md, the
variants that killed it, and lists the requirements no variant killed (exit 1 if any MUST or SHOULD
requirement is among them; "harness" requirements are about the suite and have no SDK variant).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from harness.report.spec import parse_spec


def kills_by_requirement(lines: list[str]) -> dict[str, set[str]]:
    """requirement -> the variants (``a.py+b.py`` for a stack on a repair) that killed it."""
    out: dict[str, set[str]] = {}
    for line in lines:
        if not line.strip():
            continue
        rec = json.loads(line)
        variant = "+".join(p.removesuffix(".py") for p in rec["patches"])
        for rid in rec["requirements"]:
            out.setdefault(rid, set()).add(variant)
    return out


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    kills = kills_by_requirement(Path(argv[0]).read_text().splitlines())
    missing = []
    print("| requirement | level | killed by |\n|---|---|---|")
    for r in parse_spec():
        variants = sorted(kills.get(r.id, ()))
        if not variants and r.level != "harness":
            missing.append(r.id)
        print(f"| {r.id} | {r.level} | {', '.join(f'`{v}`' for v in variants) or '**none**'} |")
    field = sorted(k for k in kills if k.startswith("field:"))
    for k in field:
        print(f"| {k} | field | {', '.join(f'`{v}`' for v in sorted(kills[k]))} |")
    if missing:
        print(f"\nno variant killed: {', '.join(missing)}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
