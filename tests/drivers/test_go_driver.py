"""The Go driver (harness/drivers/go/) built by the Go adapter (harness/sdk/go.py) against the real
github.com/microsoft/durabletask-go, steered over the protocol against the fake sidecar.

The driver is built once for the module (the first build needs the Go toolchain and the module
proxy; later ones are cache hits).

What every driver owes the protocol (unknown commands, the event clock, `connections`, pipelining, exit
bounds with the SDK wedged) is checked once for all drivers by the kit in tests/drivers/kit/; this file
keeps what is specific to this SDK."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.sidecar import FakeSidecar
from harness.drivers.process import Driver, DriverError, DriverUnsupported
from harness.history import DRIVER, FAKE, History
from harness.paths import default_cache_dir
from harness.sdk import ADAPTERS, BuildChoice, SdkBuild, SdkUnavailable, resolve
from harness.sdk.go import DAPR, MICROSOFT, find_go, resolve_go_sdk


@pytest.fixture(scope="module")
def go_build() -> SdkBuild:
    try:
        find_go()
    except SdkUnavailable as exc:
        pytest.skip(f"no Go toolchain on this machine: {exc}")
    return resolve(BuildChoice("go"), default_cache_dir())


@pytest.fixture
def history() -> History:
    return History("test_go_driver")


@pytest.fixture
def make_driver(go_build: SdkBuild, history: History, tmp_path: Path) -> Iterator:
    made: list[Driver] = []

    def make() -> Driver:
        d = Driver(go_build.command(), history, log_dir=tmp_path, default_timeout=20)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


@pytest.fixture
def driver(make_driver) -> Driver:
    d = make_driver()
    d.hello()
    return d


@pytest.fixture
def fake(history: History) -> Iterator[FakeSidecar]:
    f = FakeSidecar(history)
    f.start()
    try:
        yield f
    finally:
        f.stop()


ECHO = {"name": "echo", "sleep_seconds": 0, "result": None}
SLOW = {"name": "slow", "sleep_seconds": 0.3, "result": "done"}


# -- the build --------------------------------------------------------------------------------
def test_registry_has_go() -> None:
    assert ADAPTERS["go"].name == "go" and "durabletask-go" in ADAPTERS["go"].registry


def test_build_names_the_module_and_a_cache_hit_skips_the_build(go_build: SdkBuild, tmp_path: Path) -> None:
    assert go_build.version == MICROSOFT.default_version
    assert go_build.source == f"go-module:{MICROSOFT.module}@{MICROSOFT.default_version}"
    binary = Path(go_build.driver.argv[0])
    assert binary.parent.parent == default_cache_dir() / "drivers"
    assert binary.parent.name.startswith("go-v0.6.0-")
    before = binary.stat().st_mtime_ns
    t0 = time.monotonic()
    again = resolve(BuildChoice("go"), default_cache_dir())
    assert again.driver == go_build.driver and binary.stat().st_mtime_ns == before
    assert time.monotonic() - t0 < 5, "a cache hit must not rebuild"


def test_missing_toolchain_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GO", str(tmp_path / "no-go"))
    with pytest.raises(SdkUnavailable) as ei:
        resolve_go_sdk(MICROSOFT, version=None, path=None, cache_dir=tmp_path)
    assert "Go toolchain" in str(ei.value) and "install Go" in str(ei.value)
    assert not (tmp_path / "drivers").exists()


def test_sdk_path_must_be_a_checkout_of_the_module(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module example.com/other\n")
    with pytest.raises(SdkUnavailable) as ei:
        resolve_go_sdk(MICROSOFT, version=None, path=str(tmp_path), cache_dir=tmp_path / "cache")
    assert "example.com/other" in str(ei.value) and MICROSOFT.module in str(ei.value)


# -- protocol basics --------------------------------------------------------------------------
def test_hello(driver: Driver) -> None:
    info = driver.info
    assert info["protocol"] == 1 and info["sdk"] == "go" and info["language"] == "go"
    assert info["sdk_version"] == "v0.6.0" and info["runtime"].startswith("go1.")
    caps = info["capabilities"]
    assert caps["channel"] and caps["rpc_observer"] and caps["logger"]
    assert not caps["sdk_channel"] and not caps["resiliency_options"] and not caps["client_resiliency_options"]
    # Read from the SDK's own backoff constructor (client.newInfiniteRetries), not written down.
    assert info["defaults"]["worker"] == {"reconnect_backoff_base_seconds": 0.5, "reconnect_backoff_cap_seconds": 15}
    assert info["options"] == {"worker": None, "client": None}
    assert info["reconnect_backoff"]["multiplier"] == 1.5 and info["reconnect_backoff"]["randomization_factor"] == 0.5
    assert info["pid"] == driver.pid and not driver.garbage


def test_defaults_in_force(driver: Driver) -> None:
    got = driver.request("defaults_in_force")
    assert got["worker"] == driver.info["defaults"]["worker"]
    assert got["client"] is None and got["client_long_poll_timeout_seconds"] is None


@pytest.mark.parametrize("kwargs, capability", [
    ({"resiliency": {"hello_timeout_seconds": 1.0}}, "resiliency_options"),
    ({"channel_options": {"max_receive_message_length": 1}}, "channel_options"),
    ({"secure": True}, "secure_channel"),
    ({"interceptor_metadata": [["x", "1"]]}, "interceptors"),
    ({"concurrency": {"maximum_concurrent_activity_work_items": 1}}, "concurrency_options"),
])
def test_what_the_sdk_cannot_take_is_unsupported(driver: Driver, kwargs: dict, capability: str) -> None:
    with pytest.raises(DriverUnsupported) as ei:
        driver.start_worker(address="127.0.0.1:1", **kwargs)
    assert ei.value.capability == capability and "v0.6.0" in str(ei.value)


def test_async_client_and_history_stream_are_unsupported(driver: Driver, fake: FakeSidecar) -> None:
    with pytest.raises(DriverUnsupported) as ei:
        driver.create_client("a", kind="async", address=fake.address)
    assert ei.value.capability == "async_client"
    driver.create_client("c", address=fake.address)
    with pytest.raises(DriverUnsupported) as ei:
        driver.call("c", "get_history", instance_id="x")
    assert ei.value.capability == "history_stream"


# -- against the fake -------------------------------------------------------------------------
def test_worker_runs_an_activity_and_stops(driver: Driver, history: History, fake: FakeSidecar) -> None:
    driver.start_worker(address=fake.address, channel="caller", activities=[ECHO, SLOW])
    created = history.select(DRIVER, "channel_created")
    assert [(e.get("owner"), e.get("role")) for e in created] == [("caller", "worker")]
    start = history.wait_for(5, source=DRIVER, kind="rpc_start", method="GetWorkItems")
    assert start is not None and start.get("channel_id") == created[0].get("channel_id")
    hello = history.first(source=DRIVER, kind="rpc_done", method="Hello")
    assert hello is not None and hello.get("code") == "OK"

    token = fake.schedule_activity("slow", '"in"')
    done = history.wait_for(10, source=FAKE, kind="work_item_completed", completion_token=token)
    assert done is not None, history.format()
    started = history.first(source=DRIVER, kind="activity_started", name="slow")
    finished = history.first(source=DRIVER, kind="activity_finished", name="slow")
    assert started.get("input") == "in" and started.get("instance_id") == done.get("instance_id")
    assert finished.t - started.t >= 0.3
    assert fake.completions(token)[0]["result"] == '"done"'

    elapsed = driver.stop_worker(timeout=10)
    assert elapsed < 1
    end = history.wait_for(5, source=DRIVER, kind="rpc_done", method="GetWorkItems")
    assert end is not None and end.get("code") == "CANCELLED"
    closed = history.wait_for(5, source=DRIVER, kind="channel_closed")
    assert closed is not None and closed.get("channel_id") == created[0].get("channel_id")
    assert history.first(source=DRIVER, kind="worker_stopped") is not None


def test_orchestration_through_the_client(driver: Driver, history: History, fake: FakeSidecar) -> None:
    driver.start_worker(address=fake.address, activities=[ECHO],
                        orchestrations=[{"name": "orch", "activity": "echo"}])
    driver.create_client("c", address=fake.address, metadata=[["x-test", "go"]])
    scheduled = driver.call("c", "schedule", name="orch", input={"n": 1})
    assert scheduled["outcome"] == "ok", scheduled
    iid = scheduled["value"]
    state = driver.call("c", "wait_completion", instance_id=iid, timeout=10)
    assert state["outcome"] == "ok", state
    assert state["value"]["runtime_status"] == "COMPLETED" and state["value"]["serialized_output"] == '{"n":1}'
    assert history.select(DRIVER, "orchestration_run", instance_id=iid)
    act = history.first(source=DRIVER, kind="activity_started", name="echo")
    assert act.get("instance_id") == iid and act.get("input") == {"n": 1}
    starts = history.select(FAKE, "rpc_start", method="StartInstance")
    assert starts and ["x-test", "go"] in starts[0].get("metadata"), "metadata rides on the call's context"
    assert driver.call("c", "get_state", instance_id="no-such-instance") == {
        "outcome": "ok", "value": None, "elapsed": pytest.approx(0, abs=2)}
    driver.close_client("c")
    closed = history.select(DRIVER, "client_closed", client_id="c")
    chan = history.select(DRIVER, "channel_closed", role="client:c")
    assert closed and chan and closed[0].seq < chan[0].seq


def test_long_poll_timeout_is_a_timeout_outcome(driver: Driver, history: History, fake: FakeSidecar) -> None:
    driver.create_client("c", address=fake.address)
    iid = driver.call("c", "schedule", name="never_runs", input=None)["value"]
    res = driver.call("c", "wait_completion", instance_id=iid, timeout=0.5)
    assert res["outcome"] == "error" and res["exc_type"] == "TimeoutError", res
    assert 0.4 < res["elapsed"] < 3
    polls = history.select(FAKE, "rpc_start", method="WaitForInstanceCompletion")
    assert polls and 0.3 < polls[0].get("deadline") <= 0.5, "the timeout is sent as the call's deadline"


def test_first_connect_failure_is_the_sdks_error(driver: Driver, history: History) -> None:
    """The SDK does not retry a first connect: StartWorkItemListener returns the error."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DriverError) as ei:
        driver.start_worker(address=f"127.0.0.1:{port}")
    assert ei.value.error["type"] == "StartWorkItemListenerError" and "UNAVAILABLE" in ei.value.error["message"]
    assert history.select(DRIVER, "channel_closed", role="worker"), "the driver closes its connection"
    assert os.path.exists(f"/proc/{driver.pid}")


# -- dapr's fork (--sdk=dapr-go): same driver source, the fork's file selected at build time -----------
def test_dapr_fork_runs_against_the_dapr_schema_fake(go_build: SdkBuild, tmp_path: Path) -> None:
    build = resolve(BuildChoice("dapr-go"), default_cache_dir())
    assert build.schema == "dapr" and build.version == DAPR.default_version
    assert build.driver != go_build.driver
    history = History("test_dapr_go")
    fake = FakeSidecar(history, schema=build.schema)
    fake.start()
    d = Driver(build.command(), history, log_dir=tmp_path, default_timeout=20)
    try:
        info = d.hello()
        assert info["sdk"] == "dapr-go" and info["sdk_module"] == DAPR.module
        assert info["defaults"]["worker"]["reconnect_backoff_cap_seconds"] == 15
        d.start_worker(address=fake.address, activities=[ECHO], orchestrations=[{"name": "orch", "activity": "echo"}])
        d.create_client("c", address=fake.address)
        iid = d.call("c", "schedule", name="orch", input="hi")["value"]
        state = d.call("c", "wait_completion", instance_id=iid, timeout=10)
        assert state["outcome"] == "ok" and state["value"]["runtime_status"] == "COMPLETED", (state, history.format())
        act = history.first(source=DRIVER, kind="activity_started", name="echo")
        assert act.get("instance_id") == iid and act.get("input") == "hi"
        assert d.stop_worker(timeout=10) < 1
    finally:
        d.close()
        fake.stop()
