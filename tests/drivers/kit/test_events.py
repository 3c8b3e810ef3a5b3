"""Events (PROTOCOL.md §1, §3): shape, kinds the protocol defines, and the CLOCK_MONOTONIC stamp.

The clock check brackets an event between two ``time.monotonic()`` reads of the harness: the one
before the request is written and the one after its answer arrived. The driver stamps
``client_call_done`` while it handles the call, so on the same clock ``before <= t <= after`` holds
exactly; the only slack is CLOCK_SLACK_S for the decimal rendering of ``t`` (a driver printing
microseconds loses < 1 µs; 1 ms also covers one that prints milliseconds). Any other clock is off
by far more: CLOCK_REALTIME by decades, a process-relative clock (JS performance.now, a JVM-relative
nanoTime origin) by the machine's uptime less the driver's, which is minutes at the least.
"""

from __future__ import annotations

import time

from fakes.sidecar import FakeSidecar
from harness.drivers.process import Driver
from harness.history import DRIVER, History
from tests.drivers.kit.conftest import worker_channel

CLOCK_SLACK_S = 0.001
KINDS = {"channel_created", "channel_closed", "rpc_start", "rpc_done", "activity_started", "activity_finished",
         "orchestration_run", "worker_started", "worker_stopped", "client_call_done", "client_closed", "log"}
RESERVED = {"source", "kind", "t"}


def test_event_stamps_are_the_harness_monotonic_clock(driver: Driver, history: History, fake: FakeSidecar) -> None:
    driver.create_client("clock", address=fake.address, channel=worker_channel(driver.info))
    try:
        brackets = []
        for i in range(5):
            before = time.monotonic()
            driver.call("clock", "get_state", instance_id=f"kit-clock-{i}")
            after = time.monotonic()
            ev = history.wait_for(5, source=DRIVER, kind="client_call_done", client_id="clock",
                                  instance_id=f"kit-clock-{i}")
            assert ev is not None, history.format()
            brackets.append((before, ev.t, after))
    finally:
        driver.close_client("clock")
    bad = [b for b in brackets if not b[0] - CLOCK_SLACK_S <= b[1] <= b[2] + CLOCK_SLACK_S]
    assert not bad, f"event t outside [harness before, harness after] (not CLOCK_MONOTONIC?): {bad}"


def test_event_shape(driver: Driver, fake: FakeSidecar) -> None:
    driver.create_client("shape", address=fake.address, channel=worker_channel(driver.info))
    driver.call("shape", "get_state", instance_id="kit-shape")
    driver.close_client("shape")
    assert driver.events, "a client created, called and closed produced no events"
    for ev in driver.events:
        assert set(ev) == {"event", "t", "data"}, ev
        assert ev["event"] in KINDS, f"event kind PROTOCOL.md §3 does not define: {ev}"
        assert isinstance(ev["t"], float) and ev["t"] > 0, ev
        assert isinstance(ev["data"], dict) and not RESERVED & set(ev["data"]), ev
    mine = [e for e in driver.events if e["data"].get("client_id") == "shape"]
    assert [e["event"] for e in mine] == ["client_call_done", "client_closed"], mine
    done = mine[0]["data"]
    assert done["op"] == "get_state" and done["instance_id"] == "kit-shape" and done["outcome"] == "ok", done
    assert "value" not in done, "client_call_done carries the outcome fields except value"


def test_channel_events_carry_their_role(driver: Driver, fake: FakeSidecar) -> None:
    driver.create_client("role", address=fake.address, channel=worker_channel(driver.info))
    driver.call("role", "get_state", instance_id="kit-role")
    driver.close_client("role")
    created = [e["data"] for e in driver.events
               if e["event"] == "channel_created" and e["data"].get("role") == "client:role"]
    assert created, f"no channel_created with role client:role: {[e for e in driver.events if 'channel' in e['event']]}"
    for data in created:
        assert isinstance(data["channel_id"], int) and data["owner"] in ("sdk", "caller"), data
        assert data["target"] and data["channel_kind"] in ("sync", "aio"), data
    ids = {d["channel_id"] for d in created}
    closed = [e["data"] for e in driver.events if e["event"] == "channel_closed" and e["data"]["channel_id"] in ids]
    assert closed and all(d.get("role") == "client:role" for d in closed), closed
