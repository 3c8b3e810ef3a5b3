"""Each command of PROTOCOL.md §2 against the real fake sidecar: worker start/stop running an
orchestration and its activity, every client op, close, unsupported options, unknown commands."""

from __future__ import annotations

import time

import pytest

from fakes.sidecar import FakeSidecar
from harness.drivers.process import Driver, DriverError, DriverUnsupported
from harness.history import DRIVER, FAKE, History
from tests.drivers.kit.conftest import worker_channel

ECHO = {"name": "echo", "sleep_seconds": 0, "result": None}
ORCH = {"name": "orch", "activity": "echo"}
# A state as PROTOCOL.md §2 defines it.
STATE_KEYS = {"instance_id", "name", "runtime_status", "serialized_output"}
# What start_worker option asks for which capability (PROTOCOL.md "Capabilities").
OPTION_CAPABILITY = [
    ({"resiliency": {"hello_timeout_seconds": 1.0}}, "resiliency_options"),
    ({"channel_options": {"max_receive_message_length": 1 << 22}}, "channel_options"),
    ({"secure": True}, "secure_channel"),
    ({"interceptor_metadata": [["x-kit", "1"]]}, "interceptors"),
    ({"concurrency": {"maximum_concurrent_activity_work_items": 1}}, "concurrency_options"),
]


def _ok(outcome: dict) -> object:
    assert outcome["outcome"] == "ok", outcome
    assert isinstance(outcome["elapsed"], (int, float)) and outcome["elapsed"] >= 0, outcome
    return outcome.get("value")


def _state(value: object, iid: str) -> dict:
    assert isinstance(value, dict) and set(value) >= STATE_KEYS, value
    assert value["instance_id"] == iid
    return value


def test_worker_and_client_ops_end_to_end(driver: Driver, history: History, fake: FakeSidecar,
                                          driver_sdk: str) -> None:
    channel = worker_channel(driver.info)
    assert driver.create_client("ops", address=fake.address, channel=channel) == {"created": True}
    try:
        # Before any worker runs, so nothing executes (and fails) the instance: raise an event, terminate, purge.
        other = _ok(driver.call("ops", "schedule", name="kit_unregistered", input=None,
                                instance_id=f"kit-{driver_sdk}-other"))
        assert other == f"kit-{driver_sdk}-other"
        _ok(driver.call("ops", "raise_event", instance_id=other, name="evt", data={"x": 1}))
        assert history.wait_for(5, source=FAKE, kind="rpc_start", method="RaiseEvent") is not None
        _ok(driver.call("ops", "terminate", instance_id=other, output="bye"))
        assert fake.instance_status(other)["status"] == "ORCHESTRATION_STATUS_TERMINATED", fake.instance_status(other)
        purged = _ok(driver.call("ops", "purge", instance_id=other))
        # null where the SDK's purge API reports no count (Go's returns only an error); the fake says it is gone.
        assert purged["deleted_instance_count"] in (1, None), purged
        assert fake.instance_status(other) is None, "purge deleted the instance on the server"
        assert driver.start_worker(address=fake.address, channel=channel, activities=[ECHO],
                                   orchestrations=[ORCH]) == {"started": True}
        assert history.wait_for(10, source=DRIVER, kind="worker_started") is not None
        iid = _ok(driver.call("ops", "schedule", name="orch", input={"n": 1}))
        assert isinstance(iid, str) and iid
        started = _state(_ok(driver.call("ops", "wait_start", instance_id=iid, timeout=10)), iid)
        assert started["runtime_status"] in ("RUNNING", "COMPLETED"), started
        done = _state(_ok(driver.call("ops", "wait_completion", instance_id=iid, timeout=10)), iid)
        assert done["runtime_status"] == "COMPLETED" and done["name"] == "orch", (done, history.format())
        act = history.first(source=DRIVER, kind="activity_started", name="echo", instance_id=iid)
        assert act is not None and act.get("input") == {"n": 1}
        assert history.select(DRIVER, "orchestration_run", instance_id=iid)
        assert _state(_ok(driver.call("ops", "get_state", instance_id=iid)), iid)["runtime_status"] == "COMPLETED"
        assert _ok(driver.call("ops", "get_state", instance_id="kit-no-such-instance")) is None

        try:
            hist = driver.call("ops", "get_history", instance_id=iid)
        except DriverUnsupported as exc:
            assert exc.capability == "history_stream" and not driver.info["capabilities"].get("history_stream")
        else:
            assert driver.info["capabilities"].get("history_stream"), "get_history ran: declare history_stream"
            # The fake serves StreamInstanceHistory only for some schemas; reaching it is what the driver owes.
            assert history.first(source=FAKE, kind="rpc_start", method="StreamInstanceHistory") is not None
            assert hist["outcome"] == "ok" or hist.get("grpc_code") == "UNIMPLEMENTED", hist
            if hist["outcome"] == "ok":
                assert isinstance(hist["value"]["events"], int) and hist["value"]["events"] > 0, hist
        done_events = history.select(DRIVER, "client_call_done", client_id="ops")
        assert {e.get("op") for e in done_events} >= {"schedule", "wait_start", "wait_completion", "get_state",
                                                      "raise_event", "terminate", "purge"}
    finally:
        driver.close_client("ops")
        if history.first(source=DRIVER, kind="worker_started") is not None:
            elapsed = driver.stop_worker(timeout=10)
    assert isinstance(elapsed, float) and 0 <= elapsed < 10
    assert history.wait_for(5, source=DRIVER, kind="client_closed", client_id="ops") is not None
    assert history.wait_for(5, source=DRIVER, kind="worker_stopped") is not None


def test_sdk_timeout_is_an_outcome_not_a_protocol_error(driver: Driver, fake: FakeSidecar) -> None:
    driver.create_client("to", address=fake.address, channel=worker_channel(driver.info))
    try:
        iid = _ok(driver.call("to", "schedule", name="kit_never_runs", input=None))
        res = driver.call("to", "wait_completion", instance_id=iid, timeout=0.5)
        assert res["outcome"] == "error" and res["exc_type"] == "TimeoutError", res
        assert 0.4 < res["elapsed"] < 5, res
        assert "grpc_code" in res and "message" in res, res
    finally:
        driver.close_client("to")


@pytest.mark.parametrize("kwargs, capability", OPTION_CAPABILITY, ids=[c for _, c in OPTION_CAPABILITY])
def test_option_matches_its_capability(driver: Driver, history: History, fake: FakeSidecar, kwargs: dict,
                                       capability: str) -> None:
    """A capability hello declares false is refused with ``unsupported`` naming it (never silently ignored);
    one declared true is taken: the worker starts with it."""
    channel = worker_channel(driver.info)
    if not driver.info["capabilities"].get(capability):
        with pytest.raises(DriverUnsupported) as ei:
            driver.start_worker(address=fake.address, channel=channel, **kwargs)
        assert ei.value.capability == capability, ei.value.error
        assert driver.info["sdk_version"] in ei.value.error.get("message", ""), "the message names the SDK version"
        return
    if capability == "secure_channel":
        # TLS against the fake's plaintext port cannot connect, so the fake must see no call at all (one
        # would mean the flag was dropped). An SDK whose start waits for its stream (durabletask-dapr: up
        # to 10 s) reports the failed connect as its own error instead of {"started": true}.
        calls_before = len(history.select(FAKE, "rpc_start"))
        try:
            driver.start_worker(address=fake.address, channel=channel, activities=[ECHO], **kwargs)
            started = True
            time.sleep(1.0)  # long enough for a plaintext Hello/GetWorkItems to reach the fake
        except DriverUnsupported:
            raise
        except DriverError as exc:
            assert exc.error.get("type") not in (None, "UnknownCommand"), exc.error
            started = False
        assert len(history.select(FAKE, "rpc_start")) == calls_before, "a secure worker's call reached the plaintext fake"
        if not started:
            return
    else:
        assert driver.start_worker(address=fake.address, channel=channel, activities=[ECHO],
                                   **kwargs) == {"started": True}
    driver.stop_worker(timeout=10)


def test_unknown_command_is_an_error(driver: Driver) -> None:
    with pytest.raises(DriverError) as ei:
        driver.request("kit_no_such_command", 10)
    assert not isinstance(ei.value, DriverUnsupported)
    assert ei.value.error["type"] == "UnknownCommand", ei.value.error
    assert driver.request("hello", 10)["protocol"] == 1, "the driver still answers"


def test_close_unknown_client_is_an_error_not_a_crash(driver: Driver) -> None:
    with pytest.raises(DriverError):
        driver.close_client("kit-never-created", timeout=10)
    assert driver.request("hello", 10)["protocol"] == 1
