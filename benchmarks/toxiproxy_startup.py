"""Benchmark: what each way of running Toxiproxy costs a test session, side by side in one run.

    .venv/bin/python benchmarks/toxiproxy_startup.py [--rounds 10] [--json FILE]

Paths: ``binary`` (the Go-built server as a child process, harness/net/toxiproxy_server.py) and
``docker`` (the pinned image in a container on the host's network, harness/net/toxiproxy_docker.py).
The rounds alternate between the paths (binary, docker, binary, ...) so a busy moment of the machine
hits both alike. Per round and path:

  start   start() until the API answered /version (what the session fixture waits for)
  ready   + one proxy created and one byte echoed through it (the first test's first packet)
  stop    stop(): the process group killed and reaped / the container force-removed

It prints min, median and max (ms) of each, and the one-time costs are not in it: building the
binary with Go, or building/pulling the image (docker/build.py prints its own). A Docker engine and
the image must be there (scripts/docker-engine; python docker/build.py toxiproxy). No assertion: a
measurement.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.net.toxiproxy_client import Client  # noqa: E402
from harness.net.toxiproxy_docker import ToxiproxyContainer, engine, ensure_image  # noqa: E402
from harness.net.toxiproxy_server import ToxiproxyServer, find_or_build_binary  # noqa: E402
from harness.paths import default_cache_dir  # noqa: E402

PHASES = ("start", "ready", "stop")


def _echo_server() -> tuple[socket.socket, int]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.sendall(conn.recv(16))

    threading.Thread(target=serve, daemon=True).start()
    return srv, srv.getsockname()[1]


def one_round(server: Any, echo_port: int) -> dict[str, float]:
    t0 = time.perf_counter()
    server.start()
    t1 = time.perf_counter()
    try:
        proxy = Client(server.url).create_proxy("bench", upstream=f"127.0.0.1:{echo_port}")
        with socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=5) as c:
            c.sendall(b"x")
            assert c.recv(16) == b"x"
        t2 = time.perf_counter()
    finally:
        server.stop()
    t3 = time.perf_counter()
    return {"start": t1 - t0, "ready": t2 - t0, "stop": t3 - t2}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None, help="also write every sample here")
    args = parser.parse_args(argv)
    binary = find_or_build_binary(None, default_cache_dir(), build=False)
    client = engine()
    ensure_image(client)
    logs = Path(tempfile.mkdtemp(prefix="toxiproxy-bench-"))
    makers = {"binary": lambda: ToxiproxyServer(binary, log_dir=logs),
              "docker": lambda: ToxiproxyContainer(client, log_dir=logs)}
    samples: dict[str, list[dict[str, float]]] = {k: [] for k in makers}
    srv, echo_port = _echo_server()
    try:
        for _ in range(args.rounds):
            for path, make in makers.items():  # alternate: one busy moment hits both paths
                samples[path].append(one_round(make(), echo_port))
    finally:
        srv.close()
    print(f"Toxiproxy start-up, {args.rounds} rounds alternating, ms (min / median / max)")
    print(f"  {'path':8}" + "".join(f"{p:>24}" for p in PHASES))
    for path, rows in samples.items():
        cells = []
        for phase in PHASES:
            ms = sorted(r[phase] * 1000 for r in rows)
            cells.append(f"{ms[0]:7.0f} /{statistics.median(ms):6.0f} /{ms[-1]:6.0f}")
        print(f"  {path:8}" + "".join(f"{c:>24}" for c in cells))
    if args.json:
        args.json.write_text(json.dumps(samples, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
