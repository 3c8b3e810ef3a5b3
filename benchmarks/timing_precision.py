"""Benchmark: how much machine latency lies in a timing verdict? The figures the tolerance derives from.

    .venv/bin/python benchmarks/timing_precision.py [--samples 40] [--sdk-version X] [--json FILE]
    .venv/bin/python benchmarks/timing_precision.py --compare [--load-cmd "CMD"]   # quiet, then loaded

Every timing verdict compares a time the SDK chose (a backoff sleep, a deadline, a silent timer) with
timestamps the harness took in two processes (the fake sidecar in the harness, the SDK in its driver
process) on one CLOCK_MONOTONIC. What lies between the SDK's decision and our reading is machine
latency; the one tolerance (harness/checks/windows.py) must cover it and nothing more. This measures
it on the paths the checks read, each with an ideal value known exactly:

  reconnect  |fake view - driver view| of the SAME reconnect delay (backoff base 0.05 s, cap 0.4 s):
             fake `server_fault` -> next `Hello` rpc_start, against the driver's `rpc_done` of that
             GetWorkItems -> the Hello as the SDK issued it (`rpc_done.t - elapsed`)
  deadline   |lifetime at the fake - Hello timeout| of a hung Hello (Hello timeout 0.2 s): the SDK's
             deadline timer as `hung_hellos_abandoned` sees it
  silence    |last message -> the SDK gives the stream up| - silent timeout| (silent timeout 0.3 s):
             the SDK's silent timer as `stream_abandoned_after_silence` sees it
  probe      queued -> completed at the fake of an activity that does nothing: the round trip
             `work_completed(within=tolerance)` allows
  stop       worker.stop() while the worker sleeps in a backoff (base 5 s, cap 10 s), timed inside
             the driver process: the work a prompt stop does (wake a thread, close a channel, join)
             -- the figure windows.STOP_LATENCY_S derives from, not part of the tolerance

It prints the distribution of each (ms), the worst case over the tolerance's components, and the
derivation: worst case x windows.SAFETY_FACTOR, rounded up, against the default in force. With
``--compare`` it measures twice, quiet and then under load (``--load-cmd``, default: one busy-loop
process per core, i.e. every core busy as ``pytest -n <cores>`` keeps them), and prints both. No
assertion: a measurement. Run it per driver (``--sdk``) before trusting the default for that SDK.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
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

from fakes.faults import Abort, Hang, Silence  # noqa: E402
from fakes.sidecar import FakeSidecar  # noqa: E402
from harness import rig  # noqa: E402
from harness.checks import windows  # noqa: E402
from harness.checks.queries import call_end, last_message_before  # noqa: E402
from harness.drivers.process import Driver  # noqa: E402
from harness.history import DRIVER, FAKE, History  # noqa: E402
from harness.paths import default_cache_dir  # noqa: E402
from harness.sdk import BuildChoice, SdkBuild, resolve  # noqa: E402

# The components the tolerance must cover; ``stop`` is bounded on its own (windows.STOP_LATENCY_S).
TOLERANCE_PARTS = ("reconnect", "deadline", "silence", "probe")
HELLO_TIMEOUT, SILENT_TIMEOUT, PING = 0.2, 0.3, 0.1
FAST_BACKOFF = {"reconnect_backoff_base_seconds": 0.01, "reconnect_backoff_cap_seconds": 0.02}


def _opts(**kw: float) -> dict[str, float]:
    base = {"hello_timeout_seconds": 1.0, "silent_disconnect_timeout_seconds": 0,
            "channel_recreate_failure_threshold": 0, **FAST_BACKOFF}
    return {**base, **kw}


class Rig:
    """How each measurement gets its parts: through a Toxiproxy proxy in front of the fake (the longer
    path, as the tests that use ``link`` have it; one Toxiproxy server for the whole benchmark), or
    straight to the fake (``--direct``, as most tests have it)."""

    def __init__(self, build: SdkBuild, toxiproxy: Any = None) -> None:
        self.build, self.toxiproxy = build, toxiproxy

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[tuple[History, Any, Driver, str]]:
        """A fresh history, fake and driver for one measurement, and the address the SDK dials."""
        h = History(f"timing-precision-{name}")
        with tempfile.TemporaryDirectory() as tmp:
            if self.toxiproxy is None:
                with FakeSidecar(h) as fake, Driver(self.build.command(), h, log_dir=tmp) as d:
                    d.hello()
                    yield h, fake, d, fake.address
                return
            with rig.whole_rig(h, sdk=self.build, log_dir=Path(tmp), toxiproxy_client=self.toxiproxy,
                               proxy_prefix="bench") as parts:
                yield h, parts.fake, parts.driver, parts.link.address


def _wait(pred: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not pred():
        time.sleep(0.05)


# -- one function per component: a list of |measured - ideal| in seconds ------------------------------
def pairs(h: History) -> list[tuple[float, float]]:
    """Pair the i-th failure with the (i+1)-th Hello, in both views (every stream fails, so the
    sequences line up one to one; pairing by time would mix neighbours at 50 ms spacing)."""
    faults = h.select(FAKE, "server_fault", method="GetWorkItems")
    f_hellos = h.select(FAKE, "rpc_start", method="Hello")
    d_streams = h.select(DRIVER, "rpc_done", method="GetWorkItems")
    d_hellos = h.select(DRIVER, "rpc_done", method="Hello")
    out = []
    for i, fault in enumerate(faults):
        if i + 1 >= min(len(f_hellos), len(d_hellos)) or i >= len(d_streams):
            break
        fake_delay = f_hellos[i + 1].t - fault.t
        d_hello = d_hellos[i + 1]
        driver_delay = (d_hello.t - float(d_hello.get("elapsed", 0))) - d_streams[i].t
        out.append((fake_delay, driver_delay))
    return out


def measure_reconnect(parts: Rig, n: int) -> list[float]:
    with parts("reconnect") as (h, fake, d, address):
        fake.inject("GetWorkItems", Abort(grpc.StatusCode.UNAVAILABLE, "bench"), count=n)
        d.start_worker(address=address, resiliency=_opts(
            reconnect_backoff_base_seconds=0.05, reconnect_backoff_cap_seconds=0.4), activities=[])
        _wait(lambda: len(h.select(FAKE, "server_fault")) >= n, 0.4 * n + 30)
        time.sleep(0.5)
        d.stop_worker(timeout=10)
    return [abs(a - b) for a, b in pairs(h)]


def measure_deadline(parts: Rig, n: int) -> list[float]:
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
    with parts("probe") as (h, fake, d, address):
        d.start_worker(address=address, resiliency=_opts(),
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
    return out


def measure_stop(parts: Rig, n: int) -> list[float]:
    """stop() while the worker sleeps in a backoff of U[0, 10) s, timed by the driver."""
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


MEASURES: dict[str, Callable[[Rig, int], list[float]]] = {
    "reconnect": measure_reconnect, "deadline": measure_deadline, "silence": measure_silence,
    "probe": measure_probe, "stop": measure_stop}
SAMPLES_PER_PART = {"reconnect": 1.5, "deadline": 0.5, "silence": 0.5, "probe": 1.0, "stop": 0.25}


# -- reporting ---------------------------------------------------------------------------------------
def quantiles(xs: list[float]) -> dict[str, float]:
    s = sorted(xs)
    if not s:
        return {"n": 0}
    q = lambda x: s[min(len(s) - 1, int(round(x * (len(s) - 1))))]  # noqa: E731
    return {"n": len(s), "median": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": s[-1]}


def measure_all(parts: Rig, samples: int, loads: list[float]) -> dict[str, list[float]]:
    """Every component; appends the 1-minute load average seen at the end to ``loads``."""
    got = {name: fn(parts, max(4, int(samples * SAMPLES_PER_PART[name]))) for name, fn in MEASURES.items()}
    loads.append(os.getloadavg()[0])
    return got


def print_table(label: str, got: dict[str, list[float]], load_avg: float) -> None:
    print(f"{label} (1-min load average at the end {load_avg:.2f}), ms:")
    for name, xs in got.items():
        q = quantiles(xs)
        if not q["n"]:
            print(f"  {name:<10} no samples")
            continue
        print(f"  {name:<10} n={q['n']:<4} median {q['median'] * 1e3:7.2f}  p90 {q['p90'] * 1e3:7.2f}  "
              f"p99 {q['p99'] * 1e3:7.2f}  max {q['max'] * 1e3:7.2f}")


def print_derivation(runs: dict[str, dict[str, list[float]]]) -> None:
    """The figures windows.py's docstring quotes: the worst case per condition and what it implies."""
    for label, got in runs.items():
        worst = max((max(got[p]) for p in TOLERANCE_PARTS if got.get(p)), default=0.0)
        part = max((p for p in TOLERANCE_PARTS if got.get(p)), key=lambda p: max(got[p]), default="-")
        stop = max(got.get("stop") or [0.0])
        print(f"{label}: worst tolerance component {worst * 1e3:.2f} ms ({part}) x safety factor "
              f"{windows.SAFETY_FACTOR:g} = {worst * windows.SAFETY_FACTOR * 1e3:.1f} ms "
              f"-> {windows.derive_tolerance(worst):g} s (default in force {windows.DEFAULT_TOLERANCE_S:g} s); "
              f"worst stop {stop * 1e3:.2f} ms x {windows.SAFETY_FACTOR:g} -> "
              f"{windows.derive_tolerance(stop):g} s (STOP_LATENCY_S in force {windows.STOP_LATENCY_S:g} s)")


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
    ap.add_argument("--sdk", default="python")
    ap.add_argument("--sdk-version", default=None)
    ap.add_argument("--sdk-path", default=None)
    ap.add_argument("--json", type=Path, default=None, help="write every sample (seconds) here")
    args = ap.parse_args()
    samples = args.failures if args.failures is not None else args.samples
    if args.only:
        keep = set(args.only.split(","))
        for name in list(MEASURES):
            if name not in keep:
                del MEASURES[name]
    build = resolve(BuildChoice(args.sdk, args.sdk_version, args.sdk_path), default_cache_dir())
    path = "straight to the fake" if args.direct else "through a Toxiproxy proxy"
    print(f"SDK {build.label}: each component measured by the fake and the SDK process ({path})")
    loads: list[float] = []
    with contextlib.ExitStack() as stack:
        proxy = None if args.direct else stack.enter_context(rig.toxiproxy(cache_dir=default_cache_dir()))
        parts = Rig(build, proxy)
        runs = {"quiet" if args.compare else "as found": measure_all(parts, samples, loads)}
        if args.compare:
            with load(args.load_cmd) as what:
                runs[what] = measure_all(parts, samples, loads)
    for (label, got), load_avg in zip(runs.items(), loads, strict=True):
        print_table(label, got, load_avg)
    print_derivation(runs)
    if args.json:
        args.json.write_text(json.dumps({"sdk": build.label, "runs": runs, "load_average": loads}, indent=1))
    if any(not xs for got in runs.values() for xs in got.values()):
        print("some component has no samples (see above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
