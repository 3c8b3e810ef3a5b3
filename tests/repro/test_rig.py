"""harness/rig.py: the parts start in order and NOTHING is left running after the rig's block ends,
normally, by an exception, by Ctrl-C or by a part failing to start. A stub driver (it only answers
the protocol's hello and shutdown) stands in for an SDK; Toxiproxy and the fake are real."""

from __future__ import annotations

import os
import socket
import sys
import textwrap
from pathlib import Path

import pytest

from harness import rig
from harness.history import FAKE, SCENARIO, History
from harness.net.toxiproxy_client import Client, ToxiproxyError
from harness.net.toxiproxy_server import ToxiproxyServer, ToxiproxyUnavailable, find_or_build_binary
from harness.paths import default_cache_dir
from harness.sdk import DriverCommand, SdkBuild

STUB = textwrap.dedent("""
    import json, sys
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["cmd"] == "hello":
            res = {"sdk": "stub", "sdk_version": "0", "capabilities": {"stub": True}}
        else:
            res = {}
        print(json.dumps({"id": msg["id"], "ok": True, "result": res}), flush=True)
        if msg["cmd"] == "shutdown":
            break
""")


def _binary() -> Path:
    explicit = os.environ.get("TOXIPROXY_BIN")
    try:
        return find_or_build_binary(explicit, default_cache_dir(), build=False)
    except ToxiproxyUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def toxiproxy():
    with ToxiproxyServer(_binary(), log_dir=default_cache_dir() / "logs") as server:
        yield Client(server.url)


def _build(tmp_path: Path, code: str = STUB) -> SdkBuild:
    script = tmp_path / "stub_driver.py"
    script.write_text(code)
    return SdkBuild("stub", "python", "0", "test", DriverCommand((sys.executable, str(script))))


def _refused(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return True
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _assert_all_stopped(toxiproxy, seen: dict) -> None:
    assert _refused(seen["fake"]), "the fake still listens"
    assert seen["proxy"] not in toxiproxy.proxies(), "the proxy was not deleted"
    if "driver_pid" in seen:
        assert seen["driver"].proc.poll() is not None and not _alive(seen["driver_pid"]), "the driver runs"


def test_parts_start_in_order_and_stop(toxiproxy, tmp_path):
    h = History("rig")
    with rig.whole_rig(h, sdk=_build(tmp_path), log_dir=tmp_path, toxiproxy_client=toxiproxy) as parts:
        seen = {"fake": parts.fake.address, "proxy": parts.link.name, "driver_pid": parts.driver.pid,
                "driver": parts.driver}
        assert parts.link.name in toxiproxy.proxies() and parts.link.upstream == parts.fake.address
        assert parts.sdk_info["sdk"] == "stub" and h.meta["sdk"]["sdk"] == "stub"
        ready = h.first(source=SCENARIO, kind="driver_ready")
        assert ready.data == {"sdk": "stub", "sdk_version": "0", "capabilities": {"stub": True}}
        assert h.first(source=FAKE, kind="server_started").t <= ready.t
    _assert_all_stopped(toxiproxy, seen)


@pytest.mark.parametrize("exc", [RuntimeError("a check failed"), KeyboardInterrupt()])
def test_nothing_left_running_after_a_failure_or_ctrl_c(toxiproxy, tmp_path, exc):
    h = History("rig")
    seen: dict = {}
    with pytest.raises(type(exc)):
        with rig.whole_rig(h, sdk=_build(tmp_path), log_dir=tmp_path, toxiproxy_client=toxiproxy) as parts:
            seen.update(fake=parts.fake.address, proxy=parts.link.name, driver_pid=parts.driver.pid,
                        driver=parts.driver)
            raise exc
    _assert_all_stopped(toxiproxy, seen)


def test_a_part_that_fails_to_start_stops_the_ones_before_it(toxiproxy, tmp_path):
    h = History("rig")
    before = set(toxiproxy.proxies())
    with pytest.raises(Exception, match="died"):
        with rig.whole_rig(h, sdk=_build(tmp_path, "import sys; sys.exit(3)"), log_dir=tmp_path,
                           toxiproxy_client=toxiproxy):
            pytest.fail("the rig started without a driver")
    started = h.first(source=FAKE, kind="server_started")
    assert _refused(f"127.0.0.1:{started.get('port')}")
    assert set(toxiproxy.proxies()) == before


def test_own_toxiproxy_server_is_stopped(tmp_path):
    h = History("rig")
    with rig.whole_rig(h, sdk=_build(tmp_path), log_dir=tmp_path, toxiproxy_bin=str(_binary())) as parts:
        client = parts.toxiproxy
        client.version()
    with pytest.raises(ToxiproxyError):  # the server is gone
        client.version()
