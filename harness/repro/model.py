"""The words of a scenario file and what a parsed one is: field specs, ``Kind`` (one fault, action or
check, declared once in kinds.py), and the parsed ``Step``/``Expect``/``Scenario``.

Bottom of harness/repro: it imports nothing from the package, so the kinds' implementations
(steps.py, expect.py), their table (kinds.py), the parser (schema.py) and the runner all can use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.checks.windows import WorkerOptions

STATUS_CODES = ("OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
                "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
                "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
                "UNAUTHENTICATED")
METHODS = ("Hello", "StartInstance", "GetInstance", "WaitForInstanceStart", "WaitForInstanceCompletion",
           "RaiseEvent", "TerminateInstance", "PurgeInstances", "GetWorkItems", "CompleteActivityTask",
           "CompleteOrchestratorTask", "AbandonTaskActivityWorkItem", "AbandonTaskOrchestratorWorkItem")
STREAM_DIRS = ("both", "upstream", "downstream")
# HTTP/2 RST_STREAM error code -> the status grpc-core gives the client for it (status_conversion.cc),
# confirmed with real frames through harness/net/h2proxy (tests/net/test_h2proxy.py); the rst_stream
# kind sends the real frame, this table names what the SDK should see.
RST_STREAM_STATUS = {"CANCEL": "CANCELLED", "NO_ERROR": "INTERNAL", "REFUSED_STREAM": "UNAVAILABLE",
                     "ENHANCE_YOUR_CALM": "RESOURCE_EXHAUSTED", "INTERNAL_ERROR": "INTERNAL",
                     "PROTOCOL_ERROR": "INTERNAL"}
RST_STREAM_CODES = {"NO_ERROR": 0, "PROTOCOL_ERROR": 1, "INTERNAL_ERROR": 2, "REFUSED_STREAM": 7,
                    "CANCEL": 8, "ENHANCE_YOUR_CALM": 11}
WITHIN_NAMES = {
    "first_reconnect": "longest first reconnect wait: min(cap, 2*base) (harness/checks/windows.py)",
    "any_reconnect": "longest single backoff sleep: the backoff cap",
    "hello_timeout": "the worker's Hello deadline",
    "silent_timeout": "the worker's silent-disconnect timeout",
    "recreate": "longest time from a dead connection's last message to a Hello over a NEW connection: silent "
                "timeout + (N-1) Hello timeouts + N backoff windows (harness/checks/conn.py recreate_bound)",
}
# Names the run gives the workload's parts (the driver's activities and long-poll client).
PROBE = "probe"
WORK = "work"
LONG_POLL_CLIENT = "lp"

# The SDK a field report is about (top-level `sdk`): the --sdk names that have a driver
# (harness.sdk.ADAPTERS, checked against this list by tests/repro), the SDKs that have none, and "any" for a
# report about a server or network rather than one SDK. A file whose SDK has no driver runs against the
# reference build, and its verdict says so.
DRIVER_SDKS = ("python", "dapr-python", "go", "dapr-go", "js", "dapr-js", "java", "dapr-java")
NO_DRIVER_SDKS = ("dotnet", "dapr-dotnet")
ANY_SDK = "any"
REPORT_SDKS = DRIVER_SDKS + NO_DRIVER_SDKS + (ANY_SDK,)
REFERENCE_SDK = "python"  # the build a file runs against when its own SDK has no driver
# `expected = "fail"`: what the file reproduces ([expected_failure] kind).
FAILURE_KINDS = ("known-defect", "design-gap")

_TIME_KEYS = {"at", "for", "every", "within", "duration"}
_TIME_SUFFIXES = ("_at", "_every", "_s", "_seconds")


def is_time_key(key: str) -> bool:
    """True if the value under ``key`` is a time in seconds (scaled by ``scale``)."""
    return key in _TIME_KEYS or key.endswith(_TIME_SUFFIXES)


def num(x: Any) -> str:
    """A number as a file would write it (240, 0.5); anything else as text."""
    return f"{x:g}" if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)


# -- field specs and kinds -------------------------------------------------------------------------
@dataclass(frozen=True)
class F:
    """One field: its type, whether it is required, its default, its valid values and a doc line."""

    type: str  # time | number | int | str | bool | list | choice | methods | within | ref | step | table | array
    doc: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()


Undo = Callable[[], None]


@dataclass(frozen=True)
class Kind:
    """One step kind (a fault or an action) or one expectation check, declared once (kinds.py):
    its name, fields and doc (validation and ``--vocabulary`` read them) and what it does.

    Steps: ``apply(run, step, occurrence)`` does it when the step begins (run: a runner.ScenarioRun)
    and returns an undo called when its ``for`` ends (or at the end of the run), or None. A step of a
    kind with a ``for`` field ends when ``for`` has passed; ``ends_itself`` kinds record their own end
    (when the action finished); every other step ends as soon as it began. ``activities(step)``
    names activities the worker must be able to run for it.

    Checks: ``evaluate(judge, expect)`` returns the verdicts (expect.Judge: the history, the scenario
    and the tolerance). ``needs`` says what the file and the run must provide: "activities" (a
    workload activity or a queue_activities step), "long_poll" ([workload.long_poll]), "probe" (a
    probe activity queued at ``after``, which must then be a planned time), "tcp_samples" (the SDK
    process's TCP connections sampled during the run). A step kind's ``needs`` "h2proxy": the run puts
    the HTTP/2 frame-level fault proxy between Toxiproxy and the fake (``run.h2``)."""

    name: str
    group: str  # network | server | action | check
    doc: str
    fields: dict[str, F]
    approximates: str = ""  # set when the step cannot be done faithfully: what it does instead
    apply: Callable[[Any, Step, int], Undo | None] | None = None
    evaluate: Callable[[Any, Expect], list[Any]] | None = None
    ends_itself: bool = False
    activities: Callable[[Step], list[dict[str, Any]]] | None = None
    needs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.group == "check") != (self.evaluate is not None) or (self.group == "check") == (self.apply is not None):
            raise TypeError(f"kind {self.name}: a check needs `evaluate`, a fault or action needs `apply`")


# -- the parsed scenario ---------------------------------------------------------------------------
@dataclass
class Step:
    index: int  # 1-based, as in the file
    at: float  # scaled seconds after the scenario start
    kind: Kind
    params: dict[str, Any]  # validated, defaults filled, times scaled
    for_: float | None = None
    every: float | None = None
    repeat: int = 1
    note: str = ""
    raw_at: float = 0.0  # as written (field time)

    @property
    def name(self) -> str:
        return self.kind.name

    def occurrences(self) -> list[float]:
        return [self.at + i * (self.every or 0.0) for i in range(self.repeat)]

    def label(self) -> str:
        return f"step {self.index} (at={num(self.raw_at)}s)"


@dataclass
class Expect:
    index: int
    kind: Kind
    params: dict[str, Any]

    @property
    def name(self) -> str:
        return self.kind.name

    def label(self) -> str:
        return f"expect {self.index} ({self.kind.name})"


@dataclass(frozen=True)
class ExpectedFailure:
    """``expected = "fail"``: the file reproduces a known defect or a design gap, so the [[expect]]
    checks in ``expects`` (indexes) must fail, for the builds of ``sdks`` (empty: every build), and
    every other check must pass (runner.judge_outcome)."""

    kind: str  # one of FAILURE_KINDS
    expects: tuple[int, ...]  # the [[expect]] indexes that must fail, from `check`
    reason: str
    report: str  # where the defect or gap is recorded (an issue, PR or document)
    sdks: tuple[str, ...] = ()

    def applies_to(self, sdk: str | None) -> bool:
        return not self.sdks or sdk in self.sdks

    def labels(self, expects: list[Expect]) -> str:
        return ", ".join(e.label() for e in expects if e.index in self.expects)


@dataclass
class Scenario:
    path: Path
    title: str
    source: list[str]
    summary: str
    expected: str
    known_defect: str
    scale: float
    file_scale: float
    duration: float  # scaled
    worker_options: dict[str, Any] | None  # scaled, or None = the SDK's own defaults
    client_options: dict[str, Any] | None
    health_ping_every: float | None
    workload: dict[str, Any]
    steps: list[Step]
    expects: list[Expect]
    raw: dict[str, Any] = field(default_factory=dict)
    # The fake's lease mode ([server] lease_mode / lease_s; fakes/engine.py): what happens to the
    # unfinished work of a stream that ends -- redelivered "at_once", after "expiry", or "never".
    lease_mode: str = "at_once"
    lease_s: float | None = None  # scaled; only with lease_mode = "expiry"
    sdk: str | None = None  # the SDK the field report is about (REPORT_SDKS); None: the file names none
    expected_failure: ExpectedFailure | None = None  # set when expected = "fail"

    def expected_failure_for(self, sdk: str | None) -> ExpectedFailure | None:
        """The expected failure that holds for a run against ``sdk`` (an --sdk name), if any."""
        ef = self.expected_failure
        return ef if ef is not None and ef.applies_to(sdk) else None

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def options(self) -> WorkerOptions:
        """The worker options every window of the file derives from: the file's (scaled), else the
        documented defaults scaled."""
        return WorkerOptions(**(self.worker_options or scaled_defaults(self.scale)))

    def window(self, name: str) -> float:
        """A named window computed from the (scaled) worker options."""
        from harness.checks.windows import any_reconnect_bound, first_reconnect_bound
        opts = self.options
        if name == "first_reconnect":
            return first_reconnect_bound(opts)
        if name == "any_reconnect":
            return any_reconnect_bound(opts)
        if name == "hello_timeout":
            return opts.hello_timeout_seconds
        if name == "silent_timeout":
            return opts.silent_disconnect_timeout_seconds
        if name == "recreate":
            from harness.checks.conn import recreate_bound
            return recreate_bound(opts)
        raise KeyError(name)

    def within(self, spec: Any) -> float:
        """Sum of a `within` value (already scaled numbers, window names)."""
        items = spec if isinstance(spec, list) else [spec]
        return sum(self.window(i) if isinstance(i, str) else float(i) for i in items)

    def field_time(self, t: float) -> float:
        """A scaled time back in the report's (unscaled) seconds."""
        return t / self.scale if self.scale else t


def scaled_defaults(scale: float) -> dict[str, Any]:
    """The SDK's documented worker defaults, times multiplied by ``scale`` (counts are not)."""
    return {k: (v * scale if k != "channel_recreate_failure_threshold" else v)
            for k, v in WorkerOptions().as_dict().items()}
