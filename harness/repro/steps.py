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
from contextlib import AbstractContextManager
from typing import Any

import grpc

from fakes.faults import Abort, AbortAfter, Hang
from harness.history import FAKE
from harness.repro.model import RST_STREAM_CODES, RST_STREAM_STATUS, Step, Undo

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


# -- server (the fake) -----------------------------------------------------------------------------
def _end_open_streams(run: Any, st: Step, code: str, message: str, **extra: Any) -> None:
    for cid, _peer in run.fake.open_streams():
        run.fake.end_stream(cid, code, message, fault=_camel(st.name), step=st.index, **extra)


def abort_stream(run: Any, st: Step, occ: int) -> None:
    _end_open_streams(run, st, st.params["code"], st.params["message"])


def end_stream_ok(run: Any, st: Step, occ: int) -> None:
    _end_open_streams(run, st, "OK", st.params["message"])


def rst_stream(run: Any, st: Step, occ: int) -> None:
    code = st.params["error_code"]
    _end_open_streams(run, st, RST_STREAM_STATUS[code], f"Received RST_STREAM with error code {RST_STREAM_CODES[code]}",
                      approximates=f"RST_STREAM({code})")


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


def probe(run: Any, st: Step, occ: int) -> None:
    run.probe()


def mark(run: Any, st: Step, occ: int) -> None:
    return None
