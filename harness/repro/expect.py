"""Expectations of a scenario file -> checker functions of harness/checks/.

One vocabulary with the conformance suite: every check here calls a checker; this module only
resolves the file's references ("step 2 end", "activity") and windows ("first_reconnect") against
the History and the scenario's scaled options. The timing tolerance of the run is added once to
every `within` bound, exactly as harness/checks/windows.py does for the suite.
"""

from __future__ import annotations

from harness.checks.client import no_sdk_channel_created, sdk_channel_created
from harness.checks.conn import max_open_connections
from harness.checks.field import (
    activity_runs_at_most,
    client_calls_succeeded,
    retried_after_fault,
    stream_lasted_at_least,
)
from harness.checks.verdict import Verdict
from harness.checks.worker import (
    exactly_once,
    hello_within,
    no_rpc_after,
    reconnected_within,
    stream_abandoned_after_silence,
    work_completed,
)
from harness.history import FAKE, SCENARIO, History
from harness.repro.runner import LONG_POLL_CLIENT
from harness.repro.schema import Expect, Scenario


class _Missing(Exception):
    pass


def ref_times(history: History, ref: str, each: bool = False) -> list[float]:
    """Times of a reference point, read from the History (scenario events written by the runner)."""
    if ref == "start":
        ev = history.first(source=SCENARIO, kind="scenario_start")
        if ev is None:
            raise _Missing("the scenario never started")
        return [ev.t]
    if ref == "activity":
        evs = history.select(SCENARIO, "activity_queued")
        if not evs:
            raise _Missing("no workload activity was queued")
        return [evs[0].t]
    if ref == "server_close":
        evs = history.select(FAKE, "server_fault", method="GetWorkItems")
        if not evs:
            raise _Missing("the server never ended a GetWorkItems stream")
        return [e.t for e in evs] if each else [evs[-1].t]
    parts = ref.split()
    idx, phase = int(parts[1]), ("end" if parts[-1] == "end" else "start")
    evs = history.select(SCENARIO, "step", step=idx, phase=phase)
    if not evs:
        raise _Missing(f"step {idx} never {'ended' if phase == 'end' else 'ran'}")
    return [e.t for e in evs] if each else [evs[-1].t]


def _tokens(history: History, kind: str = "activity_queued") -> list[str]:
    return [e.get("completion_token") for e in history.select(SCENARIO, kind)]


def evaluate(sc: Scenario, history: History, tolerance: float) -> list[Verdict]:
    out: list[Verdict] = []
    for ex in sc.expects:
        try:
            vs = _one(sc, ex, history, tolerance)
        except _Missing as exc:
            vs = [Verdict(ex.name, False, f"cannot evaluate: {exc}")]
        for v in vs:
            v.check = f"{ex.label()}: {v.check}"
        out.extend(vs)
    return out


def _one(sc: Scenario, ex: Expect, h: History, tol: float) -> list[Verdict]:  # noqa: C901 - dispatch
    p, name = ex.params, ex.name
    bound = sc.within(p["within"]) + tol if "within" in p else None
    if name == "reconnected_within":
        return [reconnected_within(h, after=t, within=bound)
                for t in ref_times(h, p["after"], p.get("each", False))]
    if name == "hello_within":
        return [hello_within(h, after=t, within=bound)
                for t in ref_times(h, p["after"], p.get("each", False))]
    if name == "working_stream_within":
        probe = h.first(source=SCENARIO, kind="probe_queued", expect=ex.index)
        if probe is None:
            raise _Missing("the probe for this check was never queued")
        return [work_completed(h, token=probe.get("completion_token"), after=probe.t, within=bound)]
    if name == "stream_abandoned_after_silence":
        fault_t = ref_times(h, f"step {p['step']}")[0]
        in_force = h.first(source="network", kind="fault_start", after=fault_t)  # the toxic is in force
        fault_t = in_force.t if in_force is not None else fault_t
        stream = h.last(source=FAKE, kind="rpc_start", method="GetWorkItems", before=fault_t)
        if stream is None:
            raise _Missing(f"no GetWorkItems stream was open when step {p['step']} began")
        return [stream_abandoned_after_silence(h, call_id=stream.get("call_id"), fault_t=fault_t,
                                                        silent_timeout=sc.window("silent_timeout"),
                                                        tolerance=tol)]
    if name == "activity_completed_within":
        evs = h.select(SCENARIO, "activity_queued")
        if not evs:
            raise _Missing("no workload activity was queued")
        vs = []
        for e in evs:
            after = e.t if p["after"] == "activity" else ref_times(h, p["after"])[0]
            vs.append(work_completed(h, token=e.get("completion_token"), after=after, within=bound))
        return vs
    if name == "exactly_once":
        toks = _tokens(h)
        if not toks:
            raise _Missing("no workload activity was queued")
        return [exactly_once(h, token=t) for t in toks]
    if name == "activity_runs_at_most":
        iids = [e.get("instance_id") for e in h.select(SCENARIO, "activity_queued")]
        if not iids:
            raise _Missing("no workload activity was queued")
        return [activity_runs_at_most(h, instance_ids=iids, at_most=p["at_most"])]
    if name == "no_request_after":
        return [no_rpc_after(h, after=ref_times(h, p["after"])[0], methods=tuple(p.get("methods", ())))]
    if name == "max_connections":
        return [max_open_connections(h, at_most=p["at_most"])]
    if name in ("no_channel_recreated", "channel_recreated"):
        after = ref_times(h, p["after"])[0]
        before = ref_times(h, p["before"])[0] if p.get("before") else None
        fn = no_sdk_channel_created if name == "no_channel_recreated" else sdk_channel_created
        return [fn(h, after=after, before=before, why=f"{p['after']} .. {p.get('before') or 'end of run'}")]
    if name == "stream_lasted_at_least":
        return [stream_lasted_at_least(h, min_s=p["min_s"])]
    if name == "retried_after_fault":
        return [retried_after_fault(h, method=p["method"], within=bound)]
    if name == "long_polls_returned":
        return [client_calls_succeeded(h, client_id=LONG_POLL_CLIENT, op="wait_completion",
                                                count=sc.workload["long_poll"]["count"])]
    raise AssertionError(f"check {name} has no implementation")
