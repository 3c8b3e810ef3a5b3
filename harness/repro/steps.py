"""What each fault and action does when its step begins: the ``apply`` of its Kind (kinds.py).

``apply(run, step, occurrence)`` gets the run (runner.ScenarioRun; it uses only its public parts:
``sc``, ``history``, ``fake``, ``link``, ``driver``, ``stopping``, ``background()``,
``record_step()``, ``start_worker()``, ``queue()``, ``probe()``, ``cutoffs``) and returns an undo
(called when the step's ``for`` ends, or when the scenario ends) or None.

Network faults act on the proxy (harness/net/link.py); server faults on the fake through its public
hooks (fakes/sidecar.py: ``end_stream``, ``goaway``, ``restart``, ``inject`` with fakes/faults.py).
"""

from __future__ import annotations

import threading
import time
from contextlib import AbstractContextManager, ExitStack
from typing import Any

import grpc

from fakes.faults import Abort, AbortAfter, Hang
from fakes.pb import SERVICE
from harness.history import FAKE, SCENARIO
from harness.net.conn import Conn, ConnectionFaults, established_to
from harness.repro.model import Step, Undo

MONITOR_PERIOD_S = 0.01  # idle cut-off rule resolution (not scaled: a machine latency)
STOP_BOUND_S = 30.0  # how long stop_worker may take before the run is an ERROR (not scaled)
LONG_POLL_METHODS = ("WaitForInstanceCompletion", "WaitForInstanceStart")


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def _scoped(cm: AbstractContextManager[Any]) -> Undo:
    """Enter a fault's context manager now; the undo leaves it."""
    cm.__enter__()
    return lambda: cm.__exit__(None, None, None)


def _camel(name: str) -> str:
    return "".join(w.capitalize() for w in name.split("_"))


# -- network (Toxiproxy) ---------------------------------------------------------------------------
def blackhole(run: Any, st: Step, occ: int) -> Undo:
    return _scoped(run.link.blackhole(stream=st.params["stream"]))


def latency(run: Any, st: Step, occ: int) -> Undo:
    p = st.params
    return _scoped(run.link.latency(_ms(p["latency_s"]), _ms(p["jitter_s"]), stream=p["stream"]))


def bandwidth(run: Any, st: Step, occ: int) -> Undo:
    return _scoped(run.link.bandwidth(st.params["rate_kbps"], stream=st.params["stream"]))


def limit_data(run: Any, st: Step, occ: int) -> Undo:
    return _scoped(run.link.limit_data(st.params["bytes"], stream=st.params["stream"]))


def slow_close(run: Any, st: Step, occ: int) -> Undo:
    return _scoped(run.link.slow_close(_ms(st.params["delay_s"]), stream=st.params["stream"]))


def reset_peer(run: Any, st: Step, occ: int) -> Undo:
    return _scoped(run.link.reset_peer(_ms(st.params["timeout_s"]), stream=st.params["stream"]))


def down(run: Any, st: Step, occ: int) -> Undo:
    return _scoped(run.link.down())


def tcp_reset(run: Any, st: Step, occ: int) -> None:
    port = run.link.listen_port
    ports = [int(c["local"].rsplit(":", 1)[1]) for c in run.driver.connections()
             if int(c["remote"].rsplit(":", 1)[1]) == port and c.get("state", "ESTABLISHED") == "ESTABLISHED"]
    for cp in ports:
        run.link.tcp_reset(cp)


# -- one connection (iptables / ss -K on the SDK's current 4-tuples; harness/net/conn.py) ----------
def current_connections(run: Any, st: Step) -> list[Conn]:
    """The SDK process's ESTABLISHED connections to the proxy when the step begins: the ones a
    per-connection fault hits (connections opened later are not touched)."""
    conns = established_to(run.driver, run.link.listen_port)
    if not conns:
        raise RuntimeError(f"{st.label()} {st.name}: the SDK has no established connection to the proxy "
                           f"({run.link.address}) when the step begins; put the step after the worker has "
                           "connected (e.g. after the workload's activity, or at >= 1 s)")
    return conns


def conn_blackhole(run: Any, st: Step, occ: int) -> Undo:
    """Every current connection black-holed for the step's scope; undone (rules removed) by the
    runner at the step's end, at the scenario's end, on an error or Ctrl-C (its ExitStack), and by
    harness/net/conn.py's atexit hook if even that is skipped."""
    faults = ConnectionFaults(run.history)
    conns = current_connections(run, st)
    stack = ExitStack()
    try:
        for c in conns:
            stack.enter_context(faults.blackhole(c, stream=st.params["stream"], fault="conn_blackhole"))
    except BaseException:
        stack.close()  # a half-applied fault must not outlive the failed step
        raise
    return stack.close


def conn_reset(run: Any, st: Step, occ: int) -> None:
    faults = ConnectionFaults(run.history)
    for c in current_connections(run, st):
        faults.reset(c, side=st.params["side"])


# -- server (the fake) -----------------------------------------------------------------------------
def _end_open_streams(run: Any, st: Step, code: str, message: str, **extra: Any) -> None:
    for cid, _peer in run.fake.open_streams():
        run.fake.end_stream(cid, code, message, fault=_camel(st.name), step=st.index, **extra)


def abort_stream(run: Any, st: Step, occ: int) -> None:
    _end_open_streams(run, st, st.params["code"], st.params["message"])


def end_stream_ok(run: Any, st: Step, occ: int) -> None:
    _end_open_streams(run, st, "OK", st.params["message"])


# -- HTTP/2 frames: the frame-level fault proxy (harness/net/h2proxy) is in the path of a run whose file
# uses one of these kinds (their Kind ``needs`` "h2proxy"; the runner asks rig.whole_rig for it).
RST_WAIT_S = 5.0  # how long rst_stream waits for an open stream of the method (not scaled: a machine wait)


def _path(method: str) -> str:
    return f"/{SERVICE}/{method}"


def rst_stream(run: Any, st: Step, occ: int) -> None:
    p = st.params

    def reset() -> None:  # may wait for the stream (e.g. its response headers): not on the agenda's thread
        run.h2.rst_stream(_path(p["method"]), p["error_code"], after_response_headers=p["after_headers"],
                          timeout=RST_WAIT_S)
    run.background("rst_stream", reset)


def h2_goaway(run: Any, st: Step, occ: int) -> None:
    p = st.params
    run.h2.goaway(p["error_code"], last_stream_id=p.get("last_stream_id"), debug_data=p["debug"].encode(),
                  close=p["close"])


def withhold_pings(run: Any, st: Step, occ: int) -> Undo:
    return _scoped(run.h2.withhold_pings())


def keepalive_policy(run: Any, st: Step, occ: int) -> Undo:
    p = st.params
    return _scoped(run.h2.keepalive_policy(min_time_without_data=p["min_ping_interval_ms"] / 1000.0,
                                           max_strikes=p["max_strikes"],
                                           permit_without_calls=p["permit_without_calls"]))


def stall_stream(run: Any, st: Step, occ: int) -> Undo:
    return _scoped(run.h2.stall_stream(_path(st.params["method"]), st.params["direction"]))


def goaway(run: Any, st: Step, occ: int) -> None:
    def drain() -> None:
        run.fake.goaway(grace=st.params["grace_s"], handover=st.params["handover"])
        run.record_step(st, occ, "end")
    run.background("goaway", drain)


def restart_server(run: Any, st: Step, occ: int) -> Undo | None:
    fake = run.fake
    if st.for_:
        fake.goaway(grace=st.params["grace_s"], handover=False)
        return lambda: fake.restart()
    fake.restart(grace=st.params["grace_s"])
    return None


def idle_cutoff(run: Any, st: Step, occ: int) -> Undo:
    return run.cutoffs.add(st.index, dict(st.params, step=st.index, on_t=time.monotonic()))


def stop_health_pings(run: Any, st: Step, occ: int) -> Undo:
    run.fake.set_health_ping_interval(None)
    return lambda: run.fake.set_health_ping_interval(run.sc.health_ping_every)


def health_pings(run: Any, st: Step, occ: int) -> None:
    run.fake.set_health_ping_interval(st.params["every_s"])


def _inject(run: Any, methods: tuple[str, ...], fault: Any, count: int) -> Undo:
    rules = [run.fake.inject(m, fault, count=count or None) for m in methods]
    return lambda: [run.fake.remove(r) for r in rules]


def hang(run: Any, st: Step, occ: int) -> Undo:
    return _inject(run, (st.params["method"],), Hang(), st.params["count"])


def reject(run: Any, st: Step, occ: int) -> Undo:
    p = st.params
    return _inject(run, (p["method"],), Abort(grpc.StatusCode[p["code"]], p["message"]), p["count"])


def long_poll_cutoff(run: Any, st: Step, occ: int) -> Undo:
    p = st.params
    return _inject(run, LONG_POLL_METHODS, AbortAfter(p["after_s"], grpc.StatusCode[p["code"]], p["message"]),
                   p["count"])


class IdleCutoffs:
    """The idle cut-off rules in force (a load balancer's), by step; while any is, a monitor thread
    ends every open GetWorkItems stream idle (or old) for a rule's ``after_s``."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self._rules: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def add(self, step: int, rule: dict[str, Any]) -> Undo:
        with self._lock:
            self._rules[step] = rule
            start_monitor = len(self._rules) == 1
        if start_monitor:
            self.run.background("idle-cutoff", self._monitor)

        def off() -> None:
            with self._lock:
                self._rules.pop(step, None)
        return off

    def _monitor(self) -> None:
        h, fake, stopping = self.run.history, self.run.fake, self.run.stopping
        while not stopping.is_set():
            with self._lock:
                rules = list(self._rules.values())
            if not rules:
                return
            now = time.monotonic()
            for cid, _peer in fake.open_streams():
                start = h.first(source=FAKE, kind="rpc_start", call_id=cid)
                if start is not None:
                    self._cut_if_idle(cid, start.t, rules, now)
            stopping.wait(MONITOR_PERIOD_S)

    def _cut_if_idle(self, cid: int, started: float, rules: list[dict[str, Any]], now: float) -> None:
        h = self.run.history
        for r in rules:
            since = started
            if r["since"] == "last_message":
                last = h.last(source=FAKE, kind="message_sent", call_id=cid)
                since = last.t if last is not None else started
            # idleness counts from when the rule came into force, like an LB config change
            idle_from = max(since, r["on_t"])
            if now - idle_from >= r["after_s"]:
                self.run.fake.end_stream(cid, r["code"], r["message"], fault="IdleCutoff", step=r["step"],
                                         idle_s=now - since, since=r["since"])
                return


# -- actions (the app, the server's work queue) ----------------------------------------------------
def stop_worker(run: Any, st: Step, occ: int) -> None:
    def stop() -> None:
        try:
            run.driver.stop_worker(timeout=STOP_BOUND_S)
        finally:
            run.record_step(st, occ, "end")
    run.background("stop-worker", stop)


def start_worker(run: Any, st: Step, occ: int) -> None:
    run.start_worker()


def queue_activities(run: Any, st: Step, occ: int) -> None:
    run.queue(f"work_step{st.index}", st.params["count"], "activity_queued")


def queue_activities_defs(st: Step) -> list[dict[str, Any]]:
    """The activity a queue_activities step queues, for the worker's registry."""
    return [{"name": f"work_step{st.index}", "sleep_seconds": st.params["duration_s"],
             "result": f"step{st.index}-done"}]


# The `client_call` ops of harness/drivers/PROTOCOL.md, less get_history: the fake does not serve
# StreamInstanceHistory on the microsoft schema (UNIMPLEMENTED), so a file could only fail on it.
CLIENT_OPS = ("schedule", "get_state", "wait_start", "wait_completion", "raise_event", "terminate", "purge")


def client_id(st: Step) -> str:
    """The driver's id of a client_calls step's client (its channel's role is "client:<id>")."""
    return f"step{st.index}"


def _op_args(op: str, instance_id: str | None, timeout: float) -> dict[str, Any]:
    if op == "schedule":
        return {"name": "scheduled", "input": None}
    args: dict[str, Any] = {"instance_id": instance_id}
    extra = {"wait_start": {"timeout": timeout}, "wait_completion": {"timeout": timeout},
             "raise_event": {"name": "event", "data": None}, "terminate": {"output": None}}
    return {**args, **extra.get(op, {})}


def client_calls(run: Any, st: Step, occ: int) -> None:
    """The app's client makes `count` calls of `op`, one after the other, in the background (a call
    may block as long as a fault lasts). The step's first occurrence creates the client and, for an op
    on an instance, schedules the orchestration it is about; later occurrences reuse both."""
    p, cid = st.params, client_id(st)

    def calls() -> None:
        if occ == 0:
            meta = [kv.split("=", 1) for kv in p["metadata"]] or None
            run.driver.create_client(cid, kind=p["client"], address=run.link.address, channel=p["channel"],
                                     resiliency=run.sc.client_options, metadata=meta)
            if p["op"] != "schedule":
                res = run.driver.call(cid, "schedule", name=f"orchestration_step{st.index}", input=None)
                if res.get("outcome") != "ok":
                    raise RuntimeError(f"{st.label()} client_calls: setup: the client could not schedule the "
                                       f"orchestration its {p['op']} calls are about: {res}")
                run.history.record(SCENARIO, "client_calls_instance", step=st.index, instance_id=res["value"])
        inst = run.history.first(source=SCENARIO, kind="client_calls_instance", step=st.index)
        for _ in range(p["count"]):
            if run.stopping.is_set():
                return
            run.driver.call(cid, p["op"], **_op_args(p["op"], inst.get("instance_id") if inst else None,
                                                     p["timeout_s"]))
    run.background(f"client-calls-{st.index}-{occ}", calls)


def probe(run: Any, st: Step, occ: int) -> None:
    run.probe()


def mark(run: Any, st: Step, occ: int) -> None:
    return None
