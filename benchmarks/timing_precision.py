"""Benchmark: do the fake and the SDK process agree on reconnect delays?

    .venv/bin/python benchmarks/timing_precision.py [--failures 60] [--sdk-version X]

Every backoff verdict subtracts timestamps taken in two processes (the fake sidecar in the
harness, the SDK in its driver process) on one CLOCK_MONOTONIC. This measures how far the two
views of the SAME reconnect delay differ:

  fake view:   fake `server_fault` (the fake decides to fail the stream) -> next `Hello` rpc_start
  driver view: driver `rpc_done` of that GetWorkItems (the SDK sees the failure)
               -> start of the next Hello as the SDK issued it (`rpc_done.t - elapsed`)

The worker runs with a small backoff (base 0.05 s, cap 0.4 s) and the fake fails GetWorkItems
with UNAVAILABLE FAILURES times in a row. Prints the distribution of |fake - driver| in ms.
Target (issue #3): p99 <= 10 ms. No assertion: a measurement.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402

from fakes.faults import Abort  # noqa: E402
from fakes.sidecar import FakeSidecar  # noqa: E402
from harness.drivers.process import Driver  # noqa: E402
from harness.history import DRIVER, FAKE, History  # noqa: E402
from harness.paths import default_cache_dir  # noqa: E402
from harness.sdk import BuildChoice, resolve  # noqa: E402


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--failures", type=int, default=60)
    ap.add_argument("--sdk", default="python")
    ap.add_argument("--sdk-version", default=None)
    ap.add_argument("--sdk-path", default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    build = resolve(BuildChoice(args.sdk, args.sdk_version, args.sdk_path), default_cache_dir())
    h = History("timing-precision")
    with tempfile.TemporaryDirectory() as tmp, FakeSidecar(h) as fake:
        fake.inject("GetWorkItems", Abort(grpc.StatusCode.UNAVAILABLE, "bench"), count=args.failures)
        d = Driver(build.command(), h, log_dir=tmp)
        try:
            d.hello()
            d.start_worker(address=fake.address, resiliency={
                "hello_timeout_seconds": 1.0, "silent_disconnect_timeout_seconds": 0,
                "channel_recreate_failure_threshold": 0, "reconnect_backoff_base_seconds": 0.05,
                "reconnect_backoff_cap_seconds": 0.4}, activities=[])
            deadline = time.monotonic() + 0.4 * args.failures + 30
            while time.monotonic() < deadline and len(h.select(FAKE, "server_fault")) < args.failures:
                time.sleep(0.2)
            time.sleep(0.5)
            d.stop_worker(timeout=10)
        finally:
            d.close()
    p = pairs(h)
    diffs = sorted(abs(a - b) * 1000 for a, b in p)
    if not diffs:
        print("no samples")
        return 1
    q = lambda x: diffs[min(len(diffs) - 1, int(round(x * (len(diffs) - 1))))]  # noqa: E731
    print(f"SDK {build.label}: {len(diffs)} reconnect delays measured by both processes")
    print(f"|fake - driver| ms: median {q(0.5):.2f}  p90 {q(0.9):.2f}  p99 {q(0.99):.2f}  max {diffs[-1]:.2f}")
    print(f"delays (fake view) s: min {min(a for a, _ in p):.3f} max {max(a for a, _ in p):.3f}")
    if args.json:
        args.json.write_text(json.dumps({"pairs": p}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
