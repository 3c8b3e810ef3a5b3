"""ScenarioRun: play one validated scenario file against one SDK build.

Start order (and stop in reverse, whatever happens, Ctrl-C included): a Toxiproxy server (unless a
running one is given), the fake sidecar, a proxy in front of it, the SDK driver. Then the workload
and the timeline steps run at their scaled times relative to the scenario start (monotonic clock);
when ``duration`` has passed, every fault still in force is cleared and the expectations are
evaluated from the History by checker functions (harness/repro/expect.py -> harness/checks/).

Every step writes ``scenario``/``step`` events (phase start/end, field time, params, what it
approximates), so the references in expectations ("step 2 end") are read back from the History:
re-checking a saved history needs nothing but the file.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from fakes.faults import Abort, Hang
from harness.checks.verdict import Verdict
from harness.history import SCENARIO, History
from harness.repro.schema import RST_STREAM_CODES, RST_STREAM_STATUS, Scenario, Step
from harness.repro.sidecar import AbortAfter, ScenarioSidecar

PASS, FAIL, NOT_APPLICABLE, ERROR = "PASS", "FAIL", "NOT APPLICABLE", "ERROR"
PROBE = "probe"
WORK = "work"
LONG_POLL_CLIENT = "lp"
MONITOR_PERIOD_S = 0.01  # idle cut-off rule resolution (not scaled: a machine latency)
SAMPLE_PERIOD_S = 0.05  # TCP connection sampling period
STOP_BOUND_S = 30.0  # how long stop_worker may take before the run is an ERROR (not scaled)


@dataclass
class Outcome:
    scenario: Scenario
    verdict: str  # PASS | FAIL | NOT APPLICABLE | ERROR
    verdicts: list[Verdict] = field(default_factory=list)
    reason: str = ""
    history: History | None = None
    sdk: dict[str, Any] = field(default_factory=dict)
    driver_stderr: str = ""

    @property
    def exit_code(self) -> int:
        return {PASS: 0, FAIL: 1, NOT_APPLICABLE: 3, ERROR: 4}[self.verdict]


class NotApplicable(Exception):
    pass


class ScenarioRun:
    """Run ``scenario`` against the SDK build ``sdk`` (harness.sdk.SdkBuild). Give ``toxiproxy`` (a Client) to use a
    running server (the pytest session's); otherwise one is started from ``toxiproxy_url`` or a binary."""

    def __init__(self, scenario: Scenario, *, sdk: Any, history: History | None = None,
                 toxiproxy: Any = None, toxiproxy_url: str | None = None, toxiproxy_bin: str | None = None,
                 cache_dir: Path | None = None, tolerance: float = 0.25, log_dir: Path | None = None,
                 patches: list[str] | None = None, echo: Callable[[str], None] | None = None) -> None:
        from harness.paths import default_cache_dir
        self.sc = scenario
        self.sdk = sdk
        self.history = history or History(f"repro:{scenario.name}")
        self.toxiproxy = toxiproxy
        self.toxiproxy_url = toxiproxy_url
        self.toxiproxy_bin = toxiproxy_bin
        self.cache_dir = cache_dir or default_cache_dir()
        self.tolerance = tolerance
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="dt-repro-"))
        self.patches = patches or []
        self.echo = echo or (lambda s: None)
        self.fake: ScenarioSidecar | None = None
        self.link: Any = None
        self.driver: Any = None
        self.t_start = 0.0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._undo: dict[tuple[int, int], Callable[[], None]] = {}
        self._cutoffs: dict[int, dict[str, Any]] = {}  # active idle cut-off rules by (step index)
        self._lock = threading.Lock()
        self._na: str | None = None  # a background part found the SDK build lacks a feature
        self._bg_error: BaseException | None = None
        self.tokens: list[str] = []  # workload activities (completion tokens)
        self.long_poll_instance: str | None = None

    # -- public -----------------------------------------------------------------------------------
    def run(self) -> Outcome:
        from harness.drivers.process import DriverUnsupported
        from harness.repro.expect import evaluate
        h = self.history
        h.meta.update(self._meta())
        out = Outcome(self.sc, ERROR, history=h)
        try:
            with contextlib.ExitStack() as stack:
                self._start_parts(stack)
                out.sdk = dict(h.meta.get("sdk", {}))
                try:
                    self._play()
                    if self._bg_error is not None:
                        raise self._bg_error
                    if self._na:
                        raise NotApplicable(self._na)
                except (DriverUnsupported, NotApplicable) as exc:
                    msg = getattr(exc, "short", None) or str(exc)
                    if self.sc.scale != 1.0 and self.sc.worker_options is not None:
                        msg += (f" (at scale {self.sc.scale:g} the run must scale the SDK's timeouts too, which "
                                "needs its resiliency options; --scale 1 tests this build's built-in defaults "
                                "at field time)")
                    out.verdict, out.reason = NOT_APPLICABLE, f"NOT APPLICABLE to this SDK build: {msg}"
                    h.record(SCENARIO, "not_applicable", reason=msg)
                    return out
                finally:
                    self._stop.set()
                    self._clear_all()
                out.verdicts = evaluate(self.sc, h, self.tolerance)
                out.verdict = PASS if all(v.ok for v in out.verdicts) else FAIL
                if self.driver is not None:
                    out.driver_stderr = self.driver.stderr_tail()
        except KeyboardInterrupt:
            out.verdict, out.reason = ERROR, "interrupted (Ctrl-C); everything was stopped"
            raise
        except Exception as exc:
            out.verdict, out.reason = ERROR, f"{type(exc).__name__}: {exc}"
            if self.driver is not None:
                out.driver_stderr = self.driver.stderr_tail()
        finally:
            self._stop.set()
            for t in self._threads:
                t.join(timeout=2.0)
            h.meta["verdict"] = out.verdict
            h.meta["verdict_reason"] = out.reason
            h.meta["verdicts"] = [{"check": v.check, "ok": v.ok, "summary": v.summary, "measured": v.measured}
                                  for v in out.verdicts]
        return out

    def _meta(self) -> dict[str, Any]:
        sc = self.sc
        return {"scenario": str(sc.path), "title": sc.title, "source": sc.source, "expected": sc.expected,
                "scale": sc.scale, "file_scale": sc.file_scale, "duration_s": sc.duration,
                "tolerance_s": self.tolerance, "worker_options": sc.worker_options,
                "client_options": sc.client_options, "health_ping_every_s": sc.health_ping_every}

    # -- parts, in order; each registers its own stop ---------------------------------------------
    def _start_parts(self, stack: contextlib.ExitStack) -> None:
        from harness.drivers.process import Driver
        from harness.net.link import FaultyLink
        from harness.net.toxiproxy_client import Client
        h = self.history
        client = self.toxiproxy
        if client is None and self.toxiproxy_url:
            client = Client(self.toxiproxy_url)
            client.version()
        if client is None:
            from harness.net.toxiproxy_server import ToxiproxyServer, find_or_build_binary
            binary = find_or_build_binary(self.toxiproxy_bin, self.cache_dir)
            server = ToxiproxyServer(binary, log_dir=self.cache_dir / "logs")
            server.start()
            stack.callback(server.stop)
            client = Client(server.url)
        self.fake = ScenarioSidecar(h)
        self.fake.start()
        stack.callback(self.fake.stop)
        name = f"repro-{os.getpid()}-{next(_ids)}"
        proxy = client.create_proxy(name, upstream=self.fake.address)
        stack.callback(lambda: _quiet(client.delete_proxy, proxy.name))
        self.link = FaultyLink(client, proxy, h)
        self.driver = Driver(self.sdk.command(self.patches), h, log_dir=self.log_dir)
        stack.callback(self.driver.close)
        info = self.driver.hello()
        h.meta["sdk"] = info
        h.record(SCENARIO, "driver_ready", sdk=info.get("sdk"), sdk_version=info.get("sdk_version"))
        # Faults still in force and background threads go before the parts they act on.
        stack.callback(self._clear_all)

    # -- the timeline ------------------------------------------------------------------------------------
    def _play(self) -> None:
        sc, h = self.sc, self.history
        agenda: list[tuple[float, int, str, Callable[[], None]]] = []
        order = itertools.count()

        def add(t: float, label: str, fn: Callable[[], None]) -> None:
            heapq.heappush(agenda, (t, next(order), label, fn))

        if sc.health_ping_every:
            self.fake.set_health_ping_interval(sc.health_ping_every)
        # steps at the very start go before the worker (e.g. "the server never answers Hello")
        for st in sc.steps:
            for occ, t in enumerate(st.occurrences()):
                add(t, st.label(), lambda st=st, occ=occ: self._step_start(st, occ))
                if st.for_ is not None and self._scoped(st):
                    add(t + st.for_, st.label() + " end", lambda st=st, occ=occ: self._step_end(st, occ))
        wl = sc.workload
        if wl.get("worker", True):
            add(wl.get("worker_at", 0.0), "workload: start worker", self._start_worker)
        if "activity" in wl:
            a = wl["activity"]
            add(a["at"], "workload: activity", lambda: self._queue(WORK, a["count"], "activity_queued"))
        if "long_poll" in wl:
            lp = wl["long_poll"]
            add(lp["at"], "workload: long polls", self._start_long_polls)
            if lp.get("finishes_at") is not None:
                add(lp["finishes_at"], "workload: orchestration finishes", self._finish_orchestration)
        for ex in sc.expects:
            if ex.name == "working_stream_within":
                t = self._ref_time(ex.params["after"])
                add(t, f"probe for expect {ex.index}", lambda ex=ex: self._probe(expect=ex.index))
        if any(ex.name == "max_connections" for ex in sc.expects):
            self._background("tcp-sampler", self._sample_connections)

        self.t_start = time.monotonic()
        h.record(SCENARIO, "scenario_start", scale=sc.scale, title=sc.title, duration_s=sc.duration)
        self.echo(f"scenario start; runs {sc.duration:.2f}s at scale {sc.scale:g}")
        end = self.t_start + sc.duration
        while agenda:
            t, _, label, fn = heapq.heappop(agenda)
            if t > sc.duration:
                break
            self._sleep_until(self.t_start + t)
            if self._bg_error is not None or self._na:
                return
            fn()
        self._sleep_until(end)
        h.record(SCENARIO, "scenario_end")

    def _ref_time(self, ref: str) -> float:
        """Planned (scaled) time of a reference, for scheduling probes."""
        if ref == "start":
            return 0.0
        if ref == "activity":
            return self.sc.workload["activity"]["at"]
        parts = ref.split()
        st = next(s for s in self.sc.steps if s.index == int(parts[1]))
        t = st.occurrences()[-1]
        return t + (st.for_ or 0.0) if parts[-1] == "end" else t

    def _sleep_until(self, deadline: float) -> None:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self._bg_error is not None or self._na:
                return
            time.sleep(min(left, 0.05))

    def _background(self, name: str, fn: Callable[[], None]) -> None:
        def run() -> None:
            from harness.drivers.process import DriverUnsupported
            try:
                fn()
            except DriverUnsupported as exc:
                self._na = exc.short
            except BaseException as exc:  # surfaces as the run's ERROR
                if not self._stop.is_set():
                    self._bg_error = exc
        t = threading.Thread(target=run, name=f"repro-{name}", daemon=True)
        t.start()
        self._threads.append(t)

    # -- workload -----------------------------------------------------------------------------------------
    def _activities(self) -> list[dict[str, Any]]:
        acts = [{"name": PROBE, "sleep_seconds": 0, "result": "probe-ok"}]
        if "activity" in self.sc.workload:
            acts.append({"name": WORK, "sleep_seconds": self.sc.workload["activity"]["duration_s"],
                         "result": "work-done"})
        for st in self.sc.steps:
            if st.name == "queue_activities":
                acts.append({"name": f"work_step{st.index}", "sleep_seconds": st.params["duration_s"],
                             "result": f"step{st.index}-done"})
        return acts

    def _start_worker(self) -> None:
        self.driver.start_worker(address=self.link.address, channel=self.sc.workload.get("worker_channel", "sdk"),
                                 resiliency=self.sc.worker_options, activities=self._activities())

    def _queue(self, name: str, count: int, kind: str) -> list[str]:
        toks = []
        for _ in range(count):
            tok = self.fake.schedule_activity(name, '"payload"')
            toks.append(tok)
            self.tokens.append(tok)
            self.history.record(SCENARIO, kind, completion_token=tok, activity=name,
                                instance_id=f"standalone-{tok}")
        return toks

    def _probe(self, expect: int | None = None) -> None:
        tok = self.fake.schedule_activity(PROBE, '"ping"')
        self.history.record(SCENARIO, "probe_queued", completion_token=tok, expect=expect)

    def _start_long_polls(self) -> None:
        lp = self.sc.workload["long_poll"]
        self.driver.create_client(LONG_POLL_CLIENT, kind=lp["client"], address=self.link.address,
                                  resiliency=self.sc.client_options)
        res = self.driver.call(LONG_POLL_CLIENT, "schedule", name="awaited", input=None)
        if res.get("outcome") != "ok":
            raise RuntimeError(f"setup: the client could not schedule the awaited orchestration: {res}")
        self.long_poll_instance = res["value"]
        self.history.record(SCENARIO, "long_poll_instance", instance_id=self.long_poll_instance)

        def polls() -> None:
            for _ in range(lp["count"]):
                if self._stop.is_set():
                    return
                self.driver.call(LONG_POLL_CLIENT, "wait_completion", instance_id=self.long_poll_instance,
                                 timeout=lp["timeout_s"])
        self._background("long-polls", polls)

    def _finish_orchestration(self) -> None:
        if self.long_poll_instance is None:
            return
        # The awaited orchestration reaches a final state (modelled by the server ending it).
        self.fake.engine.terminate(self.long_poll_instance, '"finished"')
        self.history.record(SCENARIO, "orchestration_finished", instance_id=self.long_poll_instance)

    def _sample_connections(self) -> None:
        port = self.link.listen_port
        while not self._stop.is_set():
            try:
                conns = self.driver.connections(timeout=5.0)
            except Exception:
                if self._stop.is_set():
                    return
                raise
            ports = sorted(int(c["local"].rsplit(":", 1)[1]) for c in conns
                           if c.get("state", "ESTABLISHED") == "ESTABLISHED"
                           and int(c["remote"].rsplit(":", 1)[1]) == port)
            self.history.record(SCENARIO, "tcp_connections", count=len(ports), client_ports=ports)
            self._stop.wait(SAMPLE_PERIOD_S)

    # -- steps ---------------------------------------------------------------------------------------------
    def _scoped(self, st: Step) -> bool:
        return st.kind.group == "network" and st.name != "tcp_reset" or st.name in (
            "idle_cutoff", "stop_health_pings", "hang", "reject", "long_poll_cutoff", "restart_server")

    def _record_step(self, st: Step, occ: int, phase: str, **extra: Any) -> None:
        at = st.raw_at + occ * (st.every or 0.0) / self.sc.scale
        data = {"step": st.index, "occurrence": occ, "phase": phase, "name": st.name, "group": st.kind.group,
                "field_at_s": at, "params": {k: v for k, v in st.params.items()}, "note": st.note, **extra}
        if st.kind.approximates:
            data["approximates"] = st.kind.approximates
        self.history.record(SCENARIO, "step", **data)
        self.echo(f"{time.monotonic() - self.t_start:8.3f}s  {st.label()} #{occ + 1} {phase}: {st.name}")

    def _step_start(self, st: Step, occ: int) -> None:
        self._record_step(st, occ, "start")
        undo = self._apply(st, occ)
        if undo is not None:  # cleared by its scheduled end, or when the scenario ends
            with self._lock:
                self._undo[(st.index, occ)] = undo
        ends_later = st.for_ is not None and self._scoped(st)
        if not ends_later and st.name not in ("stop_worker", "goaway"):  # those record their own end
            self._record_step(st, occ, "end")

    def _step_end(self, st: Step, occ: int) -> None:
        with self._lock:
            undo = self._undo.pop((st.index, occ), None)
        if undo is not None:
            undo()
        self._record_step(st, occ, "end")

    def _clear_all(self) -> None:
        with self._lock:
            undos = list(self._undo.items())
            self._undo.clear()
        for _, undo in reversed(undos):
            with contextlib.suppress(Exception):
                undo()

    def _cm(self, cm: Any) -> Callable[[], None]:
        cm.__enter__()
        return lambda: cm.__exit__(None, None, None)

    def _apply(self, st: Step, occ: int) -> Callable[[], None] | None:  # noqa: C901 - a dispatch table
        p, link, fake, name = st.params, self.link, self.fake, st.name
        ms = lambda s: int(round(s * 1000))  # noqa: E731
        if name == "blackhole":
            return self._cm(link.blackhole(stream=p["stream"]))
        if name == "latency":
            return self._cm(link.latency(ms(p["latency_s"]), ms(p["jitter_s"]), stream=p["stream"]))
        if name == "bandwidth":
            return self._cm(link.bandwidth(p["rate_kbps"], stream=p["stream"]))
        if name == "limit_data":
            return self._cm(link.limit_data(p["bytes"], stream=p["stream"]))
        if name == "slow_close":
            return self._cm(link.slow_close(ms(p["delay_s"]), stream=p["stream"]))
        if name == "reset_peer":
            return self._cm(link.reset_peer(ms(p["timeout_s"]), stream=p["stream"]))
        if name == "down":
            return self._cm(link.down())
        if name == "tcp_reset":
            port = link.listen_port
            ports = [int(c["local"].rsplit(":", 1)[1]) for c in self.driver.connections()
                     if int(c["remote"].rsplit(":", 1)[1]) == port and c.get("state", "ESTABLISHED") == "ESTABLISHED"]
            for cp in ports:
                link.tcp_reset(cp)
            return None
        if name in ("abort_stream", "end_stream_ok", "rst_stream"):
            if name == "abort_stream":
                code, msg, extra = p["code"], p["message"], {}
            elif name == "end_stream_ok":
                code, msg, extra = "OK", p["message"], {}
            else:
                code = RST_STREAM_STATUS[p["error_code"]]
                msg = f"Received RST_STREAM with error code {RST_STREAM_CODES[p['error_code']]}"
                extra = {"approximates": f"RST_STREAM({p['error_code']})"}
            for cid, _peer in fake.open_streams():
                fake.end_stream(cid, code, msg, fault=_camel(name), step=st.index, **extra)
            return None
        if name == "goaway":
            def drain() -> None:
                fake.goaway(grace=p["grace_s"], handover=p["handover"])
                self._record_step(st, occ, "end")
            self._background("goaway", drain)
            return None
        if name == "restart_server":
            if st.for_:
                fake.goaway(grace=p["grace_s"], handover=False)
                return lambda: fake.restart()
            fake.restart(grace=p["grace_s"])
            return None
        if name == "idle_cutoff":
            rule = dict(p, step=st.index, on_t=time.monotonic())
            with self._lock:
                self._cutoffs[st.index] = rule
                start_monitor = len(self._cutoffs) == 1
            if start_monitor:
                self._background("idle-cutoff", self._cutoff_monitor)

            def off() -> None:
                with self._lock:
                    self._cutoffs.pop(st.index, None)
            return off
        if name == "stop_health_pings":
            fake.set_health_ping_interval(None)
            return lambda: fake.set_health_ping_interval(self.sc.health_ping_every)
        if name == "health_pings":
            fake.set_health_ping_interval(p["every_s"])
            return None
        if name in ("hang", "reject", "long_poll_cutoff"):
            count = p["count"] or None
            if name == "hang":
                rules = [fake.inject(p["method"], Hang(), count=count)]
            elif name == "reject":
                rules = [fake.inject(p["method"], Abort(grpc.StatusCode[p["code"]], p["message"]), count=count)]
            else:
                fault = AbortAfter(p["after_s"], grpc.StatusCode[p["code"]], p["message"])
                rules = [fake.inject(m, fault, count=count) for m in ("WaitForInstanceCompletion",
                                                                       "WaitForInstanceStart")]
            return lambda: [fake.remove(r) for r in rules]
        if name == "stop_worker":
            def stop() -> None:
                try:
                    self.driver.stop_worker(timeout=STOP_BOUND_S)
                finally:
                    self._record_step(st, occ, "end")
            self._background("stop-worker", stop)
            return None
        if name == "start_worker":
            self._start_worker()
            return None
        if name == "queue_activities":
            self._queue(f"work_step{st.index}", p["count"], "activity_queued")
            return None
        if name == "probe":
            self._probe()
            return None
        if name == "mark":
            return None
        raise AssertionError(f"step kind {name} has no implementation")

    def _cutoff_monitor(self) -> None:
        """Apply the idle cut-off rules in force to every open GetWorkItems stream."""
        from harness.history import FAKE
        h, fake = self.history, self.fake
        while not self._stop.is_set():
            with self._lock:
                rules = list(self._cutoffs.values())
            if not rules:
                return
            now = time.monotonic()
            for cid, _peer in fake.open_streams():
                start = h.first(source=FAKE, kind="rpc_start", call_id=cid)
                if start is None:
                    continue
                for r in rules:
                    since = start.t
                    if r["since"] == "last_message":
                        last = h.last(source=FAKE, kind="message_sent", call_id=cid)
                        since = last.t if last is not None else start.t
                    # idleness counts from when the rule came into force, like an LB config change
                    idle_from = max(since, r["on_t"])
                    if now - idle_from >= r["after_s"]:
                        fake.end_stream(cid, r["code"], r["message"], fault="IdleCutoff", step=r["step"],
                                        idle_s=now - since, since=r["since"])
                        break
            self._stop.wait(MONITOR_PERIOD_S)


_ids = itertools.count(1)


def _camel(name: str) -> str:
    return "".join(w.capitalize() for w in name.split("_"))


def _quiet(fn: Callable[..., Any], *args: Any) -> None:
    with contextlib.suppress(Exception):
        fn(*args)
