"""`hello` and `defaults_in_force`: the shape PROTOCOL.md §2 gives them, for every driver."""

from __future__ import annotations

from typing import Any

from harness.drivers.capabilities import CAPABILITIES
from harness.drivers.process import Driver

RESILIENCY_FIELDS = {"worker": {"hello_timeout_seconds", "silent_disconnect_timeout_seconds",
                                "channel_recreate_failure_threshold", "reconnect_backoff_base_seconds",
                                "reconnect_backoff_cap_seconds"},
                     "client": {"channel_recreate_failure_threshold", "min_recreate_interval_seconds"}}


def test_hello_names_the_build(driver: Driver, driver_sdk: str) -> None:
    info = driver.info
    assert info["protocol"] == 1
    assert info["sdk"] == driver_sdk, "hello.sdk is the --sdk name the harness resolved"
    for key in ("sdk_version", "language", "runtime"):
        assert isinstance(info[key], str) and info[key], (key, info[key])
    if "pid" in info:
        assert info["pid"] == driver.pid
    assert not driver.garbage, f"non-protocol stdout: {driver.garbage[:5]}"


def test_capabilities_are_known_names_with_bools(driver: Driver) -> None:
    caps = driver.info["capabilities"]
    assert isinstance(caps, dict) and caps
    unknown = sorted(set(caps) - set(CAPABILITIES))
    assert not unknown, f"capabilities harness/drivers/capabilities.py does not define: {unknown}"
    assert all(isinstance(v, bool) for v in caps.values()), caps


def _option_class(value: Any) -> None:
    assert value is None or (isinstance(value, dict) and isinstance(value.get("class"), str)
                             and isinstance(value.get("fields"), dict)), value


def test_options_and_defaults_shape(driver: Driver) -> None:
    options, defaults = driver.info["options"], driver.info["defaults"]
    assert set(options) == {"worker", "client"}
    _option_class(options["worker"])
    _option_class(options["client"])
    for side in ("worker", "client"):
        declared = defaults.get(side) or {}
        assert set(declared) <= RESILIENCY_FIELDS[side], (side, declared)
        assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in declared.values()), declared


def test_defaults_in_force_shape(driver: Driver) -> None:
    got = driver.request("defaults_in_force")
    assert set(got) >= {"worker", "client", "client_long_poll_timeout_seconds", "client_retire_grace_seconds"}
    for side in ("worker", "client"):
        if got[side] is not None:
            assert set(got[side]) <= RESILIENCY_FIELDS[side], (side, got[side])
    for key in ("client_long_poll_timeout_seconds", "client_retire_grace_seconds"):
        assert got[key] is None or (isinstance(got[key], (int, float)) and got[key] >= 0), (key, got[key])


def test_hello_is_repeatable(driver: Driver) -> None:
    again = driver.request("hello")
    assert {k: again[k] for k in ("protocol", "sdk", "sdk_version")} == \
        {k: driver.info[k] for k in ("protocol", "sdk", "sdk_version")}
