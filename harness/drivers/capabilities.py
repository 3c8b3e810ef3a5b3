"""Driver capabilities in one place: every name a driver may declare in its ``hello``
(harness/drivers/PROTOCOL.md, "Capabilities"), the class of each, what a test that needs a missing
one becomes, and the SDK defaults a test runs at when it cannot configure the build.

Three classes, because "the build lacks X" means three different things to a release manager:

- OPTIONAL: a feature the spec marks optional (an asyncio client, a caller-supplied channel, an
  SDK that builds its own channel). A build without it is **NOT APPLICABLE** for the tests that need
  it, and the status names the capability. This is the only road to NOT APPLICABLE.
- CONFIGURABILITY: an option the suite sets only to make a test fast (the worker's and the client's
  resiliency options). A build without it still owes the behaviour, so the test **runs at the SDK's
  own defaults** (declared by the driver; where the build has no such setting at all, the design's
  defaults, promises.md §1) with windows derived from those values. A failure there is **NOT
  IMPLEMENTED**, with the reason. A test whose run at the defaults would take too long declares it
  (``@pytest.mark.at_defaults(infeasible=...)``): on such a build it is NOT IMPLEMENTED without
  running, because for the Python SDK the options are part of the promise and the build lacks the
  promised option itself.
- OBSERVATION: what the harness needs in order to see inside the SDK process (an RPC observer, a
  logger). A build the harness cannot observe is **INCONCLUSIVE**: the gate fails, the requirement is
  not charged.

May import: ``harness.checks`` (the option types and the design's defaults).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from harness.checks.options import ClientOptions
from harness.checks.windows import WorkerOptions

OPTIONAL, CONFIGURABILITY, OBSERVATION = "optional", "configurability", "observation"


@dataclass(frozen=True)
class Capability:
    name: str
    kind: str  # OPTIONAL | CONFIGURABILITY | OBSERVATION
    meaning: str  # true when the SDK build can ... (PROTOCOL.md's table)
    options: str | None = None  # CONFIGURABILITY: which defaults the test falls back to ("worker"/"client")


CAPABILITIES: dict[str, Capability] = {c.name: c for c in (
    Capability("async_client", OPTIONAL, "provide an asyncio client"),
    Capability("channel", OPTIONAL, "run a worker and clients on a caller-supplied channel"),
    Capability("sdk_channel", OPTIONAL, "build and own its channel from an address (an SDK that only takes "
               "the caller's connection, as Go's does, declares false: it never builds its own channel)"),
    Capability("channel_options", OPTIONAL, "take raw channel options for SDK-built channels"),
    Capability("interceptors", OPTIONAL, "take caller-supplied call interceptors"),
    Capability("metadata", OPTIONAL, "take fixed call metadata at construction (`metadata`) and send it on "
               "every call (a build without it carries headers only through interceptors, which "
               "CHAN-CONFIG-001 tests)"),
    Capability("secure_channel", OPTIONAL, "build its channel with TLS on request (Python: secure_channel=True)"),
    Capability("concurrency_options", OPTIONAL, "take the worker's concurrency limits (e.g. the maximum "
               "of concurrent activity work items)"),
    Capability("history_stream", OPTIONAL, "read an instance's history through the server-streaming "
               "StreamInstanceHistory (a client without a streaming call has none to count)"),
    Capability("resiliency_options", CONFIGURABILITY, "take the worker resiliency options (Hello timeout, "
               "silent-disconnect timeout, recreate threshold, backoff base/cap)", options="worker"),
    Capability("client_resiliency_options", CONFIGURABILITY, "take the client resiliency options (recreate "
               "threshold, minimum recreate interval)", options="client"),
    Capability("rpc_observer", OBSERVATION, "let the driver observe every call of the worker and the sync "
               "clients (rpc_start/rpc_done events)"),
    Capability("aio_rpc_observer", OBSERVATION, "let the driver observe every call of the async client"),
    Capability("logger", OBSERVATION, "route the SDK's log records to the driver (log events)"),
)}


class CapabilityError(ValueError):
    """A test's declaration is wrong: it names a capability this table does not define (a typo would
    silently never match), or needs an option without saying how it fares at the SDK's defaults."""


class NotImplementedByBuild(Exception):
    """The build lacks a promised option and the test cannot run at its defaults within reason: the
    test is NOT IMPLEMENTED. Raised by the pytest plugin in place of the test body."""


def capability(name: str) -> Capability:
    try:
        return CAPABILITIES[name]
    except KeyError:
        raise CapabilityError(f"unknown capability {name!r}; known: {', '.join(sorted(CAPABILITIES))} "
                                "(harness/drivers/capabilities.py)") from None


# -- what a test becomes on a build --------------------------------------------------------------
RUN, AT_DEFAULTS, NOT_APPLICABLE, INCONCLUSIVE, NOT_IMPLEMENTED, LEFT_OUT = (
    "run", "at defaults", "not applicable", "inconclusive", "not implemented", "left out")


@dataclass(frozen=True)
class AtDefaults:
    """A test's declaration (``@pytest.mark.at_defaults``) of how it fares at the SDK's defaults:
    ``cost`` is what a run there takes; ``slow`` False when that is seconds (``--skip-at-defaults``
    leaves only slow runs out); ``infeasible`` says why it is not run there at all."""

    cost: str = ""
    infeasible: str | None = None
    slow: bool = True


@dataclass(frozen=True)
class Decision:
    action: str  # RUN | AT_DEFAULTS | NOT_APPLICABLE | INCONCLUSIVE | NOT_IMPLEMENTED | LEFT_OUT
    missing: tuple[str, ...] = ()  # the capabilities that decided it
    reason: str = ""


def decide(needed: Iterable[str], declared: Mapping[str, Any], *, build: str,
           at_defaults: AtDefaults | None, skip_at_defaults: bool = False) -> Decision:
    """What a test that needs ``needed`` becomes on a build whose driver declared ``declared``.

    Order: a missing optional feature makes the rest moot (NOT APPLICABLE); a missing option the test
    cannot do without at reasonable cost is NOT IMPLEMENTED whatever else is missing; a build the
    harness cannot observe is INCONCLUSIVE; a missing option with a feasible run at the defaults runs
    there (or is LEFT OUT when the user asked for that)."""
    caps = [capability(n) for n in dict.fromkeys(needed)]
    missing = [c for c in caps if not declared.get(c.name, False)]
    by_kind = {k: tuple(c.name for c in missing if c.kind == k) for k in (OPTIONAL, CONFIGURABILITY, OBSERVATION)}
    if by_kind[OPTIONAL]:
        absent = by_kind[OPTIONAL]
        return Decision(NOT_APPLICABLE, absent, f"{build} lacks {', '.join(absent)} (optional: "
                        + "; ".join(CAPABILITIES[n].meaning for n in absent) + ")")
    config = by_kind[CONFIGURABILITY]
    names = ", ".join(config)
    if config and at_defaults is None:
        raise CapabilityError(f"the test needs {names} but declares no @pytest.mark.at_defaults: "
                              "say what a run at the SDK's defaults costs, or why it is infeasible")
    if config and at_defaults is not None and at_defaults.infeasible:
        return Decision(NOT_IMPLEMENTED, config, f"{build} cannot be configured with {names}, and this test "
                        f"cannot run at the SDK's defaults within reason ({at_defaults.infeasible})")
    if by_kind[OBSERVATION]:
        seen = by_kind[OBSERVATION]
        return Decision(INCONCLUSIVE, seen, f"the harness cannot observe {build}: its driver lacks "
                        + ", ".join(seen) + " (" + "; ".join(CAPABILITIES[n].meaning for n in seen) + ")")
    if config:
        cost = at_defaults.cost if at_defaults is not None else ""
        if skip_at_defaults and (at_defaults is None or at_defaults.slow):
            return Decision(LEFT_OUT, config, f"left out by --skip-at-defaults: {build} cannot be configured "
                            f"with {names}, so this test would run at the SDK's defaults ({cost})")
        return Decision(AT_DEFAULTS, config, f"{build} cannot be configured with {names}: run at the SDK's "
                        "defaults" + (f" ({cost})" if cost else ""))
    return Decision(RUN)


# -- the defaults a test runs at -----------------------------------------------------------------
@dataclass(frozen=True)
class Defaults:
    """The options a build runs with when nothing is configured: the driver's declaration (``hello``
    ``defaults``), completed with the design's defaults (promises.md §1) for every setting the build
    does not declare. ``source`` says where each value came from: "build" or "design"."""

    worker: WorkerOptions
    client: ClientOptions
    source: dict[str, dict[str, str]] = field(default_factory=dict)

    def describe(self, kind: str) -> str:
        values = self.worker.as_dict() if kind == "worker" else self.client.as_dict()
        src = self.source.get(kind, {})
        parts = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()]
        design = [k for k, s in src.items() if s == "design"]
        where = ("the design's defaults" if len(design) == len(values) else "the build's defaults" if not design
                 else "the build's defaults; the design's for " + ", ".join(design))
        return ", ".join(parts) + f" ({where})"


def defaults_of(info: Mapping[str, Any]) -> Defaults:
    """The ``Defaults`` of a driver's ``hello`` (``info["defaults"]``: {"worker": {...}, "client": {...}},
    protocol field names; a field the build lacks is absent)."""
    declared = info.get("defaults") or {}
    source: dict[str, dict[str, str]] = {}
    built: dict[str, Any] = {}
    for kind, cls in (("worker", WorkerOptions), ("client", ClientOptions)):
        got = declared.get(kind) or {}
        design = cls()
        values = {}
        source[kind] = {}
        for f in fields(cls):
            v = got.get(f.name)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
            values[f.name] = type(getattr(design, f.name))(v) if ok else getattr(design, f.name)
            source[kind][f.name] = "build" if ok else "design"
        built[kind] = cls(**values)
    return Defaults(built["worker"], built["client"], source)
