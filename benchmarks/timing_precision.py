"""Benchmark: how much machine latency lies in a timing verdict? The figures the tolerance derives from.

    .venv/bin/python benchmarks/timing_precision.py [--samples 40] [--sdk-version X] [--json FILE]
    .venv/bin/python benchmarks/timing_precision.py --compare [--load-cmd "CMD"]   # quiet, then loaded
    .venv/bin/python benchmarks/timing_precision.py --sdk all --samples 20          # every driver, one table
    .venv/bin/python benchmarks/timing_precision.py --sdk go --sdk java            # some drivers
    .venv/bin/python benchmarks/timing_precision.py --pool a.json --pool b.json    # saved runs, one table

Every timing verdict compares a time the SDK chose (a backoff sleep, a deadline, a silent timer) with
timestamps the harness took in two processes (the fake sidecar in the harness, the SDK in its driver
process) on one CLOCK_MONOTONIC. What lies between the SDK's decision and our reading is machine
latency; the one tolerance (harness/checks/windows.py) must cover it and nothing more. This measures
it on the paths the checks read, each with an ideal value known exactly:

  reconnect  |fake view - driver view| of the SAME reconnect delay: fake `server_fault` -> the next
             connect attempt as the fake sees it (Hello `rpc_start`; GetWorkItems for a build that
             sends no Hello), against the driver's `rpc_done` of that GetWorkItems -> the attempt as the
             SDK issued it (Hello `rpc_done.t - elapsed`, or GetWorkItems `rpc_start`). With worker
             options: backoff base 0.05 s, cap 0.4 s. Without: the build's OWN backoff, so fewer samples
             (a wall-time budget per driver), after UNAVAILABLE, or after an OK end of the stream if the
             build does not reconnect after UNAVAILABLE (said in a note)
  deadline   |lifetime at the fake - Hello timeout| of a hung Hello (Hello timeout 0.2 s): the SDK's
             deadline timer as `hung_hellos_abandoned` sees it (needs the Hello timeout option)
  silence    |last message -> the SDK gives the stream up| - silent timeout| (silent timeout 0.3 s):
             the SDK's silent timer as `stream_abandoned_after_silence` sees it (needs the option)
  probe      queued -> completed at the fake of an activity that does nothing: the round trip
             `work_completed(within=tolerance)` allows
  stamp      the same instant stamped by the driver and by the fake, for a client call (get_state):
             its start (driver `rpc_done.t - elapsed` vs fake `rpc_start`) and its end (fake `rpc_end`
             vs driver `rpc_done`). Both legs must be >= 0 when the two processes read one clock; an
             offset between the driver's clock and the harness's shows as a negative leg and as the
             estimated offset (half the legs' difference) printed under the table
  stop       worker.stop() while the worker sleeps in a backoff (options: base 5 s, cap 10 s; else the
             build's own backoff after UNAVAILABLE), timed inside the driver process: the work a prompt
             stop does (wake a thread, close a channel, join) -- the figure windows.STOP_LATENCY_S
             derives from, not part of the tolerance

A component a build cannot show (no such option and no such timer at its defaults, no Hello) is
reported as "not measurable" with the reason, never as zero samples. It prints the distribution of
each (ms), the worst case over the tolerance's components, and the derivation: worst case x
windows.SAFETY_FACTOR, rounded up, against the default in force. With several drivers (``--sdk`` more
than once, or ``--sdk all``) it ends with one table, driver x component: samples, median, p95, worst,
and whether the worst x the safety factor fits the default tolerance (STOP_LATENCY_S for stop). With
``--compare`` it measures twice, quiet and then under load (``--load-cmd``, default: one busy-loop
process per core, i.e. every core busy as ``pytest -n <cores>`` keeps them), and prints both. No
assertion: a measurement. Run it per driver before trusting the default for that SDK.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402

from fakes.faults import Abort, EndOk, Fault, Hang, Silence  # noqa: E402
from fakes.sidecar import FakeSidecar  # noqa: E402
from harness import rig  # noqa: E402
from harness.checks import windows  # noqa: E402
from harness.checks.queries import call_end, last_message_before  # noqa: E402
from harness.drivers.capabilities import Defaults, defaults_of  # noqa: E402
from harness.drivers.process import Driver, DriverError  # noqa: E402
from harness.history import DRIVER, FAKE, History  # noqa: E402
from harness.paths import default_cache_dir  # noqa: E402
from harness.sdk import ADAPTERS, BuildChoice, SdkBuild, resolve  # noqa: E402

# The components the tolerance must cover; ``stop`` is bounded on its own (windows.STOP_LATENCY_S).
TOLERANCE_PARTS = ("reconnect", "deadline", "silence", "probe", "stamp")
HELLO_TIMEOUT, SILENT_TIMEOUT, PING = 0.2, 0.3, 0.1
FAST_BACKOFF = {"reconnect_backoff_base_seconds": 0.01, "reconnect_backoff_cap_seconds": 0.02}
# A build without options reconnects at its own backoff (Java and @dapr JS: a fixed 5 s): its reconnect
# samples get this much wall time, so that one driver's whole run stays near two minutes.
RECONNECT_BUDGET_S = 60.0
STOP_SAMPLES_AT_DEFAULTS = 4  # each restarts the worker; the figure only has to show the order of magnitude


class NotMeasurable(Exception):
    """This build cannot show this component; the message says why (it goes into the table)."""


def _opts(**kw: float) -> dict[str, float]:
    base = {"hello_timeout_seconds": 1.0, "silent_disconnect_timeout_seconds": 0,
            "channel_recreate_failure_threshold": 0, **FAST_BACKOFF}
    return {**base, **kw}


class Rig:
    """How each measurement gets its parts: through a Toxiproxy proxy in front of the fake (the longer
    path, as the tests that use ``link`` have it; one Toxiproxy server for the whole benchmark), or
    straight to the fake (``--direct``, as most tests have it). It also keeps what the measurements
    learn about the build: its ``hello`` (capabilities, defaults), whether it sends a Hello at all, which
    stream end it reconnects after, and notes for the report."""

    def __init__(self, build: SdkBuild, toxiproxy: Any = None) -> None:
        self.build, self.toxiproxy = build, toxiproxy
        self.info: dict[str, Any] = {}
        self.sends_hello: bool | None = None  # seen at the fake once a worker has connected
        self.reconnect_fault: Fault = Abort(grpc.StatusCode.UNAVAILABLE, "bench")
        self.notes: dict[str, list[str]] = {}

    # -- what the build allows -----------------------------------------------------------------
    @property
    def configurable(self) -> bool:
        """The build takes the worker resiliency options (else it runs at its own defaults)."""
        return bool((self.info.get("capabilities") or {}).get("resiliency_options", False))

    @property
    def defaults(self) -> Defaults:
        return defaults_of(self.info)

    def declares(self, worker_field: str) -> bool:
        """The build itself declares this worker default (not the design's stand-in)."""
        return self.defaults.source.get("worker", {}).get(worker_field) == "build"

    def note(self, component: str, text: str) -> None:
        self.notes.setdefault(component, []).append(text)

    def greet(self) -> None:
        """Learn the build's hello before the first measurement needs it (one short-lived driver)."""
        if self.info:
            return
        with tempfile.TemporaryDirectory() as tmp, \
                Driver(self.build.command(), History("timing-precision-hello"), log_dir=tmp) as d:
            self.info = d.hello()

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[tuple[History, Any, Driver, str]]:
        """A fresh history, fake and driver for one measurement, and the address the SDK dials."""
        h = History(f"timing-precision-{name}")
        try:
            with tempfile.TemporaryDirectory() as tmp:
                if self.toxiproxy is None:
                    with FakeSidecar(h, schema=self.build.schema) as fake, \
                            Driver(self.build.command(), h, log_dir=tmp) as d:
                        self.info = self.info or d.hello()
                        yield h, fake, d, fake.address
                    return
                with rig.whole_rig(h, sdk=self.build, log_dir=Path(tmp), toxiproxy_client=self.toxiproxy,
                                   proxy_prefix="bench") as parts:
                    self.info = self.info or parts.sdk_info
                    yield h, parts.fake, parts.driver, parts.link.address
        finally:
            self._learn(h)

    def _learn(self, h: History) -> None:
        if self.sends_hello is None and h.first(source=FAKE, kind="rpc_start", method="GetWorkItems"):
            self.sends_hello = h.first(source=FAKE, kind="rpc_start", method="Hello") is not None

    def worker_options(self, **kw: float) -> dict[str, float] | None:
        """``kw`` over the benchmark's base options when the build takes options; None (its defaults)
        when it does not: a build without them rejects any (PROTOCOL.md ``unsupported``)."""
        return _opts(**kw) if self.configurable else None

    def own_backoff(self) -> str:
        w = self.defaults.worker
        where = "declared by its driver" if self.declares("reconnect_backoff_base_seconds") else "the design's"
        return (f"its own backoff (base {w.reconnect_backoff_base_seconds:g} s, cap "
                f"{w.reconnect_backoff_cap_seconds:g} s, {where})")


def _wait(pred: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not pred():
        time.sleep(0.05)


# -- one function per component: a list of |measured - ideal| in seconds ------------------------------
def _driver_attempt_after(h: History, method: str, t: float) -> float | None:
    """When the SDK issued its next ``method`` call after ``t`` (driver clock): a Hello's start is its
    ``rpc_done`` minus its duration (unary calls get no ``rpc_start``); a stream has an ``rpc_start``."""
    if method == "Hello":
        starts = [e.t - float(e.get("elapsed", 0)) for e in h.select(DRIVER, "rpc_done", method="Hello")]
        later = [s for s in starts if s > t]
        return min(later) if later else None
    ev = h.first(source=DRIVER, kind="rpc_start", method=method, after=t + 1e-9)
    return ev.t if ev is not None else None


def pairs(h: History, attempt: str = "Hello") -> list[tuple[float, float]]:
    """(fake view, driver view) of each reconnect delay: the i-th stream failure at the fake and the
    i-th GetWorkItems end in the driver are the same event (every stream fails, so the sequences line up
    one to one); from each, the next ``attempt`` call in the same process's own clock (pairing across
    the two clocks by time would assume what this measures)."""
    faults = h.select(FAKE, "server_fault", method="GetWorkItems")
    d_streams = h.select(DRIVER, "rpc_done", method="GetWorkItems")
    out = []
    # strict=False: the stream after the last failure ends at stop_worker, with no fault of its own.
    for fault, d_done in zip(faults, d_streams, strict=False):
        f_next = h.first(source=FAKE, kind="rpc_start", method=attempt, after=fault.t + 1e-9)
        d_next = _driver_attempt_after(h, attempt, d_done.t)
        if f_next is None or d_next is None:
            break
        out.append((f_next.t - fault.t, d_next - d_done.t))
    return out


def _reconnects(parts: Rig, n: int, fault: Fault, resiliency: dict[str, float] | None, budget: float,
                first_wait: float) -> tuple[History, bool]:
    """Fail ``n`` streams with ``fault``; returns the history and whether the build reconnected after
    the first failure within ``first_wait``."""
    with parts("reconnect") as (h, fake, d, address):
        fake.inject("GetWorkItems", fault, count=n)
        d.start_worker(address=address, resiliency=resiliency, activities=[])
        streams = lambda: len(h.select(FAKE, "rpc_start", method="GetWorkItems"))  # noqa: E731
        _wait(lambda: streams() >= 2, first_wait)
        if streams() < 2:
            d.stop_worker(timeout=10)
            return h, False
        # The stream after the n-th failure is the (n+1)-th; its connect attempt is in by then.
        _wait(lambda: streams() > n, budget)
        time.sleep(0.3)  # the driver's events of the last attempt
        d.stop_worker(timeout=10)
    return h, True


def measure_reconnect(parts: Rig, n: int) -> list[float]:
    parts.greet()
    if parts.configurable:
        h, _ = _reconnects(parts, n, parts.reconnect_fault, parts.worker_options(
            reconnect_backoff_base_seconds=0.05, reconnect_backoff_cap_seconds=0.4), 0.4 * n + 30, 30)
    else:
        w = parts.defaults.worker
        per = max(w.reconnect_backoff_base_seconds, 0.05)
        n = max(3, min(n, int(RECONNECT_BUDGET_S / per)))
        first_wait = 1.5 * w.reconnect_backoff_cap_seconds + 5  # the first delay, whatever its jitter
        h, reconnected = _reconnects(parts, n, parts.reconnect_fault, None, RECONNECT_BUDGET_S, first_wait)
        how = "UNAVAILABLE"
        if not reconnected:
            parts.note("reconnect", f"after UNAVAILABLE on GetWorkItems the build made no new connect attempt "
                                    f"within {first_wait:g} s; measured after an OK end of the stream instead")
            parts.reconnect_fault, how = EndOk(), "an OK end of the stream"
            h, reconnected = _reconnects(parts, n, parts.reconnect_fault, None, RECONNECT_BUDGET_S, first_wait)
            if not reconnected:
                raise NotMeasurable(f"no new connect attempt within {first_wait:g} s after UNAVAILABLE or an OK "
                                    "end of the stream")
        parts.note("reconnect", f"at {parts.own_backoff()} after {how}: up to {n} failures in a "
                                f"{RECONNECT_BUDGET_S:g} s budget")
    attempt = "Hello" if parts.sends_hello is not False else "GetWorkItems"
    if attempt != "Hello":
        parts.note("reconnect", "the build sends no Hello: the connect attempt is its GetWorkItems")
    got = pairs(h, attempt)
    if got and not parts.configurable:
        # What the build's own delay was: a near-zero one exercises no sleep, only the hand-offs.
        parts.note("reconnect", f"its delay itself, at the fake: median {statistics.median(a for a, _ in got):.3f} s")
    return [abs(a - b) for a, b in got]


def _no_timer(parts: Rig, option_field: str, timer: str) -> str:
    """Why a build without options cannot show ``timer``."""
    why = "no worker resiliency options (resiliency_options: false)"
    if option_field == "hello_timeout_seconds" and parts.sends_hello is False:
        return why + " and it sends no Hello at all: no Hello deadline to measure"
    if parts.declares(option_field):
        value = getattr(parts.defaults.worker, option_field)
        return why + f"; its own {timer} is {value:g} s, too long to sample within the budget"
    return why + f" and no {timer} at its defaults (its driver declares none): {timer} not measurable"


def measure_deadline(parts: Rig, n: int) -> list[float]:
    parts.greet()
    if not parts.configurable:
        raise NotMeasurable(_no_timer(parts, "hello_timeout_seconds", "Hello deadline"))
    with parts("deadline") as (h, fake, d, address):
        fake.inject("Hello", Hang(), count=n)
        d.start_worker(address=address, resiliency=_opts(hello_timeout_seconds=HELLO_TIMEOUT), activities=[])
        _wait(lambda: len(h.select(FAKE, "rpc_end", method="Hello")) >= n, (HELLO_TIMEOUT + 0.1) * n + 30)
        d.stop_worker(timeout=10)
    out = []
    for f in h.select(FAKE, "server_fault", method="Hello", fault="Hang"):
        start, end = h.first(source=FAKE, kind="rpc_start", call_id=f.get("call_id")), call_end(h, f.get("call_id"))
        if start is not None and end is not None:
            out.append(abs(end.t - start.t - HELLO_TIMEOUT))
    return out


def measure_silence(parts: Rig, n: int) -> list[float]:
    parts.greet()
    if not parts.configurable:
        raise NotMeasurable(_no_timer(parts, "silent_disconnect_timeout_seconds", "silent timer"))
    with parts("silence") as (h, fake, d, address):
        fake.set_health_ping_interval(PING)
        fake.inject("GetWorkItems", Silence(after_messages=1), count=n)
        d.start_worker(address=address, resiliency=_opts(silent_disconnect_timeout_seconds=SILENT_TIMEOUT),
                       activities=[])
        _wait(lambda: len(h.select(FAKE, "rpc_start", method="GetWorkItems")) > n, (SILENT_TIMEOUT + 0.3) * n + 30)
        d.stop_worker(timeout=10)
    out = []
    for f in h.select(FAKE, "server_fault", method="GetWorkItems", fault="Silence"):
        last = last_message_before(h, f.get("call_id"), f.t + 1e-9)
        start = h.first(source=FAKE, kind="rpc_start", call_id=f.get("call_id"))
        gave_up = h.first(source=DRIVER, kind="rpc_done", method="GetWorkItems", after=f.t)
        t_last = last.t if last is not None else (start.t if start is not None else None)
        if t_last is not None and gave_up is not None:
            out.append(abs(gave_up.t - t_last - SILENT_TIMEOUT))
    return out


def measure_probe(parts: Rig, n: int) -> list[float]:
    parts.greet()
    with parts("probe") as (h, fake, d, address):
        d.start_worker(address=address, resiliency=parts.worker_options(),
                       activities=[{"name": "probe", "sleep_seconds": 0, "result": "ok"}])
        h.wait_for(15, source=FAKE, kind="rpc_start", method="GetWorkItems")
        time.sleep(0.2)
        out = []
        for _ in range(n):
            t = time.monotonic()
            token = fake.schedule_activity("probe", '"ping"')
            done = h.wait_for(5, source=FAKE, kind="work_item_completed", completion_token=token)
            if done is not None:
                out.append(done.t - t)
            time.sleep(0.05)
        d.stop_worker(timeout=10)
    _note_first(parts, "probe", "probe", out)
    return out


def stamp_legs(h: History) -> list[tuple[float, float]]:
    """(request leg, response leg) of each client call, signed: fake ``rpc_start`` - the driver's start
    of the call, and the driver's ``rpc_done`` - fake ``rpc_end``. The calls are sequential and nothing
    else talks to the fake, so the i-th call at the fake is the i-th call the driver saw end."""
    ends = [e for e in h.select(DRIVER, "rpc_done") if str(e.get("role", "")).startswith("client:")]
    starts = h.select(FAKE, "rpc_start")
    if len(ends) != len(starts):
        raise NotMeasurable(f"the driver reported {len(ends)} client calls, the fake saw {len(starts)}: "
                            "cannot pair them")
    out = []
    for d_done, f_start in zip(ends, starts, strict=True):
        f_end = call_end(h, f_start.get("call_id"))
        if f_end is None:
            continue
        out.append((f_start.t - (d_done.t - float(d_done.get("elapsed", 0))), d_done.t - f_end.t))
    return out


def clock_check(legs: list[tuple[float, float]]) -> str:
    """What the legs prove about the driver's clock. A call reaches the fake after the driver starts it
    and ends in the driver after the fake ends it, so with the driver's clock = the harness's + d each
    measured request leg is (true leg - d) and each response leg (true leg + d), the true legs >= 0:
    d lies in [-min(request legs), +min(response legs)]. An empty interval is two clocks."""
    low, high = -min(req for req, _ in legs), min(resp for _, resp in legs)
    if low > high:
        return (f"CLOCKS DISAGREE over {len(legs)} calls: no offset fits both legs (request legs down to "
                f"{-low * 1e3:+.2f} ms, response legs down to {high * 1e3:+.2f} ms)")
    return (f"clock check over {len(legs)} calls: the driver's clock is within [{low * 1e3:+.2f}, "
            f"{high * 1e3:+.2f}] ms of the harness's (each call starts in the driver before the fake sees it "
            "and ends at the fake before the driver sees it)")


def _note_first(parts: Rig, component: str, what: str, xs: list[float]) -> None:
    """A first sample far above the rest is a fresh driver process's warm-up (lazy connect, class
    loading): every conformance test starts a fresh driver, so its first call pays it too."""
    if len(xs) > 1 and xs[0] > 2 * max(xs[1:]):
        parts.note(component, f"the first {what} of a fresh driver process took {xs[0] * 1e3:.1f} ms, "
                              f"the other {len(xs) - 1} at most {max(xs[1:]) * 1e3:.1f} ms (warm-up)")


def measure_stamp(parts: Rig, n: int) -> list[float]:
    """Both legs of ``n`` client calls, as |disagreement|; what they prove about the clocks goes into a
    note. One call before them is not counted: it connects the client's channel (lazily, on the first
    call), which is connection set-up between the two stamps, not a disagreement of the stamps."""
    with parts("stamp") as (h, fake, d, address):
        d.create_client("stamp", address=address)
        for i in range(n + 1):
            d.call("stamp", "get_state", instance_id=f"timing-precision-{i}")
            time.sleep(0.02)
        d.close_client("stamp")
    first, *legs = stamp_legs(h) or [(0.0, 0.0)]
    if legs:
        parts.note("stamp", clock_check(legs))
        parts.note("stamp", f"not counted: the first call (it connects the channel): request leg "
                            f"{first[0] * 1e3:.1f} ms, response leg {first[1] * 1e3:.1f} ms")
    return [abs(x) for leg in legs for x in leg]


def measure_stop(parts: Rig, n: int) -> list[float]:
    """stop() while the worker sleeps in a backoff, timed by the driver: with options U[0, 10) s after a
    failed Hello; without, the build's own backoff after a failed stream."""
    parts.greet()
    if not parts.configurable:
        return _stop_at_defaults(parts, min(n, STOP_SAMPLES_AT_DEFAULTS))
    out = []
    with parts("stop") as (h, fake, d, address):
        fake.inject("Hello", Abort(grpc.StatusCode.UNAVAILABLE, "bench: keep the worker in backoff"), count=None)
        for _ in range(n):
            after = time.monotonic()
            d.start_worker(address=address, resiliency=_opts(
                reconnect_backoff_base_seconds=5.0, reconnect_backoff_cap_seconds=10.0), activities=[])
            if h.wait_for(10, source=DRIVER, kind="rpc_done", method="Hello", after=after) is None:
                continue
            time.sleep(0.1)
            out.append(d.stop_worker(timeout=20))
    return out


def _stop_at_defaults(parts: Rig, n: int) -> list[float]:
    out = []
    fault = parts.reconnect_fault
    with parts("stop") as (h, fake, d, address):
        for _ in range(n):
            # One failure per sample: the reconnect that a build without a cancellable backoff makes
            # during stop() (@microsoft/durabletask-js 0.4.0) then succeeds instead of failing again.
            fake.inject("GetWorkItems", fault, count=1)
            after = time.monotonic()
            try:
                d.start_worker(address=address, resiliency=None, activities=[])
            except DriverError as exc:  # e.g. a build whose worker cannot be started twice in one process
                if not out:
                    raise NotMeasurable(f"the worker could not be started again after a stop: {exc}") from None
                parts.note("stop", f"stopped after {len(out)} samples: {exc}")
                break
            if h.wait_for(10, source=DRIVER, kind="rpc_done", method="GetWorkItems", after=after) is None:
                continue
            time.sleep(0.1)
            out.append(d.stop_worker(timeout=20))
    if out and statistics.median(out) > 10 * windows.STOP_LATENCY_S:
        parts.note("stop", f"stop() took {statistics.median(out):.2f} s (median): a wait of the build's own "
                           "(docs/FINDINGS.md), which stop_prompt judges; not machine latency")
    kind = "UNAVAILABLE" if isinstance(fault, Abort) else "an OK end of the stream"
    parts.note("stop", f"stop() 0.1 s after {kind} on GetWorkItems, the worker at {parts.own_backoff()} "
                       "(in its backoff then, or reconnected already where its delay is shorter)")
    return out


MEASURES: dict[str, Callable[[Rig, int], list[float]]] = {
    "probe": measure_probe, "stamp": measure_stamp, "reconnect": measure_reconnect,
    "deadline": measure_deadline, "silence": measure_silence, "stop": measure_stop}
SAMPLES_PER_PART = {"reconnect": 1.5, "deadline": 0.5, "silence": 0.5, "probe": 1.0, "stamp": 0.5, "stop": 0.25}


# -- reporting ---------------------------------------------------------------------------------------
def quantiles(xs: list[float]) -> dict[str, float]:
    s = sorted(xs)
    if not s:
        return {"n": 0}
    q = lambda x: s[min(len(s) - 1, int(round(x * (len(s) - 1))))]  # noqa: E731
    return {"n": len(s), "median": q(0.5), "p90": q(0.9), "p95": q(0.95), "p99": q(0.99), "max": s[-1]}


# One measurement of one build: component -> samples (s), or the reason it cannot be measured.
Measured = dict[str, "list[float] | str"]


def measure_all(parts: Rig, samples: int, loads: list[float]) -> Measured:
    """Every component; appends the 1-minute load average seen at the end to ``loads``."""
    got: Measured = {}
    for name, fn in MEASURES.items():
        try:
            got[name] = fn(parts, max(4, int(samples * SAMPLES_PER_PART[name])))
        except NotMeasurable as exc:
            got[name] = f"not measurable: {exc}"
        except DriverError as exc:  # the driver died or refused: the other components still get measured
            got[name] = f"error: {str(exc).splitlines()[0]}"
            print(f"  {name}: {exc}", file=sys.stderr)
    loads.append(os.getloadavg()[0])
    return got


def sampled(got: Measured) -> dict[str, list[float]]:
    return {k: v for k, v in got.items() if isinstance(v, list)}


def print_table(label: str, got: Measured, load_avg: float) -> None:
    print(f"{label} (1-min load average at the end {load_avg:.2f}), ms:")
    for name, xs in got.items():
        if isinstance(xs, str):
            print(f"  {name:<10} {xs}")
            continue
        q = quantiles(xs)
        if not q["n"]:
            print(f"  {name:<10} no samples")
            continue
        print(f"  {name:<10} n={q['n']:<4} median {q['median'] * 1e3:7.2f}  p90 {q['p90'] * 1e3:7.2f}  "
              f"p95 {q['p95'] * 1e3:7.2f}  p99 {q['p99'] * 1e3:7.2f}  max {q['max'] * 1e3:7.2f}")


def print_notes(notes: dict[str, list[str]]) -> None:
    for name, texts in notes.items():
        for text in dict.fromkeys(texts):
            print(f"  note {name}: {text}")


def print_derivation(runs: dict[str, Measured]) -> None:
    """The figures windows.py's docstring quotes: the worst case per condition and what it implies."""
    for label, measured in runs.items():
        got = sampled(measured)
        worst = max((max(got[p]) for p in TOLERANCE_PARTS if got.get(p)), default=0.0)
        part = max((p for p in TOLERANCE_PARTS if got.get(p)), key=lambda p: max(got[p]), default="-")
        stop = max(got.get("stop") or [0.0])
        print(f"{label}: worst tolerance component {worst * 1e3:.2f} ms ({part}) x safety factor "
              f"{windows.SAFETY_FACTOR:g} = {worst * windows.SAFETY_FACTOR * 1e3:.1f} ms "
              f"-> {windows.derive_tolerance(worst):g} s (default in force {windows.DEFAULT_TOLERANCE_S:g} s); "
              f"worst stop {stop * 1e3:.2f} ms x {windows.SAFETY_FACTOR:g} -> "
              f"{windows.derive_tolerance(stop):g} s (STOP_LATENCY_S in force {windows.STOP_LATENCY_S:g} s)")


def fits(component: str, worst: float) -> str:
    """Whether ``worst`` x the safety factor fits the bound this component counts against."""
    bound, name = ((windows.STOP_LATENCY_S, "STOP_LATENCY_S") if component == "stop"
                   else (windows.DEFAULT_TOLERANCE_S, "tolerance"))
    need = worst * windows.SAFETY_FACTOR
    if need <= bound:
        return f"yes ({need * 1e3:.0f} <= {bound * 1e3:.0f} {name})"
    return f"NO ({need * 1e3:.0f} > {bound * 1e3:.0f} {name})"


def print_summary(results: list[dict[str, Any]]) -> None:
    """One table, driver x component, over every condition measured (the worst case is what counts)."""
    x = windows.SAFETY_FACTOR
    print(f"\nper driver, all conditions pooled (ms; fits = worst x {x:g} within the default tolerance "
          f"{windows.DEFAULT_TOLERANCE_S:g} s, for stop within STOP_LATENCY_S {windows.STOP_LATENCY_S:g} s):")
    print(f"| driver | component | samples | median | p95 | worst | worst x {x:g} fits |")
    print("|---|---|---|---|---|---|---|")
    for res in results:
        for name in MEASURES:
            pooled: list[float] = []
            reasons = []
            for measured in res["runs"].values():
                v = measured.get(name)
                if isinstance(v, list):
                    pooled += v
                elif isinstance(v, str):
                    reasons.append(v)
            q = quantiles(pooled)
            if q["n"]:
                print(f"| {res['sdk']} | {name} | {q['n']} | {q['median'] * 1e3:.2f} | {q['p95'] * 1e3:.2f} | "
                      f"{q['max'] * 1e3:.2f} | {fits(name, q['max'])} |")
            else:
                why = reasons[0] if reasons else "no samples"
                print(f"| {res['sdk']} | {name} | 0 | – | – | – | {why} |")


def measure_build(build: SdkBuild, proxy: Any, samples: int, compare: bool, load_cmd: str | None,
                  path: str) -> dict[str, Any]:
    """Every component of one build, quiet and (``compare``) loaded; prints its tables and derivation."""
    print(f"SDK {build.label}: each component measured by the fake and the SDK process ({path})", flush=True)
    started = time.monotonic()
    loads: list[float] = []
    parts = Rig(build, proxy)
    runs = {"quiet" if compare else "as found": measure_all(parts, samples, loads)}
    if compare:
        with load(load_cmd) as what:
            runs[what] = measure_all(parts, samples, loads)
    for (label, got), load_avg in zip(runs.items(), loads, strict=True):
        print_table(label, got, load_avg)
    print_notes(parts.notes)
    print_derivation(runs)
    wall = time.monotonic() - started
    print(f"{build.label}: {wall:.0f} s wall time", flush=True)
    return {"sdk": build.label, "runs": runs, "load_average": loads, "notes": parts.notes, "wall_s": wall}


@contextlib.contextmanager
def load(cmd: str | None) -> Iterator[str]:
    """Background load for the loaded measurement: ``cmd`` (a shell command), or one busy loop per core."""
    if cmd:
        procs = [subprocess.Popen(cmd, shell=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)]
        what = f"loaded: {cmd}"
    else:
        n = os.cpu_count() or 1
        procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
                 for _ in range(n)]
        what = f"loaded: {n} busy-loop process(es), one per core"
    try:
        time.sleep(2.0)  # let the load get going
        yield what
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, 15)
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=30)


def sdk_names(given: list[str] | None) -> list[str]:
    """The drivers to measure: ``--sdk`` as given (repeatable), ``all`` for every registered one."""
    names: list[str] = []
    for name in given or ["python"]:
        for one in (list(ADAPTERS) if name == "all" else [name]):
            if one not in names:
                names.append(one)
    return names


def pooled_from(files: list[Path]) -> list[dict[str, Any]]:
    """Saved runs (``--json``) merged per driver, each file's conditions kept apart, in first-seen order."""
    by_sdk: dict[str, dict[str, Any]] = {}
    for i, path in enumerate(files):
        doc = json.loads(path.read_text())
        for res in doc.get("drivers", [doc]):
            into = by_sdk.setdefault(res["sdk"], {"sdk": res["sdk"], "runs": {}})
            for label, got in res["runs"].items():
                into["runs"][f"{path.name}#{i}: {label}"] = got
    return list(by_sdk.values())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=40, help="samples per component (scaled per component)")
    ap.add_argument("--failures", type=int, default=None, help="(old name) reconnect samples; sets --samples")
    ap.add_argument("--only", default=None, help="comma-separated components: " + ", ".join(MEASURES))
    ap.add_argument("--compare", action="store_true", help="measure quiet, then under load, and print both")
    ap.add_argument("--load-cmd", default=None, help="the load for --compare (a shell command, run from the "
                    "checkout, e.g. '.venv/bin/pytest conformance/test_worker_backoff.py --sdk=python -n 1')")
    ap.add_argument("--direct", action="store_true", help="the SDK dials the fake directly (default: through "
                    "a Toxiproxy proxy, the longer path)")
    ap.add_argument("--sdk", action="append", default=None,
                    help="a driver (repeatable; 'all' for every one: " + ", ".join(ADAPTERS) + "); default python")
    ap.add_argument("--sdk-version", default=None, help="with one --sdk only")
    ap.add_argument("--sdk-path", default=None, help="with one --sdk only")
    ap.add_argument("--json", type=Path, default=None, help="write every sample (seconds) here")
    ap.add_argument("--pool", type=Path, action="append", default=None, metavar="JSON",
                    help="measure nothing: print the driver x component table of saved --json files, pooled")
    args = ap.parse_args()
    if args.pool:
        print_summary(pooled_from(args.pool))
        return 0
    samples = args.failures if args.failures is not None else args.samples
    names = sdk_names(args.sdk)
    if len(names) > 1 and (args.sdk_version or args.sdk_path):
        ap.error("--sdk-version/--sdk-path name one build: give them with a single --sdk")
    if args.only:
        keep = set(args.only.split(","))
        unknown = keep - set(MEASURES)
        if unknown:
            ap.error(f"--only: unknown component(s) {', '.join(sorted(unknown))}; known: {', '.join(MEASURES)}")
        for name in list(MEASURES):
            if name not in keep:
                del MEASURES[name]
    builds = [resolve(BuildChoice(n, args.sdk_version, args.sdk_path), default_cache_dir()) for n in names]
    path = "straight to the fake" if args.direct else "through a Toxiproxy proxy"
    results = []
    with contextlib.ExitStack() as stack:
        proxy = None if args.direct else stack.enter_context(rig.toxiproxy(cache_dir=default_cache_dir()))
        for build in builds:
            results.append(measure_build(build, proxy, samples, args.compare, args.load_cmd, path))
    if len(results) > 1:
        print_summary(results)
    if args.json:
        doc: dict[str, Any] = results[0] if len(results) == 1 else {"drivers": results}
        args.json.write_text(json.dumps(doc, indent=1))
    empty = [f"{r['sdk']} {name}" for r in results for got in r["runs"].values()
             for name, xs in got.items() if (isinstance(xs, list) and not xs) or str(xs).startswith("error:")]
    if empty:
        print("no samples or an error (see above): " + ", ".join(empty))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
