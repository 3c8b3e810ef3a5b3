"""The scenario file format: parse a TOML file, validate it by hand, scale its times.

One rule decides which values are times (and so are multiplied by ``scale``): a key that is
``at``, ``for``, ``every``, ``within`` or ``duration``, or that ends in ``_at``, ``_every``, ``_s``
or ``_seconds``. Every time in the vocabulary below follows that rule (asserted at import), so a
reader of a file can tell a time from a count by its name alone.

Validation happens entirely before anything is started. Errors name the file, the place (a
step with its ``at``, an expectation with its ``check``, or a table) and the field, and an unknown
name lists the valid ones::

    scenarios/field/aca.toml: step 3 (at=240s): field 'code': unknown status 'UNAVAILBLE'; valid: OK, ...

The vocabulary is data: the faults, actions and checks in kinds.py (one entry per kind), the tables
below; ``python -m harness repro --vocabulary`` prints it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fakes.engine import LEASE_MODES
from harness.checks.windows import WorkerOptions
from harness.repro.kinds import (
    ACTION_NAMES,
    ACTIONS,
    CHECKS,
    CHECKS_LIST,
    FAULTS,
    FRAMES,
    NETWORK,
    SERVER,
    STEP_KINDS,
)
from harness.repro.model import (
    FAILURE_KINDS,
    METHODS,
    NO_DRIVER_SDKS,
    REPORT_SDKS,
    RST_STREAM_CODES,
    RST_STREAM_STATUS,
    STATUS_CODES,
    STREAM_DIRS,
    WITHIN_NAMES,
    Expect,
    ExpectedFailure,
    F,
    Kind,
    Scenario,
    Step,
    is_time_key,
    num,
    scaled_defaults,
)

try:
    import tomllib  # Python 3.11+
except ModuleNotFoundError:  # Python 3.10: the same parser as the tomli package
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError:
        tomllib = None  # type: ignore[assignment]

__all__ = ["ACTIONS", "ACTION_NAMES", "CHECKS", "CHECKS_LIST", "FAULTS", "METHODS", "NETWORK", "RST_STREAM_CODES",
           "RST_STREAM_STATUS", "SERVER", "STATUS_CODES", "STEP_KINDS", "STREAM_DIRS", "WITHIN_NAMES", "Expect", "F",
           "ExpectedFailure", "Kind", "Scenario", "ScenarioError", "Step", "check_tolerance", "is_time_key", "load_scenario",
           "parse_scenario", "tolerance_windows", "vocabulary"]

# -- the tables of a file (the kinds' own fields are in kinds.py) -----------------------------------
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
    "sdk": F("choice", "the SDK the field report is about: the run uses it unless --sdk says otherwise; one "
                       f"without a driver ({', '.join(NO_DRIVER_SDKS)}) or \"any\" (a server or network "
                       "report) runs against the reference build (python)", choices=REPORT_SDKS),
    "expected": F("choice", "\"pass\": the verdict a correct SDK build gets; \"fail\": the file reproduces a "
                            "known defect or a design gap, stated in [expected_failure]", required=True,
                  choices=("pass", "fail")),
    "known_defect": F("str", "SDK builds known to fail this and why (free text, printed on a FAIL)"),
    "scale": F("number", "multiplies every time in the file (default 1.0)", default=1.0),
    "duration": F("time", "how long the timeline runs before the checks (default: last step + 2 s unscaled)"),
    "worker_options": F("table", "[worker_options] the worker's resiliency options"),
    "client_options": F("table", "[client_options] the client's resiliency options"),
    "expected_failure": F("table", "[expected_failure] what must fail when expected = \"fail\""),
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
                                               "(daprd / durabletask-go sidecar)"),
                "lease_mode": F("choice", "what the server does with the unfinished work of a stream that ends: "
                                "redeliver it at once (daprd), after its lease expires (lease_s after the "
                                "delivery), or never (only its own completion finishes it)",
                                default="at_once", choices=LEASE_MODES),
                "lease_s": F("time", "how long a lease lasts from the delivery (lease_mode = \"expiry\" only)")}
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
EXPECTED_FAILURE = {
    "kind": F("choice", "what the file reproduces", required=True, choices=FAILURE_KINDS),
    "check": F("list", "the [[expect]] check(s) that must fail: a check name used by one [[expect]], or "
                       "\"expect N\"", required=True),
    "reason": F("str", "why they fail (the defect, or the promise no SDK design makes)", required=True),
    "report": F("str", "where the defect or gap is recorded: an issue or PR link, a document", required=True),
    "sdks": F("list", "the --sdk names whose builds have it (omitted: every build); other builds are "
                      "expected to pass"),
}
LONG_POLL = {
    "at": F("time", "when the client starts", default=0.0),
    "client": F("choice", "sync or async client", default="sync", choices=("sync", "async")),
    "timeout_s": F("time", "the caller's timeout of each wait", required=True),
    "count": F("int", "how many waits, one after the other", default=1),
    "finishes_at": F("time", "the awaited orchestration finishes then (omitted = never)"),
}


def _check_time_rule() -> None:
    tables = [STEP_COMMON, TOP, SDK_WORKER, SDK_CLIENT, SERVER_TABLE, WORKLOAD, ACTIVITY, LONG_POLL,
              EXPECTED_FAILURE]
    tables += [k.fields for k in STEP_KINDS.values()] + [k.fields for k in CHECKS.values()]
    for t in tables:
        for key, spec in t.items():
            is_time = spec.type == "time" or (spec.type == "within")
            assert is_time == is_time_key(key), f"field {key!r} breaks the time-naming rule"


_check_time_rule()


class ScenarioError(ValueError):
    """A scenario file is not valid; ``errors`` lists every problem, each naming file, place and field."""

    def __init__(self, path: Path | str, errors: list[str]) -> None:
        self.path = str(path)
        self.errors = errors
        super().__init__("\n".join(f"{self.path}: {e}" for e in errors))


# -- validation of one value, by field type --------------------------------------------------------
def _unknown(what: str, value: Any, valid: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(value), list(valid), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown {what} {value!r}{hint}; valid: {', '.join(valid)}"


_REF = re.compile(r"^(start|activity|server_close|step (\d+)( end)?)$")


class _Bad(Exception):
    """A value is not valid for its field; the message says why."""


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _seconds(v: Any, spec: F, scale: float, nsteps: int) -> float:
    if not _is_number(v):
        raise _Bad(f"expected a number of seconds, got {v!r}" if spec.type == "time" else f"expected a number, got {v!r}")
    if v < 0:
        raise _Bad(f"must be >= 0, got {num(v)}")
    return float(v) * (scale if spec.type == "time" else 1.0)


def _int(v: Any, spec: F, scale: float, nsteps: int) -> int:
    if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        return v
    raise _Bad(f"expected a whole number >= 0, got {v!r}")


def _bool(v: Any, spec: F, scale: float, nsteps: int) -> bool:
    if isinstance(v, bool):
        return v
    raise _Bad(f"expected true or false, got {v!r}")


def _str(v: Any, spec: F, scale: float, nsteps: int) -> str:
    if isinstance(v, str):
        return v
    raise _Bad(f"expected a string, got {v!r}")


def _strings(v: Any, spec: F, scale: float, nsteps: int) -> list[str]:
    vals = [v] if isinstance(v, str) else v
    if isinstance(vals, list) and all(isinstance(x, str) for x in vals):
        return list(vals)
    raise _Bad(f"expected a string or a list of strings, got {v!r}")


def _choice(v: Any, spec: F, scale: float, nsteps: int) -> str:
    if v in spec.choices:
        return v
    what = "status" if spec.choices == STATUS_CODES else "method" if spec.choices == METHODS else "value"
    raise _Bad(_unknown(what, v, spec.choices))


def _methods(v: Any, spec: F, scale: float, nsteps: int) -> tuple[str, ...]:
    vals = [v] if isinstance(v, str) else v
    if not isinstance(vals, list):
        raise _Bad(f"expected a method name or a list of them, got {v!r}")
    for m in vals:
        if m not in METHODS:
            raise _Bad(_unknown("method", m, METHODS))
    return tuple(vals)


def _within(v: Any, spec: F, scale: float, nsteps: int) -> list[Any]:
    res: list[Any] = []
    for i in v if isinstance(v, list) else [v]:
        if isinstance(i, str):
            if i not in WITHIN_NAMES:
                raise _Bad(_unknown("window", i, tuple(WITHIN_NAMES)))
            res.append(i)
        elif _is_number(i) and i >= 0:
            res.append(float(i) * scale)
        else:
            raise _Bad(f"expected seconds, a window name or a list of them, got {i!r}")
    return res


def _ref(v: Any, spec: F, scale: float, nsteps: int) -> str:
    m = _REF.match(v) if isinstance(v, str) else None
    if m is None:
        raise _Bad(f"expected \"start\", \"activity\", \"server_close\", \"step N\" or \"step N end\", got {v!r}")
    if m.group(2) is not None and not 1 <= int(m.group(2)) <= nsteps:
        raise _Bad(f"{v!r}: there is no step {m.group(2)} (the file has {nsteps} step(s))")
    return v


def _step(v: Any, spec: F, scale: float, nsteps: int) -> int:
    if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= nsteps:
        return v
    raise _Bad(f"expected a step number 1..{nsteps}, got {v!r}")


# field type -> fn(value, spec, scale, nsteps): the valid value (times scaled), or raises _Bad
_CONVERT: dict[str, Callable[[Any, F, float, int], Any]] = {
    "time": _seconds, "number": _seconds, "int": _int, "bool": _bool, "str": _str, "list": _strings,
    "choice": _choice, "methods": _methods, "within": _within, "ref": _ref, "step": _step,
}


class _Validator:
    def __init__(self, path: Path, scale: float) -> None:
        self.path = path
        self.scale = scale
        self.errors: list[str] = []

    def err(self, where: str, fld: str | None, msg: str) -> None:
        self.errors.append(f"{where}: field '{fld}': {msg}" if fld else f"{where}: {msg}")

    def value(self, where: str, key: str, spec: F, v: Any, nsteps: int = 0) -> Any:
        """``v`` converted for its field (times scaled), or None after recording why it is not valid."""
        convert = _CONVERT.get(spec.type)
        if convert is None:
            return None
        try:
            return convert(v, spec, self.scale, nsteps)
        except _Bad as exc:
            self.err(where, key, str(exc))
            return None

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
                self.err(where, key, self._unknown_key(where, key, specs, skip))
                continue
            if specs[key].type in ("table", "array"):
                continue
            val = self.value(where, key, specs[key], v, nsteps)
            if val is not None:
                out[key] = val
        for key, spec in specs.items():
            if key in skip or spec.type in ("table", "array") or key in raw:
                continue
            if spec.required:
                self.err(where, key, "required field is missing")
            elif spec.default is not None:
                d = spec.default
                out[key] = d * self.scale if spec.type == "time" and isinstance(d, (int, float)) else d
        return out

    @staticmethod
    def _unknown_key(where: str, key: str, specs: dict[str, F], skip: tuple[str, ...]) -> str:
        msg = _unknown("field", key, [k for k in specs if k not in skip])
        if key in TOP and where != "top level":
            msg += (f"; '{key}' is a top-level key: in TOML it must come before the first [table] "
                    "or [[array]] header, otherwise it belongs to the table above it")
        return msg


# -- a whole file ----------------------------------------------------------------------------------
def load_scenario(path: Path | str, *, scale: float | None = None, tolerance: float | None = None) -> Scenario:
    """Parse and validate a scenario file. ``scale`` overrides the file's. With ``tolerance`` (the run's
    timing tolerance) the scale is also checked against it (``check_tolerance``). Starts nothing."""
    path = Path(path)
    if tomllib is None:
        raise ScenarioError(path, ["reading TOML needs Python 3.11+ (tomllib) or `pip install tomli` on 3.10"])
    try:
        text = path.read_text()
        raw = tomllib.loads(text)
    except OSError as exc:
        raise ScenarioError(path, [f"cannot read the file: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        hint = ""
        if re.search(r"^\s*\[sdk\.", text, re.M) and re.search(r"^\s*sdk\s*=", text, re.M):
            hint = ("; `sdk = \"...\"` and an [sdk.worker] / [sdk.client] table cannot both be in a file: "
                    "rename the tables [worker_options] / [client_options]")
        raise ScenarioError(path, [f"not valid TOML: {exc}{hint}"]) from None
    sc = parse_scenario(raw, path, scale=scale)
    if tolerance is not None:
        check_tolerance(sc, tolerance)
    return sc


def parse_scenario(raw: dict[str, Any], path: Path | str = "<scenario>", *, scale: float | None = None) -> Scenario:
    path = Path(path)
    file_scale, eff = _scales(raw, path, scale)
    v = _Validator(path, eff)
    steps_raw = raw.get("step", [])
    if not isinstance(steps_raw, list):
        v.err("top level", "step", "expected [[step]] tables")
        steps_raw = []
    legacy = isinstance(raw.get("sdk"), dict)  # [sdk.worker] / [sdk.client]: see _sdk_options
    top = v.table("top level", raw, TOP, skip=("scale", "sdk") if legacy else ("scale",))
    worker_opts, client_opts = _sdk_options(v, raw, eff)
    server = v.table("[server]", raw.get("server", {}), SERVER_TABLE)
    _check_lease(v, server)
    workload = _workload(v, raw.get("workload", {}))
    steps = [st for i, s in enumerate(steps_raw, 1) if (st := _step_of(v, i, s)) is not None]
    expects = _expects(v, raw.get("expect", []), len(steps_raw), workload, steps)
    expected_failure = _expected_failure(v, top.get("expected"), raw.get("expected_failure"), expects)
    if v.errors:
        raise ScenarioError(path, v.errors)
    duration = top.get("duration", _last_planned(steps, workload) + 2.0)
    return Scenario(path, top["title"], top["source"], top.get("summary", ""), top["expected"],
                    top.get("known_defect", ""), eff, float(file_scale), duration, worker_opts, client_opts,
                    server.get("health_ping_every"), workload, steps, expects, raw,
                    lease_mode=server.get("lease_mode", "at_once"), lease_s=server.get("lease_s"),
                    sdk=top.get("sdk"), expected_failure=expected_failure)


def _expected_failure(v: _Validator, expected: str | None, raw: Any, expects: list[Expect]) -> ExpectedFailure | None:
    """[expected_failure] goes with expected = "fail" and only with it; its checks name [[expect]]s."""
    where = "[expected_failure]"
    if expected != "fail":
        if raw is not None:
            v.err(where, None, f"only meaningful with expected = \"fail\" (expected is {expected!r})")
        return None
    if raw is None:
        v.err("top level", "expected", "\"fail\" needs an [expected_failure] table saying what must fail and "
              "why: kind (" + " | ".join(FAILURE_KINDS) + "), check, reason, report")
        return None
    t = v.table(where, raw, EXPECTED_FAILURE)
    for sdk in t.get("sdks", []):
        if sdk not in REPORT_SDKS or sdk == "any":
            v.err(where, "sdks", _unknown("SDK", sdk, [s for s in REPORT_SDKS if s != "any"]))
    indexes = [i for c in t.get("check", []) if (i := _expect_index(v, where, c, expects)) is not None]
    if len(indexes) != len(set(indexes)):
        v.err(where, "check", "names the same [[expect]] twice")
    if v.errors or "kind" not in t:
        return None
    return ExpectedFailure(t["kind"], tuple(indexes), t["reason"], t["report"], tuple(t.get("sdks", [])))


def _expect_index(v: _Validator, where: str, ref: str, expects: list[Expect]) -> int | None:
    """The index of the [[expect]] ``ref`` names: "expect N", or a check name that one [[expect]] uses."""
    m = re.fullmatch(r"expect (\d+)", ref)
    if m:
        if any(e.index == int(m.group(1)) for e in expects):
            return int(m.group(1))
        v.err(where, "check", f"{ref!r}: there is no [[expect]] {m.group(1)} (the file has {len(expects)})")
        return None
    hits = [e.index for e in expects if e.name == ref]
    if len(hits) == 1:
        return hits[0]
    if hits:
        v.err(where, "check", f"{ref!r} is the check of expects " + ", ".join(map(str, hits))
              + ": name one as \"expect N\"")
    else:
        v.err(where, "check", _unknown("check", ref, [e.name for e in expects]) + " (the file's [[expect]] checks)")
    return None


def _check_lease(v: _Validator, server: dict[str, Any]) -> None:
    """lease_s goes with lease_mode = "expiry" and only with it (the fake refuses anything else)."""
    mode, lease = server.get("lease_mode", "at_once"), server.get("lease_s")
    if mode == "expiry" and not lease:
        v.err("[server]", "lease_s", "required (and > 0) when lease_mode = \"expiry\"")
    elif mode != "expiry" and lease is not None:
        v.err("[server]", "lease_s", f"only meaningful with lease_mode = \"expiry\" (lease_mode is {mode!r})")


def _scales(raw: dict[str, Any], path: Path, scale: float | None) -> tuple[Any, float]:
    """The file's scale and the one in effect (``scale`` overrides it); both must be > 0."""
    file_scale = raw.get("scale", 1.0)
    if not _is_number(file_scale) or file_scale <= 0:
        raise ScenarioError(path, [f"top level: field 'scale': expected a number > 0, got {file_scale!r}"])
    if scale is not None and scale <= 0:
        raise ScenarioError(path, [f"scale override: expected a number > 0, got {scale}"])
    return file_scale, float(scale if scale is not None else file_scale)


def _sdk_options(v: _Validator, raw: dict[str, Any], eff: float) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """[worker_options] (over the SDK's documented defaults, scaled, when the scale is not 1) and
    [client_options]. Their former names [sdk.worker] / [sdk.client] are still read, so that histories
    saved before files named their SDK (their ``meta.scenario_text``) can be re-judged; such a file
    cannot name its SDK (TOML has one `sdk`), and the shipped files use the new names."""
    tables = {"worker": ("[worker_options]", raw.get("worker_options")),
              "client": ("[client_options]", raw.get("client_options"))}
    legacy = raw.get("sdk")
    if isinstance(legacy, dict):
        for key, val in legacy.items():
            if key not in tables:
                v.err("[sdk]", key, _unknown("table", key, tuple(tables)) + "; better: [worker_options] / "
                      "[client_options] (and `sdk = \"...\"` naming the report's SDK)")
            elif tables[key][1] is not None:
                v.err(f"[sdk.{key}]", None, f"give the options once: {tables[key][0]} (the new name) or "
                      f"[sdk.{key}] (the old one)")
            else:
                tables[key] = (f"[sdk.{key}]", val)
    worker_opts = client_opts = None
    (wname, wraw), (cname, craw) = tables["worker"], tables["client"]
    if wraw is not None:
        worker_opts = {**scaled_defaults(eff), **v.table(wname, wraw, SDK_WORKER)}
    elif eff != 1.0:
        worker_opts = scaled_defaults(eff)  # the SDK's documented defaults, scaled like everything else
    if craw is not None:
        client_opts = v.table(cname, craw, SDK_CLIENT)
    return worker_opts, client_opts


def _workload(v: _Validator, wl_raw: Any) -> dict[str, Any]:
    workload = v.table("[workload]", wl_raw, WORKLOAD)
    if isinstance(wl_raw, dict):
        if "activity" in wl_raw:
            workload["activity"] = v.table("[workload.activity]", wl_raw["activity"], ACTIVITY)
        if "long_poll" in wl_raw:
            workload["long_poll"] = v.table("[workload.long_poll]", wl_raw["long_poll"], LONG_POLL)
    return workload


def _step_of(v: _Validator, i: int, s: Any) -> Step | None:
    """Step ``i`` of the file, or None (its errors recorded)."""
    at = s.get("at") if isinstance(s, dict) else None
    where = f"step {i} (at={num(at)}s)" if isinstance(at, (int, float)) else f"step {i}"
    if not isinstance(s, dict):
        v.err(where, None, f"expected a table, got {s!r}")
        return None
    has_f, has_a = "fault" in s, "action" in s
    if has_f == has_a:
        v.err(where, "fault", "give exactly one of 'fault' or 'action'; faults: " + ", ".join(FAULTS)
              + "; actions: " + ", ".join(ACTION_NAMES))
        return None
    name = s["fault"] if has_f else s["action"]
    valid = FAULTS if has_f else ACTION_NAMES
    if not isinstance(name, str):
        v.err(where, "fault" if has_f else "action", f"expected one name (a string), got {name!r}; valid: "
              + ", ".join(valid))
        return None
    if name not in valid:
        v.err(where, "fault" if has_f else "action", _unknown("fault" if has_f else "action", name, valid))
        return None
    kind = STEP_KINDS[name]
    common = v.table(where, s, {**STEP_COMMON, **kind.fields})
    params = {k: common.pop(k) for k in list(common) if k in kind.fields}
    every, repeat = common.get("every"), common.get("repeat", 1)
    if repeat > 1 and not every:
        v.err(where, "every", "required when repeat > 1")
    if every and repeat == 1:
        v.err(where, "repeat", "give the number of occurrences when 'every' is set")
    if common.get("at") is None:
        return None
    return Step(i, common["at"], kind, params, params.pop("for", None), every, repeat, common.get("note", ""),
                float(at))


def _expects(v: _Validator, ex_raw: Any, nsteps: int, workload: dict[str, Any], steps: list[Step]) -> list[Expect]:
    if not isinstance(ex_raw, list) or not ex_raw:
        v.err("top level", "expect", "at least one [[expect]] table is required; checks: " + ", ".join(CHECKS))
        ex_raw = ex_raw if isinstance(ex_raw, list) else []
    expects: list[Expect] = []
    for i, e in enumerate(ex_raw, 1):
        name = e.get("check") if isinstance(e, dict) else None
        where = f"expect {i} ({name})" if isinstance(name, str) else f"expect {i}"
        if not isinstance(e, dict):
            v.err(where, None, f"expected a table, got {e!r}")
            continue
        if name is not None and not isinstance(name, str):
            v.err(where, "check", f"expected one name (a string), got {name!r}; checks: " + ", ".join(CHECKS))
            continue
        if name not in CHECKS:
            v.err(where, "check", _unknown("check", name, tuple(CHECKS)) if name is not None
                  else "required field is missing; checks: " + ", ".join(CHECKS))
            continue
        kind = CHECKS[name]
        params = v.table(where, e, {"check": F("str", "the check"), **kind.fields}, nsteps=nsteps)
        params.pop("check", None)
        expects.append(Expect(i, kind, params))
        _check_needs(v, where, kind, params, workload, steps)
    return expects


def _check_needs(v: _Validator, where: str, kind: Kind, params: dict[str, Any], workload: dict[str, Any],
                 steps: list[Step]) -> None:
    """What a check needs (``Kind.needs``) is in the file."""
    if "activities" in kind.needs and "activity" not in workload and \
            not any(st.kind.activities is not None for st in steps):
        v.err(where, "check", "needs activities: add [workload.activity] or a queue_activities step")
    if "long_poll" in kind.needs and "long_poll" not in workload:
        v.err(where, "check", "needs [workload.long_poll]")
    if "probe" in kind.needs and params.get("after") == "server_close":
        v.err(where, "after", "a probe needs a planned time: use \"step N\" or \"step N end\"")
    if params.get("after") == "activity" and "activity" not in workload:
        v.err(where, "after", "\"activity\" needs [workload.activity]")


def _last_planned(steps: list[Step], workload: dict[str, Any]) -> float:
    """When the last planned thing ends: a step's last occurrence (+ its `for`), the workload."""
    ends = [occ + (st.for_ or 0.0) for st in steps for occ in st.occurrences()]
    last = max(ends + [workload.get("worker_at", 0.0)])
    if "activity" in workload:
        a = workload["activity"]
        last = max(last, a["at"] + a["duration_s"])
    if "long_poll" in workload:
        lp = workload["long_poll"]
        last = max(last, lp["at"] + lp["timeout_s"] * lp["count"])
    return last


# -- the tolerance against the scale ---------------------------------------------------------------
# A check's bound is its SCALED window plus the run's timing tolerance, added once and NOT scaled: the
# tolerance covers machine latency (thread hand-offs, a loopback hop; harness/checks/windows.py), which
# does not shrink when the file's times do. So the scale may not shrink a window below what the
# tolerance can judge: a tolerance above windows.WINDOW_FRACTION (half) of a scaled window is refused.
# (Before this rule, dtpy175_rst_stream_cancel.toml at scale 0.002 allowed 0.004 s + 0.25 s: about
# 127 field seconds against a promised 2 s.)
def tolerance_windows(sc: Scenario) -> dict[str, float]:
    """The scaled windows the file's expectations add the tolerance to, by a name that says where
    each comes from (the expectation, its `within`, its length in field seconds). A `within` of 0 is
    no window ("at once": a probe of a stream that already works; its bound is the machine latency
    alone, as conformance's ``work_completed(within=tolerance)``), so it is not listed."""
    out: dict[str, float] = {}
    for ex in sc.expects:
        if "within" in ex.params:
            spec, w = ex.params["within"], sc.within(ex.params["within"])
            items = spec if isinstance(spec, list) else [spec]
            what = " + ".join(i if isinstance(i, str) else f"{num(i / sc.scale)}s" for i in items)
        elif ex.name == "stream_abandoned_after_silence":
            what, w = "silent_timeout", sc.window("silent_timeout")
        else:
            continue
        if w > 0:
            out[f"{ex.label()}: within {what} ({num(round(w / sc.scale, 6))} field s)"] = w
    return out


def check_tolerance(sc: Scenario, tolerance: float) -> None:
    """ScenarioError, naming the scale, each window and the tolerance, if ``tolerance`` exceeds
    windows.WINDOW_FRACTION of a window the file's expectations use at the scale in effect, with the
    smallest scale at which the file can be judged."""
    from harness.checks.windows import WINDOW_FRACTION
    bad = [(name, w) for name, w in tolerance_windows(sc).items() if tolerance > WINDOW_FRACTION * w + 1e-9]
    if not bad:
        return
    need = max(tolerance / (WINDOW_FRACTION * (w / sc.scale)) for _, w in bad)
    raise ScenarioError(sc.path, [
        f"{name}: at scale {num(sc.scale)} this window is {w:.4g}s, and the timing tolerance {num(tolerance)}s "
        f"(machine latency: it is not scaled) is more than {num(WINDOW_FRACTION)} of it, so a build late by "
        f"{num(round(tolerance / sc.scale, 3))} field seconds would pass" for name, w in bad]
        + [f"use scale >= {need:.3g} (the file's `scale`, or --scale) or a --timing-tolerance <= "
           f"{WINDOW_FRACTION * min(w for _, w in bad):.3g}s"])


# -- the vocabulary --------------------------------------------------------------------------------
def _field_lines(fs: dict[str, F]) -> list[str]:
    out = []
    for k, f in fs.items():
        req = "required" if f.required else (f"default {f.default!r}" if f.default not in (None, ()) else "optional")
        ch = f" [{' | '.join(f.choices)}]" if f.choices and f.choices not in (STATUS_CODES, METHODS) else ""
        ch = ch or (" [a grpc status name]" if f.choices == STATUS_CODES else
                    " [an RPC name]" if f.choices == METHODS else "")
        out.append(f"      {k:<16} {f.type:<7} {req}: {f.doc}{ch}")
    return out


def vocabulary() -> str:
    """The whole vocabulary as text (``python -m harness repro --vocabulary``), from kinds.py."""
    out = []
    for title, kinds in (("FAULTS (network, through Toxiproxy)", NETWORK), ("FAULTS (server, the fake)", SERVER),
                         ("FAULTS (HTTP/2 frames, through the frame-level fault proxy)", FRAMES),
                         ("ACTIONS", ACTIONS), ("CHECKS ([[expect]] check = ...)", CHECKS_LIST)):
        out.append(title)
        for k in kinds:
            out.append(f"  {k.name}: {k.doc}")
            if k.approximates:
                out.append(f"    APPROXIMATES: {k.approximates}")
            out.extend(_field_lines(k.fields))
    out.append("Every step also takes: at (required), every, repeat, note. Times are scaled by `scale`.")
    out.append("TOP LEVEL (before the first [table])")
    out.extend(_field_lines({k: f for k, f in TOP.items() if f.type not in ("table", "array")}))
    out.append("[expected_failure] (with expected = \"fail\"; runner.judge_outcome: REPRODUCED, FIXED or FAIL)")
    out.extend(_field_lines(EXPECTED_FAILURE))
    return "\n".join(out)
