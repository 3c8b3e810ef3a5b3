"""Expectations of a scenario file -> checker functions of harness/checks/.

One vocabulary with the conformance suite: every check here calls a checker; this module only
resolves the file's references ("step 2 end", "activity") and windows ("first_reconnect") against
the History and the scenario's scaled options. The timing tolerance of the run is added once to
every `within` bound, exactly as harness/checks/windows.py does for the suite.

Each function below is the ``evaluate`` of one check Kind (kinds.py): ``fn(judge, expect)`` returns
its verdicts; ``evaluate()`` runs them all in file order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.checks import client as client_checks
from harness.checks import conn as conn_checks
from harness.checks import field as field_checks
from harness.checks import worker as worker_checks
from harness.checks.queries import sdk_channels_created
from harness.checks.verdict import Verdict
from harness.checks.windows import STOP_LATENCY_S
from harness.history import FAKE, NETWORK, SCENARIO, History
from harness.repro.model import LONG_POLL_CLIENT, Expect, Scenario
from harness.repro.steps import client_id


class Missing(Exception):
    """A reference point of the check never happened: the check cannot be evaluated (a FAIL)."""


def ref_times(history: History, ref: str, each: bool = False) -> list[float]:
    """Times of a reference point, read from the History (scenario events written by the runner)."""
    if ref == "start":
        ev = history.first(source=SCENARIO, kind="scenario_start")
        if ev is None:
            raise Missing("the scenario never started")
        return [ev.t]
    if ref == "activity":
        evs = history.select(SCENARIO, "activity_queued")
        if not evs:
            raise Missing("no workload activity was queued")
        return [evs[0].t]
    if ref == "server_close":
        times = sorted([e.t for e in history.select(FAKE, "server_fault", method="GetWorkItems")]
                       + _h2_resets(history, "GetWorkItems"))
        if not times:
            raise Missing("the server never ended a GetWorkItems stream")
        return times if each else [times[-1]]
    parts = ref.split()
    idx, phase = int(parts[1]), ("end" if parts[-1] == "end" else "start")
    evs = history.select(SCENARIO, "step", step=idx, phase=phase)
    if not evs:
        raise Missing(f"step {idx} never {'ended' if phase == 'end' else 'ran'}")
    return [e.t for e in evs] if each else [evs[-1].t]


def _h2_resets(history: History, method: str) -> list[float]:
    """When the HTTP/2 fault proxy's RST_STREAMs on ``method`` streams left toward the SDK (the frame's
    own event, recorded just before it was sent; the fault's event if that frame is missing)."""
    out = []
    for f in history.select(NETWORK, "h2_fault", fault="rst_stream"):
        if not str((f.get("attributes") or {}).get("method", "")).endswith(f"/{method}"):
            continue
        frame = history.last(source=NETWORK, kind="h2_frame", type="RST_STREAM", hop="proxy->sdk",
                             conn=f.get("conn"), stream_id=f.get("down_stream_id"), before=f.t + 1e-9)
        out.append(frame.t if frame is not None else f.t)
    return out


@dataclass
class Judge:
    """What a check reads: the run's History, the scenario (windows) and the timing tolerance."""

    sc: Scenario
    h: History
    tol: float

    def bound(self, ex: Expect) -> float:
        """The check's `within`, scaled windows summed, plus the tolerance once."""
        return self.sc.within(ex.params["within"]) + self.tol

    def refs(self, ex: Expect, key: str = "after") -> list[float]:
        return ref_times(self.h, ex.params[key], ex.params.get("each", False))

    def ref(self, ref: str) -> float:
        return ref_times(self.h, ref)[0]

    def queued(self, kind: str = "activity_queued") -> list[Any]:
        evs = self.h.select(SCENARIO, kind)
        if not evs:
            raise Missing("no workload activity was queued")
        return evs


def evaluate(sc: Scenario, history: History, tolerance: float) -> list[Verdict]:
    """Every expectation of ``sc``, in file order; each verdict's check is prefixed by its label."""
    judge = Judge(sc, history, tolerance)
    out: list[Verdict] = []
    for ex in sc.expects:
        try:
            vs = ex.kind.evaluate(judge, ex)
        except Missing as exc:
            vs = [Verdict(ex.name, False, f"cannot evaluate: {exc}")]
        for v in vs:
            v.check = f"{ex.label()}: {v.check}"
        out.extend(vs)
    return out


# -- the checks ------------------------------------------------------------------------------------
def reconnected_within(j: Judge, ex: Expect) -> list[Verdict]:
    return [worker_checks.reconnected_within(j.h, after=t, within=j.bound(ex)) for t in j.refs(ex)]


def hello_within(j: Judge, ex: Expect) -> list[Verdict]:
    return [worker_checks.hello_within(j.h, after=t, within=j.bound(ex)) for t in j.refs(ex)]


def working_stream_within(j: Judge, ex: Expect) -> list[Verdict]:
    probe = j.h.first(source=SCENARIO, kind="probe_queued", expect=ex.index)
    if probe is None:
        raise Missing("the probe for this check was never queued")
    return [worker_checks.work_completed(j.h, token=probe.get("completion_token"), after=probe.t,
                                         within=j.bound(ex))]


def stream_abandoned_after_silence(j: Judge, ex: Expect) -> list[Verdict]:
    step = ex.params["step"]
    fault_t = j.ref(f"step {step}")
    in_force = j.h.first(source="network", kind="fault_start", after=fault_t)  # the toxic is in force
    fault_t = in_force.t if in_force is not None else fault_t
    stream = j.h.last(source=FAKE, kind="rpc_start", method="GetWorkItems", before=fault_t)
    if stream is None:
        raise Missing(f"no GetWorkItems stream was open when step {step} began")
    return [worker_checks.stream_abandoned_after_silence(
        j.h, call_id=stream.get("call_id"), fault_t=fault_t, silent_timeout=j.sc.window("silent_timeout"),
        tolerance=j.tol)]


def activity_completed_within(j: Judge, ex: Expect) -> list[Verdict]:
    after = ex.params["after"]
    return [worker_checks.work_completed(j.h, token=e.get("completion_token"),
                                         after=e.t if after == "activity" else j.ref(after), within=j.bound(ex))
            for e in j.queued()]


def own_completion_delivered(j: Judge, ex: Expect) -> list[Verdict]:
    return [conn_checks.inflight_run_completion_delivered(j.h, token=e.get("completion_token"),
                                                          instance_id=e.get("instance_id"))
            for e in j.queued()]


def exactly_once(j: Judge, ex: Expect) -> list[Verdict]:
    return [worker_checks.exactly_once(j.h, token=e.get("completion_token")) for e in j.queued()]


def activity_runs_at_most(j: Judge, ex: Expect) -> list[Verdict]:
    iids = [e.get("instance_id") for e in j.queued()]
    return [field_checks.activity_runs_at_most(j.h, instance_ids=iids, at_most=ex.params["at_most"])]


def no_request_after(j: Judge, ex: Expect) -> list[Verdict]:
    return [worker_checks.no_rpc_after(j.h, after=j.ref(ex.params["after"]),
                                       methods=tuple(ex.params.get("methods", ())))]


def max_connections(j: Judge, ex: Expect) -> list[Verdict]:
    return [conn_checks.max_open_connections(j.h, at_most=ex.params["at_most"])]


def _channel_window(j: Judge, ex: Expect) -> dict[str, Any]:
    p = ex.params
    return {"after": j.ref(p["after"]), "before": j.ref(p["before"]) if p.get("before") else None,
            "why": f"{p['after']} .. {p.get('before') or 'end of run'}"}


def no_channel_recreated(j: Judge, ex: Expect) -> list[Verdict]:
    return [client_checks.no_sdk_channel_created(j.h, **_channel_window(j, ex))]


def channel_recreated(j: Judge, ex: Expect) -> list[Verdict]:
    return [client_checks.sdk_channel_created(j.h, **_channel_window(j, ex))]


def stream_lasted_at_least(j: Judge, ex: Expect) -> list[Verdict]:
    return [field_checks.stream_lasted_at_least(j.h, min_s=ex.params["min_s"])]


def retried_after_fault(j: Judge, ex: Expect) -> list[Verdict]:
    return [field_checks.retried_after_fault(j.h, method=ex.params["method"], within=j.bound(ex))]


def long_polls_returned(j: Judge, ex: Expect) -> list[Verdict]:
    return [field_checks.client_calls_succeeded(j.h, client_id=LONG_POLL_CLIENT, op="wait_completion",
                                                count=j.sc.workload["long_poll"]["count"])]


def _before(j: Judge, ex: Expect) -> float | None:
    return j.ref(ex.params["before"]) if ex.params.get("before") else None


def connect_rate_at_most(j: Judge, ex: Expect) -> list[Verdict]:
    window, at_most = ex.params["window_s"], ex.params["at_most"]
    if not at_most:  # derived from the scenario's backoff base, as the conformance storm test does
        opts = j.sc.options
        at_most = worker_checks.max_attempt_rate_bound(base=opts.reconnect_backoff_base_seconds, window=window)
    return [field_checks.connect_rate_at_most(j.h, after=j.ref(ex.params["after"]), before=_before(j, ex),
                                              window=window, at_most=at_most)]


def backoff_within(j: Judge, ex: Expect) -> list[Verdict]:
    opts = j.sc.options
    return [field_checks.reconnect_delays_within_windows(
        j.h, base=opts.reconnect_backoff_base_seconds, cap=opts.reconnect_backoff_cap_seconds, tolerance=j.tol,
        after=j.ref(ex.params["after"]), first_attempt=ex.params["first_attempt"])]


def hello_deadline(j: Judge, ex: Expect) -> list[Verdict]:
    timeout = j.sc.window("hello_timeout")
    return [worker_checks.hello_deadline(j.h, hello_timeout=timeout, tolerance=j.tol),
            worker_checks.hung_hellos_abandoned(j.h, hello_timeout=timeout, tolerance=j.tol)]


def stop_within(j: Judge, ex: Expect) -> list[Verdict]:
    return [worker_checks.stop_prompt(j.h, within=STOP_LATENCY_S)]


def new_peer_after_recreation(j: Judge, ex: Expect) -> list[Verdict]:
    """The last Hello before `after` (on the connection the fault hit) against the first Hello after the
    recreation; a build that "recreates" without building a channel (it reuses the old one) is judged on
    the first Hello after `after`, so its verdict shows where that Hello came from, and fails the
    recreation itself (checks.client.sdk_channel_created)."""
    after = j.ref(ex.params["after"])
    rec = sdk_channels_created(j.h, after=after)
    peer = client_checks.new_peer_after(j.h, before_t=after, after_t=rec[0].t if rec else after, method="Hello")
    if rec:
        return [peer]
    return [peer, client_checks.sdk_channel_created(j.h, after=after, why=f"after {ex.params['after']}")]


def client_calls_succeeded(j: Judge, ex: Expect) -> list[Verdict]:
    st = next(s for s in j.sc.steps if s.index == ex.params["step"])
    if st.name != "client_calls":
        raise Missing(f"step {st.index} is a {st.name}, not a client_calls step")
    after = j.refs(ex)[-1] if ex.params.get("after") else None
    return [field_checks.client_calls_succeeded(j.h, client_id=client_id(st), op=st.params["op"],
                                                count=st.params["count"] * st.repeat, after=after)]
