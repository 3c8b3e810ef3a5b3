"""conformance/SPEC.md as data: the rows of its requirements table ``| ID | Level | Requirement | Test |``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SPEC_PATH = Path(__file__).resolve().parents[2] / "conformance" / "SPEC.md"


@dataclass
class Requirement:
    id: str
    level: str = ""
    text: str = ""
    tests: str = ""  # the SPEC's "Test" column, as written


def parse_spec(path: Path = SPEC_PATH) -> list[Requirement]:
    """The rows of SPEC.md's requirements table (``| ID | Level | Requirement | Test |``), in order."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out: list[Requirement] = []
    in_table = False
    for line in lines:
        s = line.strip()
        if not s.startswith("|"):
            in_table = False
            continue
        cells = [c.strip() for c in s.strip("|").split("|")]
        if [c.lower() for c in cells[:2]] == ["id", "level"]:
            in_table = True
            continue
        if not in_table or all(set(c) <= set("-: ") for c in cells):
            continue
        if len(cells) < 4:
            continue
        rid, level, tests = cells[0], cells[1], cells[-1]
        text = " | ".join(cells[2:-1])
        if rid:
            out.append(Requirement(rid, level, text, tests))
    return out
