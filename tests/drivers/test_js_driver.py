"""The JavaScript driver (harness/drivers/js/) built by the JS adapters (harness/sdk/js.py) against the
real npm packages @microsoft/durabletask-js (``--sdk=js``) and @dapr/durabletask-js (``--sdk=dapr-js``),
steered over the protocol against the fake sidecar.

Each package is installed once for the module (the first install needs npm and the registry; later
ones are cache hits).

What every driver owes the protocol (unknown commands, the event clock, `connections`, pipelining, exit
bounds with the SDK wedged) is checked once for all drivers by the kit in tests/drivers/kit/; this file
keeps what is specific to this SDK."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.sidecar import FakeSidecar
from harness.drivers.capabilities import CAPABILITIES
from harness.drivers.process import Driver, DriverUnsupported
from harness.history import DRIVER, FAKE, History
from harness.paths import default_cache_dir
from harness.sdk import ADAPTERS, BuildChoice, SdkBuild, SdkUnavailable, resolve
from harness.sdk import js as js_sdk

SDKS = ["js", "dapr-js"]
PACKAGES = {"js": "@microsoft/durabletask-js", "dapr-js": "@dapr/durabletask-js"}


@pytest.fixture(scope="module", params=SDKS)
def js_build(request: pytest.FixtureRequest) -> SdkBuild:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("no Node.js/npm on this machine (harness/sdk/js.py NODE_HELP says how to install them)")
    return resolve(BuildChoice(request.param), default_cache_dir())


@pytest.fixture
def history() -> History:
    return History("test_js_driver")


@pytest.fixture
def make_driver(js_build: SdkBuild, history: History, tmp_path: Path) -> Iterator:
    made: list[Driver] = []

    def make() -> Driver:
        d = Driver(js_build.command(), history, log_dir=tmp_path, default_timeout=20)
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
    # Frequent health pings: @dapr/durabletask-js console.logs each one, which must not reach stdout.
    f = FakeSidecar(history, health_ping_interval=0.2)
    f.start()
    try:
        yield f
    finally:
        f.stop()


WORKLOAD = {"activities": [{"name": "probe", "sleep_seconds": 0, "result": "probe-ok"}, {"name": "echo"}],
            "orchestrations": [{"name": "orch", "activity": "echo"}]}


def _start(driver: Driver, fake: FakeSidecar, history: History) -> None:
    driver.start_worker(address=fake.address, **WORKLOAD)
    assert history.wait_for(10, source=FAKE, kind="rpc_start", method="GetWorkItems") is not None, \
        f"the worker never opened its stream\n{driver.stderr_tail()}"


# -- the adapter -------------------------------------------------------------------------------------
def test_both_packages_are_registered() -> None:
    assert ADAPTERS["js"].registry == "npm package @microsoft/durabletask-js"
    assert ADAPTERS["dapr-js"].registry == "npm package @dapr/durabletask-js"


def test_build_is_cached_and_named_by_package_version_and_driver(js_build: SdkBuild) -> None:
    build_dir = Path(js_build.driver.argv[1]).parent
    package = PACKAGES[js_build.sdk]
    assert build_dir.name == f"js-{package.lstrip('@').replace('/', '-')}-{js_build.version}-" \
                             f"{js_sdk.driver_source_hash()}"
    mark = build_dir / ".build-complete"
    before = mark.stat().st_mtime_ns
    t = time.monotonic()
    again = resolve(BuildChoice(js_build.sdk, js_build.version), default_cache_dir())
    assert again.driver == js_build.driver and mark.stat().st_mtime_ns == before, "a cache hit reinstalled"
    assert time.monotonic() - t < 5.0
    assert js_build.source == f"npm:{package}@{js_build.version}"


def test_missing_node_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(js_sdk.shutil, "which", lambda name: None)
    with pytest.raises(SdkUnavailable) as ei:
        resolve(BuildChoice("js"), tmp_path)
    assert "`node` was not found on PATH" in str(ei.value) and "apt-get install nodejs npm" in str(ei.value)


def test_sdk_path_of_another_package_is_refused(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"name": "left-pad", "version": "1.0.0"}')
    with pytest.raises(SdkUnavailable) as ei:
        resolve(BuildChoice("js", path=str(tmp_path)), tmp_path / "cache")
    assert "'left-pad', not '@microsoft/durabletask-js'" in str(ei.value)


# -- hello -------------------------------------------------------------------------------------------
def test_hello_declares_the_loaded_build(driver: Driver, js_build: SdkBuild) -> None:
    info = driver.info or {}
    assert info["protocol"] == 1 and info["sdk"] == js_build.sdk and info["language"] == "javascript"
    assert info["sdk_version"] == js_build.version and info["sdk_package"] == PACKAGES[js_build.sdk]
    assert info["runtime"].startswith("Node.js v") and info["grpc_js_version"].count(".") == 2
    caps = info["capabilities"]
    assert set(caps) <= set(CAPABILITIES) and all(isinstance(v, bool) for v in caps.values())
    # Observation goes through grpc-js client options both packages pass on (lib/observe.js).
    assert info["options_reach_grpc"] == {"client": True, "worker": True}
    assert caps["rpc_observer"] and caps["sdk_channel"] and not caps["async_client"]
    assert info["options"] == {"worker": None, "client": None}


def test_features_differ_as_the_packages_do(driver: Driver, js_build: SdkBuild) -> None:
    """The detection tells the two APIs apart on the loaded code (reference other-sdks.md §6, §7)."""
    info = driver.info or {}
    caps, worker = info["capabilities"], info["defaults"]["worker"]
    if js_build.sdk == "js":
        assert info["api_style"] == "options object" and info["metadata"] and caps["logger"]
        assert caps["history_stream"]
        assert worker == {"reconnect_backoff_base_seconds": 1, "reconnect_backoff_cap_seconds": 30,
                          "channel_recreate_failure_threshold": 1}
        assert info["worker_behaviour"]["reconnect"]["jitter_fraction"] == 0.1
    else:
        assert info["api_style"] == "positional" and not info["metadata"] and not caps["logger"]
        assert not caps["history_stream"]
        assert worker == {"reconnect_backoff_base_seconds": 5, "reconnect_backoff_cap_seconds": 5}
    assert not caps["resiliency_options"] and not caps["client_resiliency_options"]


def test_defaults_in_force(driver: Driver) -> None:
    res = driver.request("defaults_in_force")
    assert res["worker"] == (driver.info or {})["defaults"]["worker"]
    assert res["client"] is None and res["client_retire_grace_seconds"] is None
    assert res["client_long_poll_timeout_seconds"] == 60


@pytest.mark.parametrize("ask, capability", [
    ({"kind": "async"}, "async_client"),
    ({"resiliency": {"channel_recreate_failure_threshold": 2}}, "client_resiliency_options"),
    ({"channel": "caller"}, "channel"),
])
def test_missing_features_are_unsupported(driver: Driver, ask: dict, capability: str) -> None:
    with pytest.raises(DriverUnsupported) as ei:
        driver.create_client("c", address="127.0.0.1:9", **ask)
    assert ei.value.capability == capability


# -- against the fake --------------------------------------------------------------------------------
def test_worker_runs_an_activity(driver: Driver, fake: FakeSidecar, history: History) -> None:
    _start(driver, fake, history)
    token = fake.schedule_activity("probe", '"ping"')
    done = history.wait_for(10, source=FAKE, kind="work_item_completed", completion_token=token)
    assert done is not None, driver.stderr_tail()
    assert fake.completions(token)[0]["result"] == '"probe-ok"'
    started = history.select(DRIVER, "activity_started", name="probe")
    finished = history.select(DRIVER, "activity_finished", name="probe")
    assert started and finished and started[0].get("input") == "ping" and started[0].t <= finished[0].t <= done.t
    time.sleep(1.0)  # a few health pings on the stream
    assert not driver.garbage, f"non-protocol stdout: {driver.garbage[:3]}"


def test_worker_channel_and_calls_are_observed(driver: Driver, fake: FakeSidecar, history: History) -> None:
    _start(driver, fake, history)
    created = history.select(DRIVER, "channel_created", role="worker")
    assert len(created) == 1 and created[0].get("owner") == "sdk" and created[0].get("target") == fake.address
    assert created[0].get("secure") is False
    hello = history.wait_for(5, source=DRIVER, kind="rpc_done", method="Hello")
    stream = history.wait_for(5, source=DRIVER, kind="rpc_start", method="GetWorkItems")
    assert hello is not None and hello.get("code") == "OK" and hello.get("role") == "worker"
    assert stream is not None and hello.get("channel_id") == stream.get("channel_id") == created[0].get("channel_id")
    elapsed = driver.stop_worker(10)
    assert 0 < elapsed < 10
    ended = history.wait_for(5, source=DRIVER, kind="rpc_done", method="GetWorkItems")
    assert ended is not None and ended.get("code") == "CANCELLED"
    assert history.select(DRIVER, "channel_closed", channel_id=created[0].get("channel_id"))


def test_orchestration_runs_and_completes(driver: Driver, fake: FakeSidecar, history: History) -> None:
    _start(driver, fake, history)
    driver.create_client("c", address=fake.address)
    scheduled = driver.call("c", "schedule", name="orch", input={"n": 1})
    assert scheduled["outcome"] == "ok", scheduled
    done = driver.call("c", "wait_completion", instance_id=scheduled["value"], timeout=15)
    assert done["outcome"] == "ok", done
    assert done["value"]["runtime_status"] == "COMPLETED" and done["value"]["serialized_output"] == '{"n":1}'
    runs = history.select(DRIVER, "orchestration_run", instance_id=scheduled["value"])
    assert [r.get("is_replaying") for r in runs][:1] == [False] and len(runs) >= 2
    assert history.select(DRIVER, "activity_started", name="echo", instance_id=scheduled["value"])
    driver.close_client("c")
    closed = history.last(source=DRIVER, kind="client_closed")
    assert closed is not None and closed.get("client_id") == "c"


def test_long_poll_timeout_is_a_js_timer(driver: Driver, fake: FakeSidecar, history: History) -> None:
    """The SDK races a timer against the call: the caller gets TimeoutError at its timeout, and the
    server sees no deadline (reference other-sdks.md §10)."""
    driver.create_client("c", address=fake.address)
    scheduled = driver.call("c", "schedule", name="never_runs", input=None)
    res = driver.call("c", "wait_completion", instance_id=scheduled["value"], timeout=1.0)
    assert res["outcome"] == "error" and res["exc_type"] == "TimeoutError" and res["grpc_code"] is None, res
    assert 0.9 < res["elapsed"] < 1.9
    poll = history.last(source=FAKE, kind="rpc_start", method="WaitForInstanceCompletion")
    assert poll is not None and poll.get("deadline") is None


def test_connections_list_the_worker_socket(driver: Driver, fake: FakeSidecar, history: History) -> None:
    _start(driver, fake, history)
    mine = [c for c in driver.connections() if c["remote"] == fake.address]
    assert mine and mine[0]["state"] == "ESTABLISHED"
    peer = history.last(source=FAKE, kind="rpc_start", method="GetWorkItems").get("peer")
    assert peer == f"ipv4:{mine[0]['local']}"
