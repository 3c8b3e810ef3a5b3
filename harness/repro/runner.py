"""ScenarioRun: play one validated scenario file against one SDK build.

Start order (and stop in reverse, whatever happens, Ctrl-C included): the rig (harness/rig.py: a
Toxiproxy server unless a running one is given, the fake sidecar, a proxy in front of it, the SDK
driver). Then the workload and the timeline steps run at their scaled times relative to the
scenario start (monotonic clock); when ``duration`` has passed, every fault still in force is
cleared and the expectations are evaluated from the History by checker functions
(harness/repro/expect.py -> harness/checks/).

What a step does is its kind's ``apply`` (kinds.py -> steps.py); this module only schedules steps,
records them and undoes them. Every step writes ``scenario``/``step`` events (phase start/end,
field time, params, what it approximates), so the references in expectations ("step 2 end") are
read back from the History: re-checking a saved history needs nothing but the file.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import rig
from harness.checks.verdict import Verdict
from harness.checks.windows import DEFAULT_TOLERANCE_S
from harness.history import SCENARIO, History
from harness.repro.expect import evaluate
from harness.repro.model import (
    ANY_SDK,
    DRIVER_SDKS,
    LONG_POLL_CLIENT,
    PROBE,
    REFERENCE_SDK,
    WORK,
    Scenario,
    Step,
    Undo,
)
from harness.repro.schema import check_tolerance
from harness.repro.steps import IdleCutoffs

PASS, FAIL, NOT_APPLICABLE, ERROR = "PASS", "FAIL", "NOT APPLICABLE", "ERROR"
NOT_IMPLEMENTED, INCONCLUSIVE = "NOT IMPLEMENTED", "INCONCLUSIVE"
# expected = "fail": the stated checks failed and every other passed (a pass), or the stated checks
# pass now (the build fixed what the file reproduces: the file must be updated).
REPRODUCED, FIXED = "REPRODUCED", "FIXED"
EXIT_CODES = {PASS: 0, REPRODUCED: 0, FAIL: 1, NOT_IMPLEMENTED: 1, NOT_APPLICABLE: 3, ERROR: 4, INCONCLUSIVE: 5,
              FIXED: 6}
SAMPLE_PERIOD_S = 0.05  # TCP connection sampling period
__all__ = ["ERROR", "EXIT_CODES", "FAIL", "FIXED", "INCONCLUSIVE", "LONG_POLL_CLIENT", "NOT_APPLICABLE",
           "NOT_IMPLEMENTED", "PASS", "REPRODUCED", "Outcome", "ScenarioRun", "SdkPick", "judge_outcome", "lacking",
           "pick_sdk"]


@dataclass
class Outcome:
    scenario: Scenario
    verdict: str  # PASS | FAIL | NOT IMPLEMENTED | INCONCLUSIVE | NOT APPLICABLE | ERROR
    verdicts: list[Verdict] = field(default_factory=list)
    reason: str = ""
    history: History | None = None
    sdk: dict[str, Any] = field(default_factory=dict)
    driver_stderr: str = ""
    sdk_note: str = ""  # why the run used this SDK (pick_sdk), shown with the verdict
    sdk_name: str | None = None  # the --sdk name of the build that ran (the expected failure is per name)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]


@dataclass(frozen=True)
class SdkPick:
    """Which SDK a file runs against (an --sdk name) and why, in words for the verdict."""

    sdk: str
    note: str


def pick_sdk(sc: Scenario, requested: str | None) -> SdkPick:
    """The SDK a run of ``sc`` uses: ``requested`` (--sdk) if given; else the SDK the file's report is about
    when it has a driver; else the reference build, saying that the verdict is then about the reference
    SDK and not the reporter's. ValueError when neither the file nor ``requested`` names one."""
    own = sc.sdk
    if requested is not None:
        if own is None or own == requested:
            return SdkPick(requested, f"--sdk={requested}" + (" (the SDK of the file's report)" if own else ""))
        return SdkPick(requested, f"--sdk={requested}, although the file's report is about {own}: the verdict "
                                  f"is about {requested}")
    if own is None:
        raise ValueError(f"{sc.path}: the file names no SDK and no --sdk was given: add `sdk = \"...\"` at the "
                         f"top of the file or pass --sdk=NAME (one of {', '.join(DRIVER_SDKS)})")
    if own in DRIVER_SDKS:
        return SdkPick(own, f"{own}, the SDK of the file's report (sdk = \"{own}\")")
    about = "a server or network, not one SDK" if own == ANY_SDK else f"{own}, which has no driver"
    return SdkPick(REFERENCE_SDK, f"the reference build ({REFERENCE_SDK}): the file's report is about {about}; "
                                  f"this verdict is about {REFERENCE_SDK}, not the reporter's SDK")


def judge_outcome(sc: Scenario, verdicts: list[Verdict], sdk: str | None) -> tuple[str, str]:
    """(verdict, reason) from the checks' verdicts. Without an expected failure for ``sdk``: PASS if all
    pass, else FAIL. With one (``expected = "fail"``): REPRODUCED when every stated check failed and
    every other passed; FIXED when no other failed but a stated one passes (the build no longer has the
    defect or gap: the file must be updated); FAIL when another check failed (the run did not fail for
    the stated reason) or a stated check could not be evaluated."""
    failed = [v for v in verdicts if not v.ok]
    ef = sc.expected_failure_for(sdk)
    if ef is None:
        return (PASS if not failed else FAIL), ""
    prefixes = tuple(f"{e.label()}: " for e in sc.expects if e.index in ef.expects)
    stated = [v for v in verdicts if v.check.startswith(prefixes)]
    others = [v.check for v in failed if not v.check.startswith(prefixes)]
    what = f"the {ef.kind} ({ef.report}): {ef.labels(sc.expects)}"
    if others:
        return FAIL, (f"expected to fail only for {what}; but {', '.join(others)} failed too, so this run does "
                      "not show the stated failure")
    unjudged = [v.check for v in stated if v.summary.startswith("cannot evaluate")]
    if unjudged:
        return FAIL, f"expected to fail for {what}; but {', '.join(unjudged)} could not be evaluated"
    silent = [p[:-2] for p in prefixes if not any(v.check.startswith(p) for v in stated)]
    if silent:
        return FAIL, f"expected to fail for {what}; but {', '.join(silent)} gave no verdict"
    passing = [p[:-2] for p in prefixes if any(v.check.startswith(p) and v.ok for v in stated)]
    if not passing:
        return REPRODUCED, f"reproduced (expected failure): {what} failed as stated: {ef.reason}"
    return FIXED, (f"FIXED: the build no longer reproduces the {ef.kind} ({ef.report}): {', '.join(passing)} "
                   f"passes now. Update the file: expected = \"pass\" and no [expected_failure]"
                   + (f" (or drop {sdk} from its sdks)" if ef.sdks else "") + " -- or check the reproduction")


def lacking(capability: str | None, message: str) -> tuple[str, str]:
    """(verdict, reason) for a file this SDK build cannot run as written, by the class of the capability
    the driver says it lacks (harness/drivers/capabilities.py), as in the conformance suite: only an
    optional feature is NOT APPLICABLE; a missing resiliency option is NOT IMPLEMENTED (the build owes
    the behaviour, and a time-scaled file cannot run at the build's defaults); a build the driver cannot
    observe is INCONCLUSIVE. A driver that does not name the capability breaks PROTOCOL.md: ERROR."""
    from harness.drivers.capabilities import CAPABILITIES, CONFIGURABILITY, OBSERVATION, OPTIONAL
    cap = CAPABILITIES.get(capability or "")
    if cap is None:
        return ERROR, (f"the driver reported an unsupported feature without naming a known capability "
                       f"({capability!r}; PROTOCOL.md, 'Capabilities'): {message}")
    if cap.kind == OPTIONAL:
        return NOT_APPLICABLE, f"NOT APPLICABLE to this SDK build: it lacks {cap.name} (optional: {cap.meaning})"
    if cap.kind == OBSERVATION:
        return INCONCLUSIVE, f"INCONCLUSIVE: the driver cannot observe this build ({cap.name}: {cap.meaning})"
    assert cap.kind == CONFIGURABILITY
    return NOT_IMPLEMENTED, (f"NOT IMPLEMENTED: this SDK build lacks {cap.name}, an option the design promises "
                             f"({cap.meaning}): {message}")


class ScenarioRun:
    """Run ``scenario`` against the SDK build ``sdk`` (harness.sdk.SdkBuild). Give ``toxiproxy`` (a Client) to use a
    running server (the pytest session's); otherwise one is started from ``toxiproxy_url`` or a binary.

    While it runs, the steps (steps.py) use: ``sc``, ``history``, ``fake``, ``link``, ``driver``, ``stopping``
    (set when the run ends), ``cutoffs`` and the methods in the "for the steps" section."""

    def __init__(self, scenario: Scenario, *, sdk: Any, history: History | None = None,
                 toxiproxy: Any = None, toxiproxy_url: str | None = None, toxiproxy_bin: str | None = None,
                 toxiproxy_mode: str = "auto", cache_dir: Path | None = None, tolerance: float = DEFAULT_TOLERANCE_S, log_dir: Path | None = None,
                 patches: list[str] | None = None, echo: Callable[[str], None] | None = None,
                 sdk_note: str = "") -> None:
        from harness.paths import default_cache_dir
        self.sc = scenario
        self.sdk = sdk
        # `is None`, not `or`: an empty History is falsy (len 0), and the caller's (the pytest test's,
        # which failure reports attach) must be the one written into
        self.history = history if history is not None else History(f"repro:{scenario.name}")
        self.toxiproxy = toxiproxy
        self.toxiproxy_url = toxiproxy_url
        self.toxiproxy_bin = toxiproxy_bin
        self.toxiproxy_mode = toxiproxy_mode  # --toxiproxy: auto, binary, docker
        self.cache_dir = cache_dir or default_cache_dir()
        self.tolerance = tolerance
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="dt-repro-"))
        self.patches = patches or []
        self.sdk_note = sdk_note
        self.echo = echo or (lambda s: None)
        self.fake: Any = None
        self.link: Any = None
        self.driver: Any = None
        self.h2: Any = None  # harness.net.h2proxy.H2Proxy when a step needs real HTTP/2 frames
        self.t_start = 0.0
        self.stopping = threading.Event()
        self.cutoffs = IdleCutoffs(self)
        self.tokens: list[str] = []  # workload activities (completion tokens)
        self.long_poll_instance: str | None = None
        self._threads: list[threading.Thread] = []
        self._undo: dict[tuple[int, int], Undo] = {}
        self._lock = threading.Lock()
        self._agenda: list[tuple[float, int, str, Callable[[], None]]] = []
        self._order = itertools.count()
        self._sampling = False
        self._unsupported: Any = None  # a DriverUnsupported from a background part: the build lacks a feature
        self._bg_error: BaseException | None = None

    # -- public -----------------------------------------------------------------------------------
    def run(self) -> Outcome:
        h = self.history
        h.meta.update(self._meta())
        out = Outcome(self.sc, ERROR, history=h, sdk_note=self.sdk_note, sdk_name=getattr(self.sdk, "sdk", None))
        try:
            # Before anything starts: a scale at which the (unscaled) tolerance swamps a window is refused.
            check_tolerance(self.sc, self.tolerance)
            with contextlib.ExitStack() as stack:
                self._start_parts(stack)
                out.sdk = dict(h.meta.get("sdk", {}))
                if self._play_and_check(out):
                    return out
        except KeyboardInterrupt:
            out.verdict, out.reason = ERROR, "interrupted (Ctrl-C); everything was stopped"
            raise
        except Exception as exc:
            out.verdict, out.reason = ERROR, f"{type(exc).__name__}: {exc}"
            if self.driver is not None:
                out.driver_stderr = self.driver.stderr_tail()
        finally:
            self._finish(out)
        return out

    def _play_and_check(self, out: Outcome) -> bool:
        """Play the timeline, then check; True if the build could not run the file as written (``out``
        says what that makes of it: ``lacking``)."""
        from harness.drivers.process import DriverUnsupported
        try:
            self._play()
            if self._bg_error is not None:
                raise self._bg_error
            if self._unsupported is not None:
                raise self._unsupported
        except DriverUnsupported as exc:
            msg = exc.short
            if self.sc.scale != 1.0 and self.sc.worker_options is not None:
                msg += (f" (at scale {self.sc.scale:g} the run must scale the SDK's timeouts too, which "
                        "needs its resiliency options; --scale 1 tests this build's built-in defaults "
                        "at field time)")
            out.verdict, out.reason = lacking(exc.capability, msg)
            self.history.record(SCENARIO, "unsupported", verdict=out.verdict, capability=exc.capability,
                                reason=out.reason)
            return True
        finally:
            self.stopping.set()
            self._clear_all()
        out.verdicts = evaluate(self.sc, self.history, self.tolerance)
        out.verdict, out.reason = judge_outcome(self.sc, out.verdicts, out.sdk_name)
        if self.driver is not None:
            out.driver_stderr = self.driver.stderr_tail()
        return False

    def _finish(self, out: Outcome) -> None:
        h = self.history
        self.stopping.set()
        for t in self._threads:
            t.join(timeout=2.0)
        h.meta["sdk_under_test"] = out.sdk_name  # the --sdk name the verdict is about (meta.sdk: the driver's hello)
        h.meta["verdict"] = out.verdict
        h.meta["verdict_reason"] = out.reason
        h.meta["verdicts"] = [v.to_json() for v in out.verdicts]

    def _meta(self) -> dict[str, Any]:
        sc = self.sc
        ef = sc.expected_failure
        return {"scenario": str(sc.path), "title": sc.title, "source": sc.source, "expected": sc.expected,
                "report_sdk": sc.sdk, "sdk_note": self.sdk_note,
                "expected_failure": None if ef is None else {
                    "kind": ef.kind, "expects": list(ef.expects), "reason": ef.reason, "report": ef.report,
                    "sdks": list(ef.sdks)},
                "scale": sc.scale, "file_scale": sc.file_scale, "duration_s": sc.duration,
                "tolerance_s": self.tolerance, "worker_options": sc.worker_options,
                "client_options": sc.client_options, "health_ping_every_s": sc.health_ping_every,
                "lease_mode": sc.lease_mode, "lease_s": sc.lease_s, "scenario_text": _text_of(sc.path)}

    @property
    def needs_h2proxy(self) -> bool:
        """A step of the file sends real HTTP/2 frames: the frame-level proxy goes in the path."""
        return any("h2proxy" in st.kind.needs for st in self.sc.steps)

    # -- the rig; stopped in reverse by ``stack`` -------------------------------------------------
    def _start_parts(self, stack: contextlib.ExitStack) -> None:
        parts = stack.enter_context(rig.whole_rig(
            self.history, sdk=self.sdk, log_dir=self.log_dir, patches=self.patches,
            toxiproxy_client=self.toxiproxy, toxiproxy_url=self.toxiproxy_url, toxiproxy_bin=self.toxiproxy_bin,
            toxiproxy_mode=self.toxiproxy_mode,
            cache_dir=self.cache_dir, proxy_prefix="repro", h2=self.needs_h2proxy))
        self.fake, self.link, self.driver, self.h2 = parts.fake, parts.link, parts.driver, parts.h2
        # Faults still in force and background threads go before the parts they act on.
        stack.callback(self._clear_all)

    # -- the timeline ------------------------------------------------------------------------------------
    def _at(self, t: float, label: str, fn: Callable[[], None]) -> None:
        heapq.heappush(self._agenda, (t, next(self._order), label, fn))

    def _plan(self) -> None:
        """Everything on the agenda, in this order for equal times: steps (at the very start they go
        before the worker, e.g. "the server never answers Hello"), the workload, the checks' probes."""
        sc = self.sc
        for st in sc.steps:
            for occ, t in enumerate(st.occurrences()):
                self._at(t, st.label(), lambda st=st, occ=occ: self._step_start(st, occ))
                if st.for_ is not None:
                    self._at(t + st.for_, st.label() + " end", lambda st=st, occ=occ: self._step_end(st, occ))
        wl = sc.workload
        if wl.get("worker", True):
            self._at(wl.get("worker_at", 0.0), "workload: start worker", self.start_worker)
        if "activity" in wl:
            a = wl["activity"]
            self._at(a["at"], "workload: activity", lambda: self.queue(WORK, a["count"], "activity_queued"))
        if "long_poll" in wl:
            lp = wl["long_poll"]
            self._at(lp["at"], "workload: long polls", self._start_long_polls)
            if lp.get("finishes_at") is not None:
                self._at(lp["finishes_at"], "workload: orchestration finishes", self._finish_orchestration)
        for ex in sc.expects:
            if "probe" in ex.kind.needs:
                self._at(self._ref_time(ex.params["after"]), f"probe for expect {ex.index}",
                         lambda ex=ex: self.probe(expect=ex.index))
        for ex in sc.expects:
            if "tcp_samples" in ex.kind.needs and not self._sampling:
                self._sampling = True
                self.background("tcp-sampler", self._sample_connections)

    def _play(self) -> None:
        sc, h = self.sc, self.history
        if sc.health_ping_every:
            self.fake.set_health_ping_interval(sc.health_ping_every)
        self.fake.set_lease_mode(sc.lease_mode, sc.lease_s)  # recorded: what the server promised the run
        self._plan()
        self.t_start = time.monotonic()
        h.record(SCENARIO, "scenario_start", scale=sc.scale, title=sc.title, duration_s=sc.duration)
        self.echo(f"scenario start; runs {sc.duration:.2f}s at scale {sc.scale:g}")
        end = self.t_start + sc.duration
        while self._agenda:
            t, _, label, fn = heapq.heappop(self._agenda)
            if t > sc.duration:
                break
            self._sleep_until(self.t_start + t)
            if self._bg_error is not None or self._unsupported is not None:
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
            if left <= 0 or self._bg_error is not None or self._unsupported is not None:
                return
            time.sleep(min(left, 0.05))

    # -- for the steps (steps.py) ---------------------------------------------------------------------
    def background(self, name: str, fn: Callable[[], None]) -> None:
        """Run ``fn`` in a thread; an exception from it ends the run as an ERROR (a build that lacks a
        driver feature: ``lacking``), unless the run is already stopping."""
        def run() -> None:
            from harness.drivers.process import DriverUnsupported
            try:
                fn()
            except DriverUnsupported as exc:
                self._unsupported = exc
            except BaseException as exc:  # surfaces as the run's ERROR
                if not self.stopping.is_set():
                    self._bg_error = exc
        t = threading.Thread(target=run, name=f"repro-{name}", daemon=True)
        t.start()
        self._threads.append(t)

    def record_step(self, st: Step, occ: int, phase: str, **extra: Any) -> None:
        at = st.raw_at + occ * (st.every or 0.0) / self.sc.scale
        data = {"step": st.index, "occurrence": occ, "phase": phase, "name": st.name, "group": st.kind.group,
                "field_at_s": at, "params": {k: v for k, v in st.params.items()}, "note": st.note, **extra}
        if st.kind.approximates:
            data["approximates"] = st.kind.approximates
        self.history.record(SCENARIO, "step", **data)
        self.echo(f"{time.monotonic() - self.t_start:8.3f}s  {st.label()} #{occ + 1} {phase}: {st.name}")

    def start_worker(self) -> None:
        self.driver.start_worker(address=self.link.address, channel=self.sc.workload.get("worker_channel", "sdk"),
                                 resiliency=self.sc.worker_options, activities=self._activities())

    def queue(self, name: str, count: int, kind: str) -> list[str]:
        """The server queues ``count`` standalone activities ``name``; each is recorded as ``kind``."""
        toks = []
        for _ in range(count):
            tok = self.fake.schedule_activity(name, '"payload"')
            toks.append(tok)
            self.tokens.append(tok)
            self.history.record(SCENARIO, kind, completion_token=tok, activity=name,
                                instance_id=f"standalone-{tok}")
        return toks

    def probe(self, expect: int | None = None) -> None:
        tok = self.fake.schedule_activity(PROBE, '"ping"')
        self.history.record(SCENARIO, "probe_queued", completion_token=tok, expect=expect)

    # -- workload -----------------------------------------------------------------------------------------
    def _activities(self) -> list[dict[str, Any]]:
        acts = [{"name": PROBE, "sleep_seconds": 0, "result": "probe-ok"}]
        if "activity" in self.sc.workload:
            acts.append({"name": WORK, "sleep_seconds": self.sc.workload["activity"]["duration_s"],
                         "result": "work-done"})
        for st in self.sc.steps:
            if st.kind.activities is not None:
                acts.extend(st.kind.activities(st))
        return acts

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
                if self.stopping.is_set():
                    return
                self.driver.call(LONG_POLL_CLIENT, "wait_completion", instance_id=self.long_poll_instance,
                                 timeout=lp["timeout_s"])
        self.background("long-polls", polls)

    def _finish_orchestration(self) -> None:
        if self.long_poll_instance is None:
            return
        # The awaited orchestration reaches a final state (modelled by the server ending it).
        self.fake.engine.terminate(self.long_poll_instance, '"finished"')
        self.history.record(SCENARIO, "orchestration_finished", instance_id=self.long_poll_instance)

    def _sample_connections(self) -> None:
        port = self.link.listen_port
        while not self.stopping.is_set():
            try:
                conns = self.driver.connections(timeout=5.0)
            except Exception:
                if self.stopping.is_set():
                    return
                raise
            ports = sorted(int(c["local"].rsplit(":", 1)[1]) for c in conns
                           if c.get("state", "ESTABLISHED") == "ESTABLISHED"
                           and int(c["remote"].rsplit(":", 1)[1]) == port)
            self.history.record(SCENARIO, "tcp_connections", count=len(ports), client_ports=ports)
            self.stopping.wait(SAMPLE_PERIOD_S)

    # -- steps: begin (the kind's apply), end (its undo), and clearing what is still in force -----------
    def _step_start(self, st: Step, occ: int) -> None:
        self.record_step(st, occ, "start")
        undo = st.kind.apply(self, st, occ)
        if undo is not None:  # cleared by its scheduled end, or when the scenario ends
            with self._lock:
                self._undo[(st.index, occ)] = undo
        if st.for_ is None and not st.kind.ends_itself:  # those record their own end
            self.record_step(st, occ, "end")

    def _step_end(self, st: Step, occ: int) -> None:
        with self._lock:
            undo = self._undo.pop((st.index, occ), None)
        if undo is not None:
            undo()
        self.record_step(st, occ, "end")

    def _clear_all(self) -> None:
        with self._lock:
            undos = list(self._undo.items())
            self._undo.clear()
        for _, undo in reversed(undos):
            with contextlib.suppress(Exception):
                undo()


def _text_of(path: Path) -> str | None:
    """The scenario file's text, kept in the history so `python -m harness check` re-judges it against
    the exact version the run played, without the file."""
    try:
        return Path(path).read_text()
    except OSError:
        return None
