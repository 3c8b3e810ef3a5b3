"""The scenario file format: parse a TOML file, validate it by hand, scale its times.

One rule decides which values are times (and so are multiplied by ``scale``): a key that is
``at``, ``for``, ``every``, ``within`` or ``duration``, or that ends in ``_at``, ``_every``, ``_s``
or ``_seconds``. Every time in the vocabulary below follows that rule (asserted at import), so a
reader of a file can tell a time from a count by its name alone.

Validation happens entirely before anything is started. Errors name the file, the place (a
step with its ``at``, an expectation with its ``check``, or a table) and the field, and an unknown
name lists the valid ones::

    scenarios/field/aca.toml: step 3 (at=240s): field 'code': unknown status 'UNAVAILBLE'; valid: OK, ...

The vocabulary (STEPS, CHECKS, tables) is data; ``python -m harness repro --vocabulary`` prints it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.checks.windows import WorkerOptions

try:
    import tomllib  # Python 3.11+
except ModuleNotFoundError:  # Python 3.10: the same parser as the tomli package
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError:
        tomllib = None  # type: ignore[assignment]

STATUS_CODES = ("OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
                "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
                "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
                "UNAUTHENTICATED")
METHODS = ("Hello", "StartInstance", "GetInstance", "WaitForInstanceStart", "WaitForInstanceCompletion",
           "RaiseEvent", "TerminateInstance", "PurgeInstances", "GetWorkItems", "CompleteActivityTask",
           "CompleteOrchestratorTask", "AbandonTaskActivityWorkItem", "AbandonTaskOrchestratorWorkItem")
STREAM_DIRS = ("both", "upstream", "downstream")
# HTTP/2 RST_STREAM error code -> the status grpc-core gives the client for it (status_conversion.cc);
# the fake cannot send RST_STREAM, so it aborts the stream with that status instead.
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
}

_TIME_KEYS = {"at", "for", "every", "within", "duration"}
_TIME_SUFFIXES = ("_at", "_every", "_s", "_seconds")


def is_time_key(key: str) -> bool:
    """True if the value under ``key`` is a time in seconds (scaled by ``scale``)."""
    return key in _TIME_KEYS or key.endswith(_TIME_SUFFIXES)


# -- field specs -------------------------------------------------------------------------------
@dataclass(frozen=True)
class F:
    """One field: its type, whether it is required, its default, its valid values and a doc line."""

    type: str  # time | number | int | str | bool | choice | methods | within | ref | step
    doc: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()


def _stream(default: str = "both") -> F:
    return F("choice", "which direction: client->server (upstream), server->client (downstream) or both",
             default=default, choices=STREAM_DIRS)


_FOR = F("time", "how long the fault lasts; omitted = until the scenario ends")


@dataclass(frozen=True)
class Kind:
    """A step kind (fault or action) or an expectation check."""

    name: str
    group: str  # network | server | action | check
    doc: str
    fields: dict[str, F]
    approximates: str = ""  # set when the step cannot be done faithfully: what it does instead


NETWORK = [
    Kind("blackhole", "network", "Toxiproxy `timeout` toxic with timeout=0: bytes are dropped, the TCP "
         "connection stays open. Clearing it CLOSES the connections it was on (Toxiproxy).",
         {"stream": _stream(), "for": _FOR}),
    Kind("latency", "network", "Toxiproxy `latency` toxic: every chunk is delayed by latency_s +- jitter_s.",
         {"latency_s": F("time", "delay per chunk", required=True),
          "jitter_s": F("time", "random +- jitter", default=0.0), "stream": _stream("downstream"), "for": _FOR}),
    Kind("bandwidth", "network", "Toxiproxy `bandwidth` toxic (not scaled: a rate is not a time).",
         {"rate_kbps": F("int", "KB/s (1 KB = 1000 bytes)", required=True), "stream": _stream("downstream"),
          "for": _FOR}),
    Kind("limit_data", "network", "Toxiproxy `limit_data` toxic: forward `bytes` more bytes per connection, "
         "then close it.", {"bytes": F("int", "bytes", required=True), "stream": _stream("downstream"),
                            "for": _FOR}),
    Kind("slow_close", "network", "Toxiproxy `slow_close` toxic: hold a close (FIN) for delay_s.",
         {"delay_s": F("time", "delay", required=True), "stream": _stream("downstream"), "for": _FOR}),
    Kind("reset_peer", "network", "Toxiproxy `reset_peer` toxic. An RST only for connections accepted while "
         "it exists; an ESTABLISHED connection gets a FIN on its next chunk (measured; harness/net/link.py). "
         "For an RST on the live connection use tcp_reset.",
         {"timeout_s": F("time", "wait this long after the next chunk, then close", default=0.0),
          "stream": _stream("downstream"), "for": _FOR}),
    Kind("tcp_reset", "network", "a real TCP RST on every established connection of the SDK process to the "
         "proxy (`ss -K`; needs root).", {}),
    Kind("down", "network", "Toxiproxy proxy disabled: connections closed now, new ones refused "
         "(ECONNREFUSED) until `for` ends.", {"for": _FOR}),
]
SERVER = [
    Kind("abort_stream", "server", "the fake ends every open GetWorkItems stream now with grpc-status `code` "
         "and grpc-message `message` (trailers-only HEADERS with END_STREAM).",
         {"code": F("choice", "grpc status", required=True, choices=STATUS_CODES),
          "message": F("str", "grpc-message", default="")}),
    Kind("end_stream_ok", "server", "the fake ends every open GetWorkItems stream now with status OK.",
         {"message": F("str", "recorded reason", default="")}),
    Kind("rst_stream", "server", "the server resets the GetWorkItems stream with HTTP/2 RST_STREAM.",
         {"error_code": F("choice", "HTTP/2 error code", default="CANCEL", choices=tuple(RST_STREAM_STATUS))},
         approximates="grpcio cannot send RST_STREAM: the fake aborts the stream with the status grpc-core "
         "reports for that code (CANCEL -> CANCELLED, NO_ERROR before trailers -> INTERNAL, REFUSED_STREAM -> "
         "UNAVAILABLE) and the message 'Received RST_STREAM with error code N'. The client sees the same "
         "status; the frames on the wire differ (trailers instead of RST_STREAM)."),
    Kind("goaway", "server", "graceful drain like a DTS rolling upgrade: with `handover` a new server "
         "generation listens on the same port first; open streams end with OK, then HTTP/2 GOAWAY and the old "
         "server stops after grace_s.",
         {"grace_s": F("time", "drain grace", default=1.0), "handover": F("bool", "no refused connects", default=True)}),
    Kind("restart_server", "server", "hard server restart: every connection drops (UNAVAILABLE); with `for` "
         "the port refuses connections for that long before the new server listens.",
         {"grace_s": F("time", "stop grace", default=0.0), "for": F("time", "downtime", default=0.0)}),
    Kind("idle_cutoff", "server", "a load balancer rule: any GetWorkItems stream idle for after_s (no message "
         "since its last one, or since it started with since=\"stream_start\") is ended with `code`/`message` "
         "(ACA: UNKNOWN 'stream timeout' at 240 s). Applies to every stream while in force.",
         {"after_s": F("time", "idle time before the cut", required=True),
          "code": F("choice", "grpc status of the cut", default="UNKNOWN", choices=STATUS_CODES),
          "message": F("str", "grpc-message", default="stream timeout"),
          "since": F("choice", "what resets the idle clock", default="last_message",
                     choices=("last_message", "stream_start")),
          "for": _FOR}),
    Kind("stop_health_pings", "server", "the fake stops sending HealthPing messages (resumes after `for`).",
         {"for": _FOR}),
    Kind("health_pings", "server", "the fake sends a HealthPing every every_s on idle streams.",
         {"every_s": F("time", "cadence", required=True)}),
    Kind("hang", "server", "calls of `method` get no answer (streams: no headers, no messages) until the "
         "client gives up.", {"method": F("choice", "RPC", required=True, choices=METHODS),
                              "count": F("int", "how many calls (0 = every call while in force)", default=1),
                              "for": _FOR}),
    Kind("reject", "server", "calls of `method` are answered at once with `code` (streams: before any message).",
         {"method": F("choice", "RPC", required=True, choices=METHODS),
          "code": F("choice", "grpc status", default="UNAVAILABLE", choices=STATUS_CODES),
          "message": F("str", "grpc-message", default="injected"),
          "count": F("int", "how many calls (0 = every call while in force)", default=1), "for": _FOR}),
    Kind("long_poll_cutoff", "server", "WaitForInstanceCompletion/WaitForInstanceStart calls that are still "
         "waiting after_s after they started are ended with `code` (DTS: 504 -> DEADLINE_EXCEEDED at 240 s).",
         {"after_s": F("time", "cut after", required=True),
          "code": F("choice", "grpc status", default="DEADLINE_EXCEEDED", choices=STATUS_CODES),
          "message": F("str", "grpc-message", default="idle request limit"),
          "count": F("int", "how many calls (0 = every call while in force)", default=0), "for": _FOR}),
]
ACTIONS = [
    Kind("stop_worker", "action", "the app stops the worker (worker.stop()); the step ends when stop() "
         "returns (the harness waits up to 30 s, not scaled: it is a bound, not a behaviour).", {}),
    Kind("start_worker", "action", "the app starts the worker (again).", {}),
    Kind("queue_activities", "action", "the server queues standalone activities (work for the worker).",
         {"count": F("int", "how many", default=1), "duration_s": F("time", "each one's run time", default=0.0)}),
    Kind("probe", "action", "the server queues one instant probe activity (a working stream completes it).", {}),
    Kind("mark", "action", "only a marker in the timeline.", {}),
]
STEP_KINDS: dict[str, Kind] = {k.name: k for k in NETWORK + SERVER + ACTIONS}
FAULTS = [k.name for k in NETWORK + SERVER]
ACTION_NAMES = [k.name for k in ACTIONS]

_AFTER = F("ref", "reference point: \"start\"; \"step N\" (when step N began; its last repetition unless "
           "each = true); \"step N end\" (when its `for` ended, or the action finished); \"activity\" (when "
           "the workload activity was queued); \"server_close\" (when the server decided to end a GetWorkItems "
           "stream: an abort/cut/RST; the last one unless each = true)", required=True)
_WITHIN = F("within", "bound in seconds (scaled): a number, a window name (" + ", ".join(WITHIN_NAMES)
            + ") or a list summed, e.g. [\"hello_timeout\", \"first_reconnect\"]; the run's timing "
            "tolerance is added once", required=True)
_EACH = F("bool", "check after every repetition of the referenced step", default=False)

CHECKS_LIST = [
    Kind("reconnected_within", "check", "a new GetWorkItems stream reaches the server within `within` of `after` "
         "(checks.worker.reconnected_within).", {"after": _AFTER, "within": _WITHIN, "each": _EACH}),
    Kind("hello_within", "check", "the next Hello (connect attempt) within `within` of `after` "
         "(checks.worker.hello_within).", {"after": _AFTER, "within": _WITHIN, "each": _EACH}),
    Kind("working_stream_within", "check", "a WORKING GetWorkItems stream again: a probe activity queued at "
         "`after` is completed within `within` (checks.worker.work_completed).", {"after": _AFTER, "within": _WITHIN}),
    Kind("stream_abandoned_after_silence", "check", "the stream that was open when step `step` began is given "
         "up silent_timeout after its last message (checks.worker.stream_abandoned_after_silence).",
         {"step": F("step", "the step that silenced the stream", required=True)}),
    Kind("activity_completed_within", "check", "every workload activity is completed within `within` of "
         "`after` (default: when it was queued) (checks.worker.work_completed).",
         {"after": F("ref", _AFTER.doc, default="activity"), "within": _WITHIN}),
    Kind("exactly_once", "check", "every workload activity's result is delivered exactly once "
         "(checks.worker.exactly_once).", {}),
    Kind("activity_runs_at_most", "check", "the app ran each workload activity at most `at_most` times "
         "(checks.field.activity_runs_at_most).", {"at_most": F("int", "runs", default=1)}),
    Kind("no_request_after", "check", "no request of `methods` (default all) reaches the server after `after` "
         "(checks.worker.no_rpc_after).", {"after": _AFTER, "methods": F("methods", "RPC names", default=())}),
    Kind("max_connections", "check", "at most `at_most` TCP connections from the SDK process to the server "
         "were open at any sample (checks.conn.max_open_connections).", {"at_most": F("int", "connections",
                                                                                   required=True)}),
    Kind("no_channel_recreated", "check", "no SDK-owned channel created between `after` and `before` "
         "(checks.client.no_sdk_channel_created).", {"after": _AFTER, "before": F("ref", "end of the window (default: "
                                                                              "end of the run)")}),
    Kind("channel_recreated", "check", "an SDK-owned channel is created between `after` and `before` "
         "(checks.client.sdk_channel_created).", {"after": _AFTER, "before": F("ref", "end of the window")}),
    Kind("stream_lasted_at_least", "check", "the first GetWorkItems stream stayed open at least `min_s` "
         "(checks.field.stream_lasted_at_least).", {"min_s": F("time", "minimum lifetime", required=True)}),
    Kind("retried_after_fault", "check", "every call of `method` the server faulted (hang/reject/cut) is "
         "followed by a new call of that method within `within` of the faulted call's start "
         "(checks.field.retried_after_fault).", {"method": F("choice", "RPC", required=True, choices=METHODS),
                                             "within": _WITHIN}),
    Kind("long_polls_returned", "check", "every long poll of the workload returned the orchestration's final "
         "state (no exception) (checks.field.client_calls_succeeded).", {}),
]
CHECKS: dict[str, Kind] = {k.name: k for k in CHECKS_LIST}

STEP_COMMON = {
    "at": F("time", "when the step begins, seconds after the scenario start", required=True),
    "fault": F("str", "a fault name (network or server)"),
    "action": F("str", "an action name"),
    "every": F("time", "repeat the step with this period"),
    "repeat": F("int", "number of occurrences (with `every`)", default=1),
    "note": F("str", "free text shown in the timeline"),
}
TOP = {
    "title": F("str", "one line", required=True),
    "source": F("list", "the field report(s): issue/PR references, field-reports.md number", required=True),
    "summary": F("str", "what happened in the field and what this reproduces"),
    "expected": F("choice", "the verdict a correct SDK build gets", required=True, choices=("pass",)),
    "known_defect": F("str", "SDK builds known to fail this and why"),
    "scale": F("number", "multiplies every time in the file (default 1.0)", default=1.0),
    "duration": F("time", "how long the timeline runs before the checks (default: last step + 2 s unscaled)"),
    "sdk": F("table", "[sdk.worker] / [sdk.client] options"),
    "server": F("table", "[server] fake server settings"),
    "workload": F("table", "[workload] what the app does"),
    "step": F("array", "[[step]] the timeline"),
    "expect": F("array", "[[expect]] the expectations"),
}
SDK_WORKER = {k: F("int" if k == "channel_recreate_failure_threshold" else "time", "worker resiliency option")
              for k in WorkerOptions().as_dict()}
SDK_CLIENT = {"channel_recreate_failure_threshold": F("int", "client resiliency option"),
              "min_recreate_interval_seconds": F("time", "client resiliency option")}
SERVER_TABLE = {"health_ping_every": F("time", "the fake's HealthPing cadence; omitted = no pings "
                                               "(daprd / durabletask-go sidecar)")}
WORKLOAD = {
    "worker": F("bool", "start a worker", default=True),
    "worker_at": F("time", "when the worker starts", default=0.0),
    "worker_channel": F("choice", "who owns the channel", default="sdk", choices=("sdk", "caller")),
    "activity": F("table", "[workload.activity]"),
    "long_poll": F("table", "[workload.long_poll]"),
}
ACTIVITY = {
    "at": F("time", "when the server queues it", default=0.0),
    "duration_s": F("time", "how long the activity body runs", required=True),
    "count": F("int", "how many", default=1),
}
LONG_POLL = {
    "at": F("time", "when the client starts", default=0.0),
    "client": F("choice", "sync or async client", default="sync", choices=("sync", "async")),
    "timeout_s": F("time", "the caller's timeout of each wait", required=True),
    "count": F("int", "how many waits, one after the other", default=1),
    "finishes_at": F("time", "the awaited orchestration finishes then (omitted = never)"),
}


def _check_time_rule() -> None:
    tables = [STEP_COMMON, TOP, SDK_WORKER, SDK_CLIENT, SERVER_TABLE, WORKLOAD, ACTIVITY, LONG_POLL]
    tables += [k.fields for k in STEP_KINDS.values()] + [k.fields for k in CHECKS.values()]
    for t in tables:
        for key, spec in t.items():
            is_time = spec.type == "time" or (spec.type == "within")
            assert is_time == is_time_key(key), f"field {key!r} breaks the time-naming rule"


_check_time_rule()


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
        return f"step {self.index} (at={_num(self.raw_at)}s)"


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

    @property
    def name(self) -> str:
        return self.path.stem

    def window(self, name: str) -> float:
        """A named window computed from the (scaled) worker options."""
        from harness.checks.windows import any_reconnect_bound, first_reconnect_bound
        opts = WorkerOptions(**(self.worker_options or _scaled_defaults(self.scale)))
        if name == "first_reconnect":
            return first_reconnect_bound(opts)
        if name == "any_reconnect":
            return any_reconnect_bound(opts)
        if name == "hello_timeout":
            return opts.hello_timeout_seconds
        if name == "silent_timeout":
            return opts.silent_disconnect_timeout_seconds
        raise KeyError(name)

    def within(self, spec: Any) -> float:
        """Sum of a `within` value (already scaled numbers, window names)."""
        items = spec if isinstance(spec, list) else [spec]
        return sum(self.window(i) if isinstance(i, str) else float(i) for i in items)

    def field_time(self, t: float) -> float:
        """A scaled time back in the report's (unscaled) seconds."""
        return t / self.scale if self.scale else t


def _scaled_defaults(scale: float) -> dict[str, Any]:
    return {k: (v * scale if k != "channel_recreate_failure_threshold" else v)
            for k, v in WorkerOptions().as_dict().items()}


class ScenarioError(ValueError):
    """A scenario file is not valid; ``errors`` lists every problem, each naming file, place and field."""

    def __init__(self, path: Path | str, errors: list[str]) -> None:
        self.path = str(path)
        self.errors = errors
        super().__init__("\n".join(f"{self.path}: {e}" for e in errors))


# -- validation -----------------------------------------------------------------------------------------
def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)


def _unknown(what: str, value: Any, valid: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(value), list(valid), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown {what} {value!r}{hint}; valid: {', '.join(valid)}"


_REF = re.compile(r"^(start|activity|server_close|step (\d+)( end)?)$")


class _Validator:
    def __init__(self, path: Path, scale: float) -> None:
        self.path = path
        self.scale = scale
        self.errors: list[str] = []

    def err(self, where: str, fld: str | None, msg: str) -> None:
        self.errors.append(f"{where}: field '{fld}': {msg}" if fld else f"{where}: {msg}")

    def value(self, where: str, key: str, spec: F, v: Any, nsteps: int = 0) -> Any:
        t = spec.type
        bad = object()
        out: Any = bad
        if t in ("time", "number"):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                if v < 0:
                    self.err(where, key, f"must be >= 0, got {_num(v)}")
                    return None
                out = float(v) * (self.scale if t == "time" else 1.0)
            else:
                self.err(where, key, f"expected a number of seconds, got {v!r}" if t == "time"
                         else f"expected a number, got {v!r}")
                return None
        elif t == "int":
            if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
                out = v
            else:
                self.err(where, key, f"expected a whole number >= 0, got {v!r}")
                return None
        elif t == "bool":
            if isinstance(v, bool):
                out = v
            else:
                self.err(where, key, f"expected true or false, got {v!r}")
                return None
        elif t == "str":
            if isinstance(v, str):
                out = v
            else:
                self.err(where, key, f"expected a string, got {v!r}")
                return None
        elif t == "list":
            vals = [v] if isinstance(v, str) else v
            if isinstance(vals, list) and all(isinstance(x, str) for x in vals):
                out = list(vals)
            else:
                self.err(where, key, f"expected a string or a list of strings, got {v!r}")
                return None
        elif t == "choice":
            if v in spec.choices:
                out = v
            else:
                what = "status" if spec.choices == STATUS_CODES else "method" if spec.choices == METHODS else "value"
                self.err(where, key, _unknown(what, v, spec.choices))
                return None
        elif t == "methods":
            vals = [v] if isinstance(v, str) else v
            if not isinstance(vals, list):
                self.err(where, key, f"expected a method name or a list of them, got {v!r}")
                return None
            for m in vals:
                if m not in METHODS:
                    self.err(where, key, _unknown("method", m, METHODS))
                    return None
            out = tuple(vals)
        elif t == "within":
            items = v if isinstance(v, list) else [v]
            res: list[Any] = []
            for i in items:
                if isinstance(i, str):
                    if i not in WITHIN_NAMES:
                        self.err(where, key, _unknown("window", i, tuple(WITHIN_NAMES)))
                        return None
                    res.append(i)
                elif isinstance(i, (int, float)) and not isinstance(i, bool) and i >= 0:
                    res.append(float(i) * self.scale)
                else:
                    self.err(where, key, f"expected seconds, a window name or a list of them, got {i!r}")
                    return None
            out = res
        elif t == "ref":
            m = _REF.match(v) if isinstance(v, str) else None
            if m is None:
                self.err(where, key, "expected \"start\", \"activity\", \"server_close\", \"step N\" or "
                         f"\"step N end\", got {v!r}")
                return None
            if m.group(2) is not None and not 1 <= int(m.group(2)) <= nsteps:
                self.err(where, key, f"{v!r}: there is no step {m.group(2)} (the file has {nsteps} step(s))")
                return None
            out = v
        elif t == "step":
            if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= nsteps:
                out = v
            else:
                self.err(where, key, f"expected a step number 1..{nsteps}, got {v!r}")
                return None
        return None if out is bad else out

    def table(self, where: str, raw: Any, specs: dict[str, F], *, skip: tuple[str, ...] = (),
              nsteps: int = 0) -> dict[str, Any]:
        if not isinstance(raw, dict):
            self.err(where, None, f"expected a table, got {raw!r}")
            return {}
        out: dict[str, Any] = {}
        for key, v in raw.items():
            if key in skip:
                continue
            if key not in specs:
                msg = _unknown("field", key, [k for k in specs if k not in skip])
                if key in TOP and where != "top level":
                    msg += (f"; '{key}' is a top-level key: in TOML it must come before the first [table] "
                            "or [[array]] header, otherwise it belongs to the table above it")
                self.err(where, key, msg)
                continue
            if specs[key].type in ("table", "array"):
                continue
            val = self.value(where, key, specs[key], v, nsteps)
            if val is not None:
                out[key] = val
        for key, spec in specs.items():
            if key in skip or spec.type in ("table", "array"):
                continue
            if key not in raw:
                if spec.required:
                    self.err(where, key, "required field is missing")
                elif spec.default is not None:
                    d = spec.default
                    out[key] = d * self.scale if spec.type == "time" and isinstance(d, (int, float)) else d
        return out


def load_scenario(path: Path | str, *, scale: float | None = None) -> Scenario:
    """Parse and validate a scenario file. ``scale`` overrides the file's. Starts nothing."""
    path = Path(path)
    if tomllib is None:
        raise ScenarioError(path, ["reading TOML needs Python 3.11+ (tomllib) or `pip install tomli` on 3.10"])
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ScenarioError(path, [f"cannot read the file: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, [f"not valid TOML: {exc}"]) from None
    return parse_scenario(raw, path, scale=scale)


def parse_scenario(raw: dict[str, Any], path: Path | str = "<scenario>", *, scale: float | None = None) -> Scenario:
    path = Path(path)
    file_scale = raw.get("scale", 1.0)
    pre = _Validator(path, 1.0)
    if not isinstance(file_scale, (int, float)) or isinstance(file_scale, bool) or file_scale <= 0:
        pre.err("top level", "scale", f"expected a number > 0, got {file_scale!r}")
        raise ScenarioError(path, pre.errors)
    if scale is not None and scale <= 0:
        raise ScenarioError(path, [f"scale override: expected a number > 0, got {scale}"])
    eff = float(scale if scale is not None else file_scale)
    v = _Validator(path, eff)
    steps_raw = raw.get("step", [])
    if not isinstance(steps_raw, list):
        v.err("top level", "step", "expected [[step]] tables")
        steps_raw = []
    nsteps = len(steps_raw)
    top = v.table("top level", raw, TOP, skip=("scale",))

    sdk = raw.get("sdk", {})
    worker_opts = client_opts = None
    if not isinstance(sdk, dict):
        v.err("[sdk]", None, f"expected a table, got {sdk!r}")
    else:
        for key in sdk:
            if key not in ("worker", "client"):
                v.err("[sdk]", key, _unknown("table", key, ("worker", "client")))
        if "worker" in sdk:
            worker_opts = {**_scaled_defaults(eff), **v.table("[sdk.worker]", sdk["worker"], SDK_WORKER)}
        elif eff != 1.0:
            worker_opts = _scaled_defaults(eff)  # the SDK's documented defaults, scaled like everything else
        if "client" in sdk:
            client_opts = v.table("[sdk.client]", sdk["client"], SDK_CLIENT)
    server = v.table("[server]", raw.get("server", {}), SERVER_TABLE)
    wl_raw = raw.get("workload", {})
    workload = v.table("[workload]", wl_raw, WORKLOAD)
    if isinstance(wl_raw, dict):
        if "activity" in wl_raw:
            workload["activity"] = v.table("[workload.activity]", wl_raw["activity"], ACTIVITY)
        if "long_poll" in wl_raw:
            workload["long_poll"] = v.table("[workload.long_poll]", wl_raw["long_poll"], LONG_POLL)

    steps: list[Step] = []
    for i, s in enumerate(steps_raw, 1):
        at = s.get("at") if isinstance(s, dict) else None
        where = f"step {i} (at={_num(at)}s)" if isinstance(at, (int, float)) else f"step {i}"
        if not isinstance(s, dict):
            v.err(where, None, f"expected a table, got {s!r}")
            continue
        has_f, has_a = "fault" in s, "action" in s
        if has_f == has_a:
            v.err(where, "fault", "give exactly one of 'fault' or 'action'; faults: " + ", ".join(FAULTS)
                  + "; actions: " + ", ".join(ACTION_NAMES))
            continue
        name = s["fault"] if has_f else s["action"]
        valid = FAULTS if has_f else ACTION_NAMES
        if name not in valid:
            v.err(where, "fault" if has_f else "action", _unknown("fault" if has_f else "action", name, valid))
            continue
        kind = STEP_KINDS[name]
        specs = {**STEP_COMMON, **kind.fields}
        common = v.table(where, s, specs)
        params = {k: common.pop(k) for k in list(common) if k in kind.fields}
        every, repeat = common.get("every"), common.get("repeat", 1)
        if repeat > 1 and not every:
            v.err(where, "every", "required when repeat > 1")
        if every and repeat == 1:
            v.err(where, "repeat", "give the number of occurrences when 'every' is set")
        if common.get("at") is None:
            continue
        steps.append(Step(i, common["at"], kind, params, params.pop("for", None), every, repeat,
                          common.get("note", ""), float(at)))

    expects: list[Expect] = []
    ex_raw = raw.get("expect", [])
    if not isinstance(ex_raw, list) or not ex_raw:
        v.err("top level", "expect", "at least one [[expect]] table is required; checks: " + ", ".join(CHECKS))
        ex_raw = ex_raw if isinstance(ex_raw, list) else []
    for i, e in enumerate(ex_raw, 1):
        name = e.get("check") if isinstance(e, dict) else None
        where = f"expect {i} ({name})" if isinstance(name, str) else f"expect {i}"
        if not isinstance(e, dict):
            v.err(where, None, f"expected a table, got {e!r}")
            continue
        if name not in CHECKS:
            v.err(where, "check", _unknown("check", name, tuple(CHECKS)) if name is not None
                  else "required field is missing; checks: " + ", ".join(CHECKS))
            continue
        kind = CHECKS[name]
        params = v.table(where, e, {"check": F("str", "the check"), **kind.fields}, nsteps=nsteps)
        params.pop("check", None)
        expects.append(Expect(i, kind, params))
        if name in ("activity_completed_within", "exactly_once", "activity_runs_at_most") and \
                "activity" not in workload and not any(st.name == "queue_activities" for st in steps):
            v.err(where, "check", "needs activities: add [workload.activity] or a queue_activities step")
        if name == "long_polls_returned" and "long_poll" not in workload:
            v.err(where, "check", "needs [workload.long_poll]")
        if name == "working_stream_within" and params.get("after") == "server_close":
            v.err(where, "after", "a probe needs a planned time: use \"step N\" or \"step N end\"")
        if params.get("after") == "activity" and "activity" not in workload:
            v.err(where, "after", "\"activity\" needs [workload.activity]")
    if v.errors:
        raise ScenarioError(path, v.errors)

    ends = [occ + (st.for_ or 0.0) for st in steps for occ in st.occurrences()]
    last = max(ends + [workload.get("worker_at", 0.0)])
    if "activity" in workload:
        a = workload["activity"]
        last = max(last, a["at"] + a["duration_s"])
    if "long_poll" in workload:
        lp = workload["long_poll"]
        last = max(last, lp["at"] + lp["timeout_s"] * lp["count"])
    duration = top.get("duration", last + 2.0)
    return Scenario(path, top["title"], top["source"], top.get("summary", ""), top["expected"],
                    top.get("known_defect", ""), eff, float(file_scale), duration, worker_opts, client_opts,
                    server.get("health_ping_every"), workload, steps, expects, raw)


def vocabulary() -> str:
    """The whole vocabulary as text (``python -m harness repro --vocabulary``)."""
    out = []

    def fields(fs: dict[str, F]) -> None:
        for k, f in fs.items():
            req = "required" if f.required else (f"default {f.default!r}" if f.default not in (None, ()) else "optional")
            ch = f" [{' | '.join(f.choices)}]" if f.choices and f.choices not in (STATUS_CODES, METHODS) else ""
            ch = ch or (" [a grpc status name]" if f.choices == STATUS_CODES else
                        " [an RPC name]" if f.choices == METHODS else "")
            out.append(f"      {k:<16} {f.type:<7} {req}: {f.doc}{ch}")

    for title, kinds in (("FAULTS (network, through Toxiproxy)", NETWORK), ("FAULTS (server, the fake)", SERVER),
                         ("ACTIONS", ACTIONS), ("CHECKS ([[expect]] check = ...)", CHECKS_LIST)):
        out.append(title)
        for k in kinds:
            out.append(f"  {k.name}: {k.doc}")
            if k.approximates:
                out.append(f"    APPROXIMATES: {k.approximates}")
            fields(k.fields)
    out.append("Every step also takes: at (required), every, repeat, note. Times are scaled by `scale`.")
    return "\n".join(out)
