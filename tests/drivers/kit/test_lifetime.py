"""Lifetime (PROTOCOL.md §1): the driver exits with status 0 on stdin EOF and on ``shutdown``, within a
bound, even when the SDK is wedged, and leaves no process of its session behind.

Bounds. Every driver gives the SDK a bounded stop (``shutdown``'s ``timeout``; at EOF
min(--shutdown-bound, 2 s) = EOF_STOP_S, the harness being gone) and then exits hard. EXIT_SLACK_S
covers what comes after the bound: the JS driver's hard-exit timer fires 1 s after it, a JVM halt
and a Go/Node exit take well under a second, and a busy 2-core machine adds some. So: exit within
EOF_STOP_S + EXIT_SLACK_S of EOF, and within timeout + EXIT_SLACK_S of ``shutdown``.

Wedges: the fake sidecar whose Hello never answers (fakes/faults.py Hang, the js#69 field case), and a
TCP listener that accepts and never speaks HTTP/2 (the SDK waits for the server's SETTINGS), with a
client call in flight on it too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from fakes.faults import Hang
from fakes.sidecar import FakeSidecar
from harness.drivers.process import Driver
from harness.history import DRIVER, FAKE, History
from harness.sdk import SdkBuild
from tests.drivers.kit.conftest import assert_nothing_left, worker_channel
from tests.drivers.kit.procs import session_members
from tests.drivers.kit.silent_server import SilentServer
from tests.drivers.kit.wire import send_nowait

EOF_STOP_S = 2.0
SHUTDOWN_TIMEOUT_S = 2.0
EXIT_SLACK_S = 3.0
WEDGE_SETTLE_S = 10.0  # how long the SDK may take to reach the wedge (connect, send Hello)

Recorder = Callable[[str, object], None]  # pytest's record_property


def _end(driver: Driver, how: str, record_property: Recorder) -> float:
    """End the driver by ``how`` ("eof" or "shutdown"); returns seconds until it exited with status 0
    (also kept as the test's ``exit_seconds`` property, e.g. in --junitxml reports)."""
    t0 = time.monotonic()
    if how == "eof":
        assert driver.proc.stdin is not None
        driver.proc.stdin.close()
        bound = EOF_STOP_S + EXIT_SLACK_S
        pending = None
    else:
        pending = send_nowait(driver, "shutdown", {"timeout": SHUTDOWN_TIMEOUT_S})
        bound = SHUTDOWN_TIMEOUT_S + EXIT_SLACK_S
    try:
        code = driver.proc.wait(timeout=bound + 10)
    except Exception:
        code = None
    elapsed = time.monotonic() - t0
    record_property("exit_seconds", round(elapsed, 3))
    assert code == 0, f"driver did not exit by itself with status 0 after {how} (code {code}, {elapsed:.1f}s)"
    assert elapsed <= bound, f"driver took {elapsed:.2f}s to exit after {how}; the bound is {bound}s"
    if pending is not None:
        pending.done.wait(2)  # the reader may still be parsing the last line
        assert pending.msg is not None and pending.msg.get("result") == {"bye": True}, pending.msg
    # Before Driver.close() kills the group: anything of the session still alive was left behind.
    assert_nothing_left(driver.pid)
    return elapsed


@contextmanager
def _hello_hangs_fake(build: SdkBuild, history: History) -> Iterator[FakeSidecar]:
    fake = FakeSidecar(history, schema=build.schema)
    # Hello for the SDKs that greet first; GetWorkItems for those that do not (the Java SDK opens the
    # stream straight away): either way the worker's first call never gets an answer.
    fake.inject("Hello", Hang(), count=None)
    fake.inject("GetWorkItems", Hang(), count=None)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.mark.parametrize("how", ["eof", "shutdown"])
def test_idle_driver_exits(make_driver: Callable[..., Driver], how: str, record_property: Recorder) -> None:
    _end(make_driver(), how, record_property)


@pytest.mark.parametrize("how", ["eof", "shutdown"])
def test_exits_with_the_worker_wedged_on_an_unanswered_first_call(make_driver: Callable[..., Driver], build: SdkBuild,
                                                                  how: str, record_property: Recorder) -> None:
    history = History("kit-hello-hangs")
    with _hello_hangs_fake(build, history) as fake:
        d = make_driver(history)
        send_nowait(d, "start_worker", {"address": fake.address, "channel": worker_channel(d.info),
                                        "activities": [], "orchestrations": []})
        first = history.wait_for(WEDGE_SETTLE_S, source=FAKE, kind="rpc_start")
        assert first is not None and first.get("method") in ("Hello", "GetWorkItems"), \
            f"the worker never called the fake: the wedge was not reached\n{d.stderr_tail()}"
        _end(d, how, record_property)


@pytest.mark.parametrize("how", ["eof", "shutdown"])
def test_exits_with_worker_and_client_on_a_server_that_never_speaks(make_driver: Callable[..., Driver],
                                                                     how: str, record_property: Recorder) -> None:
    with SilentServer() as silent:
        d = make_driver()
        channel = worker_channel(d.info)
        send_nowait(d, "start_worker", {"address": silent.address, "channel": channel,
                                        "activities": [], "orchestrations": []})
        send_nowait(d, "create_client", {"id": "wedged", "address": silent.address, "channel": channel})
        send_nowait(d, "client_call", {"id": "wedged", "op": "get_state", "instance_id": "kit-wedged"})
        assert silent.accepted.wait(WEDGE_SETTLE_S), \
            f"nothing connected to the silent server: the wedge was not reached\n{d.stderr_tail()}"
        time.sleep(0.5)  # let the client's call reach the wedge too (it cannot finish: no SETTINGS ever come)
        assert session_members(d.pid), "the driver died before it was asked to exit"
        _end(d, how, record_property)


@pytest.mark.parametrize("how", ["eof", "shutdown"])
def test_exits_while_the_worker_stop_waits_for_a_long_activity(make_driver: Callable[..., Driver],
                                                               build: SdkBuild, how: str,
                                                               record_property: Recorder) -> None:
    """An SDK whose stop waits for in-flight work (the JS SDK: up to 30 s) must not hold the process."""
    history = History("kit-long-activity")
    fake = FakeSidecar(history, schema=build.schema)
    fake.start()
    try:
        d = make_driver(history)
        d.start_worker(address=fake.address, channel=worker_channel(d.info),
                       activities=[{"name": "kit_slow", "sleep_seconds": 60, "result": None}])
        fake.schedule_activity("kit_slow", '"x"')
        assert history.wait_for(WEDGE_SETTLE_S, source=DRIVER, kind="activity_started", name="kit_slow") is not None, \
            f"the activity never started\n{d.stderr_tail()}"
        _end(d, how, record_property)
    finally:
        fake.stop()
