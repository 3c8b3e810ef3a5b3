"""The Java driver (harness/drivers/java/) built by the Java adapter (harness/sdk/java.py) against the real
com.microsoft:durabletask-client (``--sdk=java``) and io.dapr:durabletask-client (``--sdk=dapr-java``) from
Maven Central, steered over the protocol against the fake sidecar.

Each driver is built once for the module (the first build needs a JDK, Maven and Maven Central; later
ones are cache hits).

What every driver owes the protocol (unknown commands, the event clock, `connections`, pipelining, exit
bounds with the SDK wedged) is checked once for all drivers by the kit in tests/drivers/kit/; this file
keeps what is specific to this SDK."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.sidecar import FakeSidecar
from harness.drivers.process import Driver, DriverUnsupported
from harness.history import DRIVER, FAKE, History
from harness.paths import default_cache_dir
from harness.sdk import ADAPTERS, BuildChoice, SdkBuild, SdkUnavailable, resolve
from harness.sdk.java import DAPR, MICROSOFT, _source_for, build_dir, resolve_java_sdk

ECHO = {"name": "echo", "sleep_seconds": 0, "result": None}
SLOW = {"name": "slow", "sleep_seconds": 0.3, "result": "done"}


def _build(sdk: str) -> SdkBuild:
    if shutil.which("java") is None or shutil.which("mvn") is None:
        pytest.skip("no JDK or Maven on this machine (apt-get install openjdk-17-jdk-headless maven)")
    return resolve(BuildChoice(sdk), default_cache_dir())


@pytest.fixture(scope="module")
def java_build() -> SdkBuild:
    return _build("java")


@pytest.fixture(scope="module")
def dapr_build() -> SdkBuild:
    return _build("dapr-java")


@pytest.fixture
def history() -> History:
    return History("test_java_driver")


@pytest.fixture
def make_driver(history: History, tmp_path: Path) -> Iterator:
    made: list[Driver] = []

    def make(build: SdkBuild) -> Driver:
        d = Driver(build.command(), history, log_dir=tmp_path, default_timeout=30)
        made.append(d)
        d.hello()
        return d

    yield make
    for d in made:
        d.close()


@pytest.fixture
def driver(make_driver, java_build: SdkBuild) -> Driver:
    return make_driver(java_build)


def _fake(history: History, schema: str) -> Iterator[FakeSidecar]:
    f = FakeSidecar(history, schema=schema)
    f.start()
    try:
        yield f
    finally:
        f.stop()


@pytest.fixture
def fake(history: History) -> Iterator[FakeSidecar]:
    yield from _fake(history, MICROSOFT.schema)


def run_orchestration(d: Driver, fake: FakeSidecar, channel: str, inp: object) -> str:
    d.start_worker(address=fake.address, channel=channel, activities=[ECHO],
                   orchestrations=[{"name": "orch", "activity": "echo"}])
    d.create_client("c", address=fake.address, channel=channel)
    res = d.call("c", "schedule", name="orch", input=inp)
    assert res["outcome"] == "ok", res
    return res["value"]


# -- the build --------------------------------------------------------------------------------
def test_registry_has_both_java_sdks() -> None:
    assert ADAPTERS["java"].registry.startswith("Maven Central com.microsoft:durabletask-client")
    assert ADAPTERS["dapr-java"].registry.startswith("Maven Central io.dapr:durabletask-client")


def test_build_names_the_artifact_and_a_cache_hit_skips_the_build(java_build: SdkBuild) -> None:
    assert java_build.version == "1.5.0" and java_build.language == "java"
    assert java_build.source == "maven:com.microsoft:durabletask-client:1.5.0"
    out = build_dir(MICROSOFT, "1.5.0", default_cache_dir())
    jar = out / "driver.jar"
    assert f"{jar}{os.pathsep}{out / 'lib'}/*" in java_build.driver.argv
    assert (out / "lib" / "durabletask-client-1.5.0.jar").is_file()
    before = jar.stat().st_mtime_ns
    t0 = time.monotonic()
    again = resolve(BuildChoice("java"), default_cache_dir())
    assert again.driver == java_build.driver and jar.stat().st_mtime_ns == before
    assert time.monotonic() - t0 < 5, "a cache hit must not rebuild"


def test_dapr_build_renames_the_sdk_package() -> None:
    src = ("import com.microsoft.durabletask.DurableTaskClient;\n"
           "import com.microsoft.durabletask.TaskOrchestrationFactory;\n"
           "// com.microsoft.durabletask in a comment stays\n")
    out = _source_for(DAPR, src)
    assert "import io.dapr.durabletask.DurableTaskClient;" in out
    assert "import io.dapr.durabletask.orchestration.TaskOrchestrationFactory;" in out
    assert "// com.microsoft.durabletask in a comment stays" in out
    assert _source_for(MICROSOFT, src) == src


def test_missing_tools_name_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither java nor mvn
    with pytest.raises(SdkUnavailable) as ei:
        resolve_java_sdk(MICROSOFT, version=None, path=None, cache_dir=tmp_path)
    assert "`java` is not on PATH" in str(ei.value) and "apt-get install" in str(ei.value)
    assert not (tmp_path / "drivers").exists()


def test_sdk_path_is_refused_with_the_workaround(tmp_path: Path) -> None:
    with pytest.raises(SdkUnavailable) as ei:
        resolve_java_sdk(MICROSOFT, version=None, path=str(tmp_path), cache_dir=tmp_path)
    assert "--sdk-path is not supported" in str(ei.value) and "--sdk-version" in str(ei.value)


@pytest.mark.slow
def test_unpublished_version_names_the_artifact(tmp_path: Path) -> None:
    if shutil.which("mvn") is None:
        pytest.skip("no Maven")
    with pytest.raises(SdkUnavailable) as ei:
        resolve_java_sdk(MICROSOFT, version="0.0.0-nope", path=None, cache_dir=tmp_path)
    assert "com.microsoft:durabletask-client:0.0.0-nope" in str(ei.value)
    assert not any(p.name.startswith("java-") for p in (tmp_path / "drivers").iterdir())


# -- protocol basics --------------------------------------------------------------------------
def test_hello(driver: Driver) -> None:
    info = driver.info
    assert info["protocol"] == 1 and info["sdk"] == "java" and info["language"] == "java"
    assert info["sdk_version"] == "1.5.0" and info["sdk_path"].endswith("durabletask-client-1.5.0.jar")
    assert info["runtime"].startswith("OpenJDK")
    caps = info["capabilities"]
    assert caps["channel"] and caps["sdk_channel"] and caps["rpc_observer"] and caps["logger"]
    assert not caps["resiliency_options"] and not caps["client_resiliency_options"]
    assert not caps["interceptors"] and not caps["async_client"] and not caps["history_stream"]
    assert info["options"] == {"worker": None, "client": None}
    assert info["defaults"]["worker"] == {"reconnect_backoff_base_seconds": 5.0, "reconnect_backoff_cap_seconds": 5.0}
    assert info["localhost_resolves_to"], "where the SDK's own channel goes must be reported"
    assert info["pid"] == driver.pid and not driver.garbage


@pytest.mark.parametrize("call, capability", [
    (lambda d: d.start_worker(address="127.0.0.1:1", resiliency={"hello_timeout_seconds": 1}), "resiliency_options"),
    (lambda d: d.start_worker(address="127.0.0.1:1", channel_options={"max_receive_message_length": 1}),
     "channel_options"),
    (lambda d: d.create_client("c", kind="async", address="127.0.0.1:1"), "async_client"),
    (lambda d: d.create_client("c", address="127.0.0.1:1", resiliency={"channel_recreate_failure_threshold": 1}),
     "client_resiliency_options"),
    (lambda d: d.create_client("c", address="127.0.0.1:1", secure=True), "secure_channel"),
])
def test_missing_options_are_unsupported_with_their_capability(driver: Driver, call, capability: str) -> None:
    with pytest.raises(DriverUnsupported) as ei:
        call(driver)
    assert ei.value.capability == capability and "1.5.0" in str(ei.value)


def test_defaults_in_force(driver: Driver) -> None:
    got = driver.request("defaults_in_force")
    assert got["client"] is None and got["client_long_poll_timeout_seconds"] == 600.0
    assert got["worker"] == {"reconnect_backoff_base_seconds": 5.0, "reconnect_backoff_cap_seconds": 5.0}


# -- against the fake -------------------------------------------------------------------------
@pytest.mark.parametrize("channel", ["sdk", "caller"])
def test_orchestration_runs_its_activity(channel: str, driver: Driver, fake: FakeSidecar,
                                         history: History) -> None:
    iid = run_orchestration(driver, fake, channel, {"x": 1})
    done = driver.call("c", "wait_completion", instance_id=iid, timeout=20)
    assert done["outcome"] == "ok", done
    assert done["value"]["runtime_status"] == "COMPLETED" and done["value"]["serialized_output"] == '{"x":1}'
    started = history.select(DRIVER, "activity_started", name="echo")
    assert [(e.get("instance_id"), e.get("input")) for e in started] == [(iid, {"x": 1})]
    assert history.select(DRIVER, "activity_finished", instance_id=iid)
    runs = history.select(DRIVER, "orchestration_run", instance_id=iid)
    assert [e.get("is_replaying") for e in runs][:1] == [False] and len(runs) >= 2
    assert driver.call("c", "get_state", instance_id=iid)["value"]["runtime_status"] == "COMPLETED"
    # No Hello: the Java worker opens GetWorkItems first, and the fake accepts it.
    assert not history.select(FAKE, "rpc_start", method="Hello")


@pytest.mark.parametrize("channel", ["sdk", "caller"])
def test_channels_are_observed_with_owner_and_role(channel: str, driver: Driver, fake: FakeSidecar,
                                                   history: History) -> None:
    iid = run_orchestration(driver, fake, channel, "in")
    assert driver.call("c", "wait_completion", instance_id=iid, timeout=20)["outcome"] == "ok"
    created = {e.get("role"): e for e in history.select(DRIVER, "channel_created")}
    assert set(created) == {"worker", "client:c"}
    assert {e.get("owner") for e in created.values()} == {channel}
    port = fake.address.rsplit(":", 1)[1]
    # The SDK always dials localhost; the driver's own channel goes to the address given.
    want = f"localhost:{port}" if channel == "sdk" else fake.address
    assert {e.get("target") for e in created.values()} == {want}
    worker_ch = created["worker"].get("channel_id")
    start = history.first(source=DRIVER, kind="rpc_start", method="GetWorkItems")
    assert start is not None and start.get("channel_id") == worker_ch and start.get("role") == "worker"
    done = history.select(DRIVER, "rpc_done", method="WaitForInstanceCompletion")
    assert done and done[0].get("role") == "client:c" and done[0].get("code") == "OK"
    assert driver.stop_worker(timeout=10) < 6
    closed = history.wait_for(5, source=DRIVER, kind="channel_closed", channel_id=worker_ch)
    assert closed is not None
    ended = history.wait_for(5, source=DRIVER, kind="rpc_done", method="GetWorkItems")
    assert ended is not None and ended.get("code") in ("CANCELLED", "UNAVAILABLE")
    driver.close_client("c")
    closed_at = history.first(source=DRIVER, kind="client_closed", client_id="c")
    assert closed_at is not None


def test_long_poll_timeout_is_a_timeout_outcome(driver: Driver, fake: FakeSidecar, history: History) -> None:
    driver.create_client("c", address=fake.address)
    # No worker: the instance never starts, so the wait runs into the caller's timeout.
    iid = driver.call("c", "schedule", name="orch", input=None)["value"]
    res = driver.call("c", "wait_completion", instance_id=iid, timeout=0.5)
    assert res["outcome"] == "error" and res["exc_type"] == "TimeoutError", res
    assert res["exc_class"] == "java.util.concurrent.TimeoutException" and 0.4 < res["elapsed"] < 3
    rpc = history.select(DRIVER, "rpc_done", method="WaitForInstanceCompletion")
    assert rpc and rpc[-1].get("code") == "DEADLINE_EXCEEDED"


# -- io.dapr:durabletask-client ---------------------------------------------------------------
def test_dapr_hello(make_driver, dapr_build: SdkBuild) -> None:
    assert dapr_build.schema == "dapr" and dapr_build.source == "maven:io.dapr:durabletask-client:1.17.1"
    info = make_driver(dapr_build).info
    assert info["sdk"] == "dapr-java" and info["sdk_version"] == "1.17.1"
    assert info["capabilities"]["rpc_observer"] and info["capabilities"]["channel"]


def test_dapr_orchestration_against_a_dapr_schema_fake(make_driver, dapr_build: SdkBuild,
                                                       history: History) -> None:
    fake_gen = _fake(history, dapr_build.schema)
    f = next(fake_gen)
    try:
        d = make_driver(dapr_build)
        iid = run_orchestration(d, f, "sdk", {"x": 2})
        done = d.call("c", "wait_completion", instance_id=iid, timeout=20)
        assert done["outcome"] == "ok" and done["value"]["runtime_status"] == "COMPLETED", done
        started = history.select(DRIVER, "activity_started", name="echo")
        assert [e.get("instance_id") for e in started] == [iid]
        d.stop_worker(timeout=10)
    finally:
        fake_gen.close()
