"""``results.json``: one conformance run as data, for machines (the side-by-side matrix of several builds,
the diff between two releases, a CI job's artifact).

conformance.md and conformance.html are for people and are never parsed back. Every run with
``--conformance-report=DIR`` also writes ``DIR/results.json``: the build, the conditions the gate was
judged under, the gate, each requirement's status with a one-line reason, each test's status, reason,
verdicts and the paths of its saved history and timeline *relative to DIR*, so a folder copied
elsewhere (a CI artifact downloaded into a merge job) still links correctly.

The format is versioned (``FORMAT``); ``load_results`` refuses another version with a message that
says which one it found, rather than misreading it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.report.results import MatrixReport, RequirementRow, TestResult, outcome_for, relative_link
from harness.report.statuses import PASS

FORMAT = "durabletask-conformance-results/1"
FILENAME = "results.json"


class ResultsFileError(ValueError):
    """A results.json that cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class RunInfo:
    """What the run itself knows beyond its tests: the build it judged and how it was run."""

    build: str = ""  # SdkBuild.header(): the SDK, its version and where it came from, the runtime
    started: str = ""  # ISO 8601 UTC wall-clock time the session started
    wall_time_s: float | None = None  # session start -> finish, monotonic clock
    workers: int | None = None  # pytest-xdist -n (None: no xdist)


@dataclass
class TestEntry:
    __test__ = False  # not a pytest test class

    nodeid: str
    status: str
    outcome: str
    requirements: list[str]
    duration: float
    reason: str
    message: str = ""
    at_defaults: str = ""
    history: str | None = None
    timeline: str | None = None
    verdicts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RequirementEntry:
    id: str
    level: str
    title: str
    in_spec: bool
    status: str
    reason: str
    tests: list[str]


@dataclass
class RunResults:
    sdk: str
    sdk_version: str
    build: str
    started: str
    wall_time_s: float | None
    workers: int | None
    gate: dict[str, Any]
    requirements: list[RequirementEntry]
    tests: list[TestEntry]
    folder: Path = Path(".")  # where results.json was read from (paths in it are relative to this)
    format: str = FORMAT

    @property
    def label(self) -> str:
        return f"{self.sdk} {self.sdk_version}"

    def requirement(self, rid: str) -> RequirementEntry | None:
        return next((r for r in self.requirements if r.id == rid), None)

    def test(self, nodeid: str) -> TestEntry | None:
        return next((t for t in self.tests if t.nodeid == nodeid), None)

    def path(self, relative: str | None) -> Path | None:
        """A path the file holds, resolved against the folder it was read from."""
        return None if not relative else (self.folder / relative)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("folder")
        data = {"format": data.pop("format"), **data}
        return data


def canonical_nodeid(nodeid: str) -> str:
    """A test's id as ``conformance/<file>::<name>`` wherever pytest ran: from this repository, from inside
    conformance/, or ``--pyargs conformance`` from an installed package (site-packages/...). The
    diff matches tests across runs by id, so ids must not depend on the folder a CI job ran in."""
    path, sep, rest = nodeid.partition("::")
    parts = Path(path).parts
    if "conformance" in parts:
        i = len(parts) - 1 - parts[::-1].index("conformance")
        path = "/".join(parts[i:])
    elif len(parts) == 1 and parts[0].startswith("test_"):
        path = f"conformance/{parts[0]}"
    return path + sep + rest


def status_reason(r: TestResult) -> str:
    """One line: why a test has its status (empty for a PASS)."""
    if r.status == PASS:
        return ""
    first = (r.message or "").strip().splitlines()[0] if (r.message or "").strip() else ""
    if r.not_implemented:
        return r.not_implemented
    if r.inconclusive:
        return r.inconclusive
    if r.at_defaults and first:
        return f"{r.at_defaults} -- not observed at the defaults: {first}"
    return first or r.status


def _requirement_reason(row: RequirementRow, levels: dict[str, str]) -> str:
    """Why a requirement has its status: the reason of the first test that gave it that status."""
    if row.status == PASS or not row.tests:
        return "" if row.tests else "no test of this run cites it"
    for t in row.tests:
        if outcome_for(t, row.requirement.id, levels) == row.status:
            return f"{t.nodeid.rsplit('::', 1)[-1]}: {status_reason(t)}"
    return ""


def _relative(path: str | Path | None, folder: Path) -> str | None:
    return relative_link(path, folder) if path else None


def build_results(report: MatrixReport, info: RunInfo) -> RunResults:
    folder = Path(report.out_dir)
    gate = report.gate
    gate_data: dict[str, Any] = {}
    if gate is not None:
        ctx = gate.context
        gate_data = {"verdict": gate.verdict, "tests": gate.tests, "requirements": gate.requirements,
                     "reasons": list(gate.reasons),
                     "context": {"tolerance": ctx.tolerance, "patches": [Path(p).name for p in ctx.patches],
                                 "strict": ctx.strict, "skip_at_defaults": ctx.skip_at_defaults}}
    tests = [TestEntry(nodeid=canonical_nodeid(t.nodeid), status=t.status, outcome=t.outcome, requirements=list(t.requirements),
                       duration=round(t.duration, 3), reason=status_reason(t), message=t.message,
                       at_defaults=t.at_defaults, history=_relative(t.history, folder),
                       timeline=_relative(report.timeline_of.get(t.nodeid), folder),
                       verdicts=[v.to_json() for v in t.verdicts])
             for t in report.results]
    reqs = [RequirementEntry(id=row.requirement.id, level=row.requirement.level,
                             title=_title(row), in_spec=row.in_spec, status=row.status,
                             reason=_requirement_reason(row, report.levels),
                             tests=[canonical_nodeid(t.nodeid) for t in row.tests])
            for row in report.rows]
    return RunResults(sdk=report.sdk, sdk_version=report.sdk_version, build=info.build, started=info.started,
                      wall_time_s=None if info.wall_time_s is None else round(info.wall_time_s, 1),
                      workers=info.workers, gate=gate_data, requirements=reqs, tests=tests, folder=folder)


def _title(row: RequirementRow) -> str:
    text = " ".join((row.requirement.text or "").split())
    return text if len(text) <= 200 else text[:197] + "..."


def write_results(report: MatrixReport, info: RunInfo) -> Path:
    """Write ``results.json`` into the report's folder; returns its path."""
    results = build_results(report, info)
    path = Path(report.out_dir) / FILENAME
    path.write_text(json.dumps(results.to_json(), indent=1), encoding="utf-8")
    return path


def load_results(path: Path | str) -> RunResults:
    """Read a run's results: ``path`` is results.json or the folder holding it."""
    p = Path(path)
    folder = p.parent if p.suffix == ".json" else p  # what the user named: the folder, or the file in it
    if p.suffix != ".json":
        p = p / FILENAME
    if not p.is_file():
        raise ResultsFileError(f"{p}: no such file. A conformance run writes it with "
                               f"`pytest conformance --sdk=NAME --conformance-report={folder}`")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultsFileError(f"{p}: not readable as JSON ({exc}); re-run the conformance run that wrote it") \
            from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ResultsFileError(f"{p}: format {found!r}, this checkout reads {FORMAT!r}; read it with the "
                               "version of the harness that wrote it, or re-run the conformance run")
    try:
        return RunResults(
            sdk=str(data["sdk"]), sdk_version=str(data["sdk_version"]), build=str(data.get("build", "")),
            started=str(data.get("started", "")), wall_time_s=data.get("wall_time_s"),
            workers=data.get("workers"), gate=dict(data.get("gate") or {}),
            requirements=[RequirementEntry(**r) for r in data["requirements"]],
            tests=[TestEntry(**t) for t in data["tests"]], folder=p.parent)
    except (KeyError, TypeError) as exc:
        raise ResultsFileError(f"{p}: missing or unexpected field ({exc}); the file is damaged or was edited; "
                               "re-run the conformance run that wrote it") from None
