"""Verdict: the outcome of one check, and ``require`` that turns failed verdicts into a test failure.

Verdicts travel as data: ``Verdict.to_json``/``from_json``, and every verdict ``require`` judges is
also handed to the collector in force (``collecting()``; the pytest plugin opens one per test), so
reports read the verdicts themselves and never parse the ``[FAIL] ...`` lines people read.

``@check`` (on every public check of the area modules) records on each verdict how it was computed
(``Verdict.call``, with the argument codec ``encode_arg``/``decode_arg``), so a saved history can be
re-judged without running anything (harness/recheck.py, ``python -m harness check``).
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import dataclasses
import functools
import importlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, ParamSpec, TypeVar

from harness.history import History


@dataclass
class Verdict:
    """The outcome of one check: what was required, what was measured, and the evidence."""

    check: str
    ok: bool
    summary: str
    measured: dict[str, Any] = field(default_factory=dict)
    evidence: list[int] = field(default_factory=list)  # event seq numbers
    requirement: str | None = None  # the SPEC.md ID this verdict decides, when a test cites several
    # How to recompute it from a saved history: {"fn": "module:function", "kwargs": {...}}; None when
    # the check cannot be re-run from the history alone.
    call: dict[str, Any] | None = None
    # A control: a check that the harness observed what the verdicts need (the fault took effect, the
    # positive control showed the observation can see the event). A failed control makes the test
    # INCONCLUSIVE, not a FAIL of the requirement under test.
    control: bool = False

    def __bool__(self) -> bool:
        return self.ok

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, [], {})}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        known = {k: data[k] for k in ("check", "ok", "summary", "measured", "evidence", "requirement", "call",
                                      "control") if k in data}
        return cls(**known)

    def explain(self, history: History | None = None) -> str:
        word = "PASS" if self.ok else ("INCONCLUSIVE" if self.control else "FAIL")
        lines = [f"[{word}] {self.check}: {self.summary}"]
        if self.requirement:
            lines.append(f"  requirement: {self.requirement}")
        if self.measured:
            lines.append("  measured: " + ", ".join(f"{k}={_fmt(v)}" for k, v in self.measured.items()))
        if history is not None and self.evidence:
            by_seq = {e.seq: e for e in history.events}
            for s in self.evidence:
                ev = by_seq.get(s)
                if ev is not None:
                    lines.append(f"  evidence: t={ev.t - history.t0:.3f}s {ev.source} {ev.kind} "
                                 + " ".join(f"{k}={_fmt(v)}" for k, v in ev.data.items()
                                            if k not in ("request", "metadata")))
        return "\n".join(lines)


def for_requirement(requirement_id: str, *verdicts: Verdict) -> list[Verdict]:
    """Tag verdicts with the requirement they decide.

    A test that cites several requirements fails as a whole, but the conformance matrix then
    marks FAIL only the requirements whose verdicts failed (untagged failures still fail all)."""
    for v in verdicts:
        v.requirement = requirement_id
    return list(verdicts)


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


_collector: contextvars.ContextVar[list[Verdict] | None] = contextvars.ContextVar("verdicts", default=None)


@contextlib.contextmanager
def collecting() -> Iterator[list[Verdict]]:
    """Collect every verdict ``require`` judges inside the block (in this thread or context)."""
    got: list[Verdict] = []
    token = _collector.set(got)
    try:
        yield got
    finally:
        _collector.reset(token)


def judged(*verdicts: Verdict) -> None:
    """Hand verdicts to the collector in force without asserting (a caller that words its own
    failure, e.g. a field-report scenario run under pytest)."""
    sink = _collector.get()
    if sink is not None:
        sink.extend(verdicts)


class Inconclusive(Exception):
    """The harness could not observe what the verdict needs (a control failed, the setup did not take
    effect, the tolerance is too coarse for the test's windows): the test is INCONCLUSIVE. That fails
    the release gate like a FAIL, but is shown apart and is never charged to the requirement under
    test. Raised by ``require`` and ``inconclusive``; the pytest plugin turns it into the status."""


def inconclusive(reason: str) -> None:
    """Stop the test as INCONCLUSIVE (e.g. a setup step did not take effect)."""
    raise Inconclusive(reason)


def control(v: Verdict) -> Verdict:
    """Mark a verdict as a control (see ``Verdict.control``)."""
    v.control = True
    return v


def require(*verdicts: Verdict, history: History | None = None) -> None:
    """Assert that every verdict passed; the failure message explains all of them. The verdicts
    also go to the collector in force, passed or failed. A failed control makes the whole test
    INCONCLUSIVE (``Inconclusive``), whatever the other verdicts say: without it they mean nothing."""
    judged(*verdicts)
    if all(v.ok for v in verdicts):
        return
    text = "\n".join(v.explain(history) for v in verdicts)
    if any(v.control and not v.ok for v in verdicts):
        raise Inconclusive(text)
    raise AssertionError(text)


# -- recording how a verdict was computed -------------------------------------------------------------
# ``@check`` on a public check function stores the call on every Verdict it returns, in JSON terms:
# ``{"fn": "harness.checks.worker:reconnected_within", "kwargs": {...}, "history_len": N}``, so a saved
# history can be re-judged later without running anything (harness/recheck.py). ``history_len`` is how
# many events the history held when the check was called (a saved history also holds what came after,
# e.g. teardown, and a re-run must judge the same record); ``index`` is the verdict's place when the
# check returns a list. The first positional argument (the History) is not recorded, and only the
# arguments actually passed are, so a re-run uses the defaults of the checks in force then. Arguments
# JSON cannot carry as themselves are encoded: a tuple as ``{"__tuple__": [...]}``, an options
# dataclass defined in harness.checks (e.g. ``WorkerOptions``) as
# ``{"__type__": "harness.checks.windows:WorkerOptions", ...fields}``. Anything else makes ``call``
# None: that verdict cannot be re-judged, and the check itself is unaffected.

P = ParamSpec("P")
R = TypeVar("R")

_TYPE_KEY, _TUPLE_KEY = "__type__", "__tuple__"
_CHECKS_PACKAGE = "harness.checks"
# "module:function" -> the recording wrapper; the only functions a recorded call may name.
RECORDED_CHECKS: dict[str, Callable[..., Any]] = {}


class CallCodecError(ValueError):
    """An argument that the call codec cannot encode, or an encoded value it cannot decode."""


def encode_arg(value: Any) -> Any:
    """``value`` as JSON data that ``decode_arg`` turns back into an equal value; CallCodecError if
    it has no encoding (see the comment above ``check``)."""
    t = type(value)
    if value is None or t in (bool, int, float, str):
        return value
    if t is list:
        return [encode_arg(v) for v in value]
    if t is tuple:
        return {_TUPLE_KEY: [encode_arg(v) for v in value]}
    if t is dict:
        if not all(type(k) is str for k in value) or _TYPE_KEY in value or _TUPLE_KEY in value:
            raise CallCodecError(f"a dict with keys {list(value)[:4]} has no JSON encoding here")
        return {k: encode_arg(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if not (t.__module__ == _CHECKS_PACKAGE or t.__module__.startswith(_CHECKS_PACKAGE + ".")):
            raise CallCodecError(f"{t.__module__}.{t.__qualname__} is not an options type of harness.checks")
        fields = [f for f in dataclasses.fields(value) if f.init]
        return {_TYPE_KEY: f"{t.__module__}:{t.__qualname__}",
                **{f.name: encode_arg(getattr(value, f.name)) for f in fields}}
    raise CallCodecError(f"an argument of type {t.__qualname__} has no JSON encoding")


def decode_arg(data: Any) -> Any:
    """The inverse of ``encode_arg``. Only dataclasses defined in harness.checks are rebuilt."""
    if isinstance(data, list):
        return [decode_arg(v) for v in data]
    if not isinstance(data, dict):
        return data
    if _TUPLE_KEY in data:
        if set(data) != {_TUPLE_KEY} or not isinstance(data[_TUPLE_KEY], list):
            raise CallCodecError(f"malformed tuple encoding: {data!r}")
        return tuple(decode_arg(v) for v in data[_TUPLE_KEY])
    if _TYPE_KEY in data:
        cls = _options_type(data[_TYPE_KEY])
        fields = {k: decode_arg(v) for k, v in data.items() if k != _TYPE_KEY}
        try:
            return cls(**fields)
        except TypeError as exc:
            raise CallCodecError(f"cannot rebuild {data[_TYPE_KEY]}: {exc}") from exc
    return {k: decode_arg(v) for k, v in data.items()}


def _options_type(name: Any) -> type:
    mod, _, qual = str(name).partition(":")
    if not (mod == _CHECKS_PACKAGE or mod.startswith(_CHECKS_PACKAGE + ".")) or not qual:
        raise CallCodecError(f"{name!r} is not a type defined in harness.checks")
    try:
        obj: Any = importlib.import_module(mod)
        for part in qual.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise CallCodecError(f"no type {name!r} in this version of the checks") from exc
    if not (isinstance(obj, type) and dataclasses.is_dataclass(obj)):
        raise CallCodecError(f"{name!r} is not an options dataclass")
    return obj


def _recorded_call(sig: inspect.Signature, fn_name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                   history_len: int | None) -> dict[str, Any] | None:
    try:
        bound = sig.bind(*args, **kwargs)
        first = next(iter(sig.parameters))
        encoded = {k: encode_arg(v) for k, v in bound.arguments.items() if k != first}
    except Exception:  # an argument without an encoding, or anything unexpected: not re-checkable
        return None
    call: dict[str, Any] = {"fn": fn_name, "kwargs": encoded}
    if history_len is not None:
        call["history_len"] = history_len
    return call


def _history_len(sig: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    first = next(iter(sig.parameters), None)
    history = args[0] if args else kwargs.get(first) if first else None
    try:
        return len(history) if isinstance(history, History) else None
    except Exception:
        return None


def check(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate a public check (History first, returns a Verdict or a list of Verdicts): every Verdict
    it returns carries ``call``, how to recompute it from the same history. Signature, return value and
    exceptions are the function's own; recording never raises."""
    sig = inspect.signature(fn)
    fn_name = f"{fn.__module__}:{fn.__qualname__}"

    @functools.wraps(fn)
    def recording(*args: P.args, **kwargs: P.kwargs) -> R:
        n = _history_len(sig, args, kwargs)
        result = fn(*args, **kwargs)
        call = _recorded_call(sig, fn_name, args, kwargs, n)
        if isinstance(result, Verdict):
            result.call = call
        elif isinstance(result, list):
            for i, v in enumerate(result):
                if isinstance(v, Verdict):
                    v.call = None if call is None else {**copy.deepcopy(call), "index": i}
        return result

    RECORDED_CHECKS[fn_name] = recording
    return recording
