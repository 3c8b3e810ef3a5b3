"""`connections` (PROTOCOL.md §2): the driver process's OWN TCP sockets, in the documented format."""

from __future__ import annotations

import re
import socket
import time

from fakes.sidecar import FakeSidecar
from harness.drivers.process import Driver
from tests.drivers.kit.conftest import worker_channel

CLOSE_S = 3.0
ENDPOINT = re.compile(r"^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):\d{1,5}$")


def test_connections_lists_its_own_sockets_only(driver: Driver, fake: FakeSidecar) -> None:
    driver.create_client("conn", address=fake.address, channel=worker_channel(driver.info))
    # A connection of the harness's own to the same server: same remote, other process. It must not show.
    with socket.create_connection(fake.address.rsplit(":", 1)) as mine:
        harness_local = "%s:%d" % mine.getsockname()[:2]
        try:
            assert driver.call("conn", "get_state", instance_id="kit-conn")["outcome"] == "ok"
            listed = driver.connections()
        finally:
            driver.close_client("conn")
    for c in listed:
        assert set(c) >= {"local", "remote", "state"}, c
        assert ENDPOINT.match(c["local"]) and ENDPOINT.match(c["remote"]), f"not ip:port / [ipv6]:port: {c}"
        assert "::ffff:" not in c["local"] + c["remote"], f"IPv4-mapped addresses are shown as IPv4: {c}"
    to_fake = [c for c in listed if c["remote"] == fake.address and c["state"] == "ESTABLISHED"]
    assert to_fake, f"the client's connection to {fake.address} is missing: {listed}"
    assert all(c["local"] != harness_local for c in listed), f"the harness's socket {harness_local} was listed"


def test_closed_client_leaves_no_established_connection(driver: Driver, fake: FakeSidecar) -> None:
    """After close_client nothing of ours stays ESTABLISHED to the fake. Polled for CLOSE_S because an
    SDK may tear the transport down on its own thread after its close call returned."""
    driver.create_client("gone", address=fake.address, channel=worker_channel(driver.info))
    assert driver.call("gone", "get_state", instance_id="kit-gone")["outcome"] == "ok"
    driver.close_client("gone")
    deadline = time.monotonic() + CLOSE_S
    while True:
        open_ = [c for c in driver.connections() if c["remote"] == fake.address and c["state"] == "ESTABLISHED"]
        if not open_ or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not open_, f"still connected {CLOSE_S}s after close_client: {open_}"
