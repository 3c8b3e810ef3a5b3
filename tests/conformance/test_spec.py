"""SPEC.md and the tests agree: every requirement has a test, every cited ID is specified."""

import re
from pathlib import Path

from harness.report.spec import parse_spec

ROOT = Path(__file__).resolve().parents[2]
ID = re.compile(r'"([A-Z]+(?:-[A-Z]+)*-\d{3})"')


def cited_ids() -> dict[str, set[str]]:
    cited: dict[str, set[str]] = {}
    for path in sorted((ROOT / "conformance").glob("test_*.py")):
        for call in re.findall(r"requirement\(([^)]*)\)", path.read_text()):
            for rid in ID.findall(call):
                cited.setdefault(rid, set()).add(path.name)
    return cited


def test_every_requirement_has_a_test_and_every_cited_id_is_specified():
    spec = parse_spec(ROOT / "conformance" / "SPEC.md")
    specified = {r.id for r in spec}
    cited = cited_ids()
    assert specified, "no requirement rows parsed from SPEC.md"
    # A "harness" requirement is about the suite's own machinery; its test lives in tests/.
    for r in spec:
        if r.level == "harness":
            for f in re.findall(r"tests/[\w/]+\.py", r.tests):
                if (ROOT / f).is_file():
                    cited.setdefault(r.id, set()).add(f)
    untested = sorted(specified - set(cited))
    unspecified = sorted(set(cited) - specified)
    assert not untested, f"requirements without a test: {untested}"
    assert not unspecified, f"tests cite IDs missing from SPEC.md: {unspecified}"


def test_ids_are_unique_in_spec():
    rows = re.findall(r"^\| ([A-Z]+(?:-[A-Z]+)*-\d{3}) \|", (ROOT / "conformance" / "SPEC.md").read_text(), re.M)
    dupes = sorted({r for r in rows if rows.count(r) > 1})
    assert not dupes, f"duplicate IDs in SPEC.md: {dupes}"
