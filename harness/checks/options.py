"""The resiliency options an SDK documents, with their defaults, and the check that a build has them.

Owns: ``ClientOptions`` (the client resiliency options a scenario configures; the worker's are
``windows.WorkerOptions``), ``DOCUMENTED`` (the option classes, field names and default values the
Python design promises: promises.md §1 and python-sdk.md §3), and ``documented_options``, the check
of requirements OPT-001/OPT-002 (conformance/SPEC.md).

Why the options are a requirement of their own: for the Python SDK the options are part of the
promise (P: "on by default with conservative values and explicit override/disable knobs"). A build
that renames one field keeps its behaviour but breaks every caller that sets it; the driver then
cannot configure it, the suite runs that build at its defaults (harness/drivers/capabilities.py),
and only this check says that the documented knob is gone.

The check reads the driver's declaration of the build's option classes (``history.meta["sdk"]
["options"]``, the driver's ``hello``, harness/drivers/PROTOCOL.md), which the driver reads from the
build itself (``dataclasses.fields`` of the classes it imports), never from a version string.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from harness.checks.verdict import Verdict, check
from harness.checks.windows import WorkerOptions
from harness.history import History


@dataclass(frozen=True)
class ClientOptions:
    """The client resiliency options a scenario configures (Python names, SDK-neutral meaning);
    the defaults are the design's (promises.md §1)."""

    channel_recreate_failure_threshold: int = 5
    min_recreate_interval_seconds: float = 30.0

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


# kind -> (the documented class name, {field: documented default}). The defaults are the dataclass
# defaults above and in windows.WorkerOptions, so the windows a run at the design defaults uses and
# the values this check demands are one set of numbers.
DOCUMENTED: dict[str, tuple[str, dict[str, float | int]]] = {
    "worker": ("GrpcWorkerResiliencyOptions", WorkerOptions().as_dict()),
    "client": ("GrpcClientResiliencyOptions", ClientOptions().as_dict()),
}


def declared_options(history: History, kind: str) -> dict[str, Any] | None:
    """What the driver declared of the build's ``kind`` option class: ``{"class": name, "fields":
    {field: default}}``, or None when the build has no such class (or the driver did not say)."""
    options = (history.meta.get("sdk") or {}).get("options") or {}
    got = options.get(kind)
    return got if isinstance(got, dict) else None


@check
def documented_options(history: History, *, kind: str) -> Verdict:
    """The build has the documented ``kind`` ("worker" or "client") resiliency option class with every
    documented field at its documented default; extra fields are allowed."""
    cls_name, fields = DOCUMENTED[kind]
    name = f"documented {kind} resiliency options ({cls_name})"
    got = declared_options(history, kind)
    if got is None:
        return Verdict(name, False, f"the build has no {cls_name} (no {kind} resiliency options at all)",
                       {"declared": None})
    have = got.get("fields") or {}
    missing = sorted(f for f in fields if f not in have)
    wrong = {f: have[f] for f in fields if f in have and have[f] != fields[f]}
    extra = sorted(f for f in have if f not in fields)
    problems = []
    if got.get("class") != cls_name:
        problems.append(f"class is named {got.get('class')!r}")
    if missing:
        problems.append("missing field(s) " + ", ".join(missing)
                        + (f" (the build has {', '.join(extra)} instead)" if extra else ""))
    if wrong:
        problems.append("default(s) differ: " + ", ".join(f"{f}={v!r} (documented {fields[f]!r})"
                                                          for f, v in wrong.items()))
    ok = not problems
    summary = (f"{cls_name} has all {len(fields)} documented fields at their documented defaults" if ok
               else "; ".join(problems))
    return Verdict(name, ok, summary, {"missing": missing, "wrong_defaults": wrong, "extra": extra})
