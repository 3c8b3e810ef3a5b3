"""Tests of the driver protocol: harness/drivers/process.py against harness/drivers/python/driver.py.

The SDK runs only in driver processes; this test process never imports durabletask. Where a
gRPC peer is needed, a trivial generic-handler server stands in for the sidecar.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from harness.drivers.process import Driver, DriverCrashed, DriverError, DriverTimeout, DriverUnsupported
from harness.drivers.python import MUTANTS_DIR as MUTANTS
from harness.history import DRIVER, History
from harness.sdk.base import SdkBuild
from harness.sdk.python import driver_command

SERVICE = "/TaskHubSidecarService/"


def python_build() -> SdkBuild:
    """The Python driver in this interpreter (which has durabletask: bin/setup installs it)."""
    return SdkBuild("python", "python", "in-env", "env:test", driver_command(sys.executable), patch_option="--patch")


# -- a trivial sidecar -------------------------------------------------------------------
class TrivialSidecar(grpc.GenericRpcHandler):
    """Answers Hello with Empty (b""), keeps GetWorkItems open until ``end_streams`` is set,
    makes WaitForInstanceCompletion wait out the caller's deadline; anything else UNIMPLEMENTED."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.end_streams = threading.Event()
        self._stopping = threading.Event()
        self.server = grpc.server(ThreadPoolExecutor(max_workers=16))
        self.server.add_generic_rpc_handlers([self])
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{self.port}"

    def service(self, details):  # noqa: ANN001 (grpc API)
        method = details.method
        if not method.startswith(SERVICE):
            return None
        name = method[len(SERVICE):]
        self.calls.append(name)
        if name == "Hello":
            return grpc.unary_unary_rpc_method_handler(lambda req, ctx: b"")
        if name == "GetWorkItems":
            return grpc.unary_stream_rpc_method_handler(self._stream)
        if name == "WaitForInstanceCompletion":
            return grpc.unary_unary_rpc_method_handler(self._wait)
        return None

    def _stream(self, request, context):  # noqa: ANN001
        while context.is_active() and not self.end_streams.is_set() and not self._stopping.is_set():
            time.sleep(0.02)
        return
        yield  # a generator: the stream ends with OK and no messages

    def _wait(self, request, context):  # noqa: ANN001
        while context.is_active() and not self._stopping.is_set():
            time.sleep(0.02)
        return b""

    def count(self, name: str) -> int:
        return self.calls.count(name)


@pytest.fixture
def sidecar() -> Iterator[TrivialSidecar]:
    s = TrivialSidecar()
    s.server.start()
    try:
        yield s
    finally:
        s._stopping.set()
        s.server.stop(grace=0).wait(5)


@pytest.fixture
def history() -> History:
    return History("test_driver")


@pytest.fixture
def make_driver(history: History, tmp_path: Path) -> Iterator:
    made: list[Driver] = []

    def make(*patches: str | Path, hist: History | None = history) -> Driver:
        d = Driver(python_build().command(patches), hist, log_dir=tmp_path, default_timeout=20)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


@pytest.fixture
def driver(make_driver) -> Driver:
    return make_driver()


def write_patch(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


FAST = {"hello_timeout_seconds": 2.0, "reconnect_backoff_base_seconds": 0.05,
        "reconnect_backoff_cap_seconds": 0.2}


# -- protocol basics ---------------------------------------------------------------------
def test_hello_round_trip(driver: Driver) -> None:
    import importlib.metadata
    info = driver.hello()
    assert info["protocol"] == 1
    assert info["sdk"] == "python" and info["language"] == "python"
    assert info["sdk_version"] == importlib.metadata.version("durabletask")
    assert info["runtime"].startswith("CPython 3.")
    caps = info["capabilities"]
    assert caps["resiliency_options"] and caps["channel"] and caps["async_client"] and caps["logger"]
    assert not driver.garbage


def test_unknown_command_is_an_error(driver: Driver) -> None:
    with pytest.raises(DriverError) as ei:
        driver.request("no_such_command")
    assert not isinstance(ei.value, DriverUnsupported)
    assert ei.value.error["type"] == "UnknownCommand"
    driver.hello()  # still alive and answering


def test_unknown_option_is_unsupported(driver: Driver) -> None:
    with pytest.raises(DriverUnsupported) as ei:
        driver.start_worker(address="127.0.0.1:1", resiliency={"bogus_field": 1})
    assert "bogus_field" in str(ei.value)
    assert driver.hello()["sdk_version"] in str(ei.value)


def test_invalid_option_value_is_not_unsupported(driver: Driver) -> None:
    with pytest.raises(DriverError) as ei:
        driver.start_worker(address="127.0.0.1:1", resiliency={"hello_timeout_seconds": -1})
    assert not isinstance(ei.value, DriverUnsupported)
    assert ei.value.error["type"] == "ValueError"


def test_crash_on_command_reports_stderr(make_driver, tmp_path: Path) -> None:
    patch = write_patch(tmp_path, "crash.py", (
        "import os, sys\n"
        "def _crash(args):\n"
        "    print('about to crash on purpose', file=sys.stderr, flush=True)\n"
        "    os._exit(3)\n"
        "HANDLERS['crash'] = _crash\n"))
    d = make_driver(patch)
    d.hello()
    with pytest.raises(DriverCrashed) as ei:
        d.request("crash", timeout=10)
    assert "about to crash on purpose" in ei.value.stderr
    assert "exit code 3" in str(ei.value)
    with pytest.raises(DriverCrashed):
        d.hello()


def test_crash_at_import_reports_stderr(make_driver, tmp_path: Path) -> None:
    patch = write_patch(tmp_path, "exit.py",
                        "import sys\nprint('boom at import', file=sys.stderr)\nsys.exit(5)\n")
    d = make_driver(patch)
    with pytest.raises(DriverCrashed) as ei:
        d.hello(timeout=20)
    assert "boom at import" in ei.value.stderr
    assert "exit code 5" in str(ei.value)


def test_hang_times_out_within_bound(make_driver, tmp_path: Path) -> None:
    patch = write_patch(tmp_path, "hang.py", "import time\nHANDLERS['hang'] = lambda a: time.sleep(600)\n")
    d = make_driver(patch)
    d.hello()
    t0 = time.monotonic()
    with pytest.raises(DriverTimeout):
        d.request("hang", timeout=1.0)
    assert time.monotonic() - t0 < 3.0
    d.hello()  # other commands still work while one hangs


def test_close_leaves_no_process(make_driver) -> None:
    d = make_driver()
    pid = d.hello()["pid"]
    assert pid == d.pid
    d.close()
    d.close()  # idempotent
    assert pid_gone(pid)


def test_close_kills_a_wedged_driver(make_driver, tmp_path: Path) -> None:
    # hello is answered on the command-reading thread: wedging it means shutdown is never read.
    patch = write_patch(tmp_path, "wedge.py", "import time\nHANDLERS['hello'] = lambda a: time.sleep(600)\n")
    d = make_driver(patch)
    with pytest.raises(DriverTimeout):
        d.hello(timeout=1.0)
    t0 = time.monotonic()
    d.close(grace=1.0)
    assert time.monotonic() - t0 < 15
    assert pid_gone(d.pid)


def test_driver_exits_when_stdin_closes(make_driver) -> None:
    d = make_driver()
    d.hello()
    d.proc.stdin.close()
    assert d.proc.wait(timeout=10) == 0


# -- with a gRPC peer --------------------------------------------------------------------
def test_connections_lists_own_socket(driver: Driver, sidecar: TrivialSidecar) -> None:
    driver.create_client("c", kind="sync", address=sidecar.address)
    res = driver.call("c", "get_state", instance_id="x")
    assert res["outcome"] == "error" and res["grpc_code"] == "UNIMPLEMENTED"
    conns = driver.connections()
    mine = [c for c in conns if c["remote"] == sidecar.address]
    assert mine and mine[0]["state"] == "ESTABLISHED", conns


def test_worker_against_closed_port_stops_in_bounds(driver: Driver, history: History) -> None:
    address = f"127.0.0.1:{free_port()}"
    driver.start_worker(address=address, resiliency=FAST)
    assert history.wait_for(10, source=DRIVER, kind="rpc_done", method="Hello")
    elapsed = driver.stop_worker(timeout=10)
    assert elapsed < 5
    done = history.select(DRIVER, "rpc_done", method="Hello")
    assert done[0].get("code") == "UNAVAILABLE"
    assert history.first(source=DRIVER, kind="worker_stopped") is not None
    assert history.select(DRIVER, "log"), "the SDK's connection warnings should become log events"


@pytest.mark.parametrize("mode", ["sdk", "caller"])
def test_channel_owner(mode: str, driver: Driver, history: History, sidecar: TrivialSidecar) -> None:
    driver.start_worker(address=sidecar.address, channel=mode, resiliency=FAST,
                        activities=[{"name": "a", "sleep_seconds": 0, "result": None}],
                        orchestrations=[{"name": "o", "activity": "a"}])
    start = history.wait_for(10, source=DRIVER, kind="rpc_start", method="GetWorkItems")
    assert start is not None, history.format()
    created = history.select(DRIVER, "channel_created")
    assert [e.get("owner") for e in created] == [mode]
    assert created[0].get("channel_kind") == "sync"
    assert start.get("channel_id") == created[0].get("channel_id")
    driver.stop_worker(timeout=10)
    ends = history.select(DRIVER, "rpc_done", method="GetWorkItems")
    assert ends and ends[0].get("code") == "CANCELLED"
    closed = history.wait_for(5, source=DRIVER, kind="channel_closed")
    assert closed is not None and closed.get("channel_id") == created[0].get("channel_id")


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_long_poll_timeout_is_an_outcome(kind: str, driver: Driver, history: History,
                                         sidecar: TrivialSidecar) -> None:
    driver.create_client("c", kind=kind, address=sidecar.address)
    res = driver.call("c", "wait_completion", instance_id="x", timeout=0.5)
    assert res["outcome"] == "error" and res["exc_type"] == "TimeoutError", res
    assert 0.4 < res["elapsed"] < 3
    ev = history.wait_for(2, source=DRIVER, kind="client_call_done", client_id="c")
    assert ev is not None and ev.get("exc_type") == "TimeoutError"
    chans = history.select(DRIVER, "channel_created")
    assert chans and chans[0].get("channel_kind") == ("aio" if kind == "async" else "sync")
    driver.close_client("c")


# -- mutants -----------------------------------------------------------------------------
@pytest.mark.parametrize("mutant", sorted(p.name for p in MUTANTS.glob("*.py")))
def test_mutant_loads(mutant: str, make_driver) -> None:
    d = make_driver(MUTANTS / mutant)
    assert d.hello()["patches"] == [str((MUTANTS / mutant).resolve())]


@pytest.mark.parametrize("patched", [False, True])
def test_no_reconnect_mutant(patched: bool, make_driver, history: History,
                             sidecar: TrivialSidecar) -> None:
    d = make_driver(*([MUTANTS / "no_reconnect.py"] if patched else []))
    d.start_worker(address=sidecar.address, resiliency=FAST)
    assert history.wait_for(10, source=DRIVER, kind="rpc_start", method="GetWorkItems")
    sidecar.end_streams.set()  # graceful close before the first message: the SDK reconnects at once
    time.sleep(1.0)
    hellos = sidecar.count("Hello")
    assert d.stop_worker(timeout=10) < 5
    assert (hellos == 1) if patched else (hellos >= 2), sidecar.calls


@pytest.mark.parametrize("patched", [False, True])
def test_long_poll_counts_mutant(patched: bool, make_driver, history: History,
                                 sidecar: TrivialSidecar) -> None:
    d = make_driver(*([MUTANTS / "long_poll_counts.py"] if patched else []))
    d.create_client("c", kind="sync", address=sidecar.address,
                    resiliency={"channel_recreate_failure_threshold": 2, "min_recreate_interval_seconds": 0})
    for _ in range(2):
        assert d.call("c", "wait_completion", instance_id="x", timeout=0.3)["exc_type"] == "TimeoutError"
    time.sleep(0.5)  # the SDK recreates on a background thread
    created = history.select(DRIVER, "channel_created", owner="sdk")
    assert len(created) == (2 if patched else 1), history.format()


@pytest.mark.parametrize("patched", [False, True])
def test_no_backoff_growth_mutant(patched: bool, make_driver, history: History) -> None:
    import re
    d = make_driver(*([MUTANTS / "no_backoff_growth.py"] if patched else []))
    d.start_worker(address=f"127.0.0.1:{free_port()}", resiliency={
        "hello_timeout_seconds": 1.0, "reconnect_backoff_base_seconds": 0.01,
        "reconnect_backoff_cap_seconds": 0.2})
    time.sleep(1.5)
    d.stop_worker(timeout=10)
    delays = [float(m.group(1)) for e in history.select(DRIVER, "log")
              if (m := re.search(r"retrying in ([0-9.]+) seconds", e.get("message", "")))]
    assert len(delays) >= 4, history.format()
    assert all(x == 0.2 for x in delays) == patched, delays
