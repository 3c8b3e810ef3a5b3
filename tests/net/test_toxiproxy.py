"""The network fault layer against a REAL Toxiproxy server and plain TCP echo servers on loopback.

Binary: $TOXIPROXY_BIN, else /tmp/tpbuild/bin/server, else toxiproxy-server on PATH or the cache
(never built here). Tests that need root (ss -K, the packet sniffer) skip without it.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.history import NETWORK, History
from harness.net import toxiproxy_server
from harness.net.link import FaultyLink
from harness.net.rst_sniffer import RstSniffer
from harness.net.toxiproxy_client import Client, ToxiproxyError
from harness.net.toxiproxy_server import ToxiproxyServer, ToxiproxyUnavailable, find_or_build_binary
from harness.options import default_cache_dir

IO_TIMEOUT = 3.0
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (ss -K / AF_PACKET)")


def _binary() -> Path:
    explicit = os.environ.get("TOXIPROXY_BIN") or ("/tmp/tpbuild/bin/server"
                                                   if os.path.exists("/tmp/tpbuild/bin/server") else None)
    try:
        return find_or_build_binary(explicit, default_cache_dir(), build=False)
    except ToxiproxyUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ToxiproxyServer]:
    with ToxiproxyServer(_binary(), log_dir=tmp_path_factory.mktemp("toxiproxy")) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: ToxiproxyServer) -> Client:
    return Client(server.url)


class EchoServer:
    """Echoes bytes back; records how each upstream connection ended ("eof" or "reset")."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.ends: list[str] = []
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        try:
            while data := conn.recv(65536):
                conn.sendall(data)
            self.ends.append("eof")
        except ConnectionResetError:
            self.ends.append("reset")
        except OSError:
            self.ends.append("error")

    def wait_end(self, timeout: float = IO_TIMEOUT) -> str | None:
        deadline = time.monotonic() + timeout
        while not self.ends and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.ends[0] if self.ends else None

    def close(self) -> None:
        self.sock.close()
        for c in self._conns:
            c.close()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    e = EchoServer()
    yield e
    e.close()


@pytest.fixture
def history() -> History:
    return History("toxiproxy")


@pytest.fixture
def link(client: Client, echo: EchoServer, history: History, request: pytest.FixtureRequest) -> Iterator[FaultyLink]:
    proxy = client.create_proxy(f"t-{request.node.name}"[:60], upstream=f"127.0.0.1:{echo.port}")
    yield FaultyLink(client, proxy, history)
    client.delete_proxy(proxy, missing_ok=True)


def connect(link: FaultyLink) -> socket.socket:
    return socket.create_connection(("127.0.0.1", link.listen_port), timeout=IO_TIMEOUT)


def round_trip(s: socket.socket, data: bytes = b"ping") -> bytes:
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = s.recv(len(data) - len(got))
        if not chunk:
            break
        got += chunk
    return got


def closed(s: socket.socket) -> bool:
    """True if the peer closed (EOF or reset) within IO_TIMEOUT, draining any data first."""
    try:
        while s.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


# -- proxy basics ------------------------------------------------------------------------------
def test_create_proxy_resolves_port_and_round_trips(client: Client, link: FaultyLink) -> None:
    assert link.listen_port > 0 and link.address == f"127.0.0.1:{link.listen_port}"
    assert link.name in client.proxies()
    assert client.version()
    with connect(link) as s:
        assert round_trip(s, b"hello") == b"hello"


def test_api_errors_carry_status_and_server_message(client: Client, link: FaultyLink) -> None:
    with pytest.raises(ToxiproxyError) as dup:
        client.create_proxy(link.name, upstream=link.upstream)
    assert dup.value.status == 409 and "already exists" in dup.value.message
    with pytest.raises(ToxiproxyError) as bad:
        client.add_toxic(link.proxy, "no_such_toxic")
    assert bad.value.status == 400 and "toxic" in bad.value.message.lower()
    assert client.remove_toxic(link.proxy, "never-added") is False
    with pytest.raises(ToxiproxyError) as missing:
        client.get_proxy("no-such-proxy")
    assert missing.value.status == 404
    client.delete_proxy("no-such-proxy", missing_ok=True)


def test_unreachable_server_raises_promptly() -> None:
    dead = Client(f"http://127.0.0.1:{toxiproxy_server.free_port()}", timeout=1.0)
    with pytest.raises(ToxiproxyError) as exc:
        dead.version()
    assert exc.value.status is None


# -- toxics ------------------------------------------------------------------------------------
def test_blackhole_drops_data_and_removal_closes_the_connection(link: FaultyLink, history: History) -> None:
    with connect(link) as s:
        assert round_trip(s) == b"ping"
        with link.blackhole(stream="downstream") as fault:
            s.settimeout(0.5)
            s.sendall(b"lost")
            with pytest.raises(TimeoutError):
                s.recv(10)
            assert [t.type for t in fault.toxics] == ["timeout"]
        s.settimeout(IO_TIMEOUT)
        assert closed(s), "removing a timeout toxic must close the connection it was on"
    start = history.last(source=NETWORK, kind="fault_start")
    end = history.last(source=NETWORK, kind="fault_end")
    assert start.get("fault") == "blackhole" and start.get("type") == "timeout"
    assert start.get("attributes") == {"timeout": 0} and start.get("stream") == "downstream"
    assert end.get("cleared_by") == "removed" and end.get("fault_id") == start.get("fault_id")
    assert end.t >= start.t and link.client.toxics(link.proxy) == []


def test_blackhole_both_adds_one_toxic_per_direction(link: FaultyLink) -> None:
    with link.blackhole(stream="both") as fault:
        assert sorted(t.stream for t in link.client.toxics(link.proxy)) == ["downstream", "upstream"]
        assert len(fault.toxics) == 2
    assert link.client.toxics(link.proxy) == []


def test_latency_delays_by_about_the_amount(link: FaultyLink, history: History) -> None:
    with connect(link) as s:
        assert round_trip(s) == b"ping"
        with link.latency(300):
            t0 = time.monotonic()
            assert round_trip(s) == b"ping"
            elapsed = time.monotonic() - t0
        assert 0.28 <= elapsed < 1.0, elapsed
        t0 = time.monotonic()
        assert round_trip(s) == b"ping"
        assert time.monotonic() - t0 < 0.2, "latency must be gone after the scope"
    assert [e.kind for e in history.select(NETWORK)] == ["fault_start", "fault_end"]


def test_fault_update_changes_attributes_in_place(link: FaultyLink, history: History) -> None:
    with link.latency(10) as fault:
        fault.update(latency=50)
        assert link.client.toxics(link.proxy)[0].attributes["latency"] == 50
    assert history.last(kind="fault_update").get("attributes") == {"latency": 50, "jitter": 0}


def test_down_closes_refuses_and_restores(link: FaultyLink, history: History) -> None:
    with connect(link) as s:
        assert round_trip(s) == b"ping"
        with link.down():
            assert closed(s)
            with pytest.raises(ConnectionRefusedError):
                connect(link)
    with connect(link) as s2:
        assert round_trip(s2) == b"ping"
    assert history.last(kind="fault_end").get("cleared_by") == "enabled"


def test_limit_data_closes_after_n_bytes(link: FaultyLink) -> None:
    with link.limit_data(5), connect(link) as s:
        s.sendall(b"0123456789")
        got = b""
        while chunk := s.recv(100):
            got += chunk
        assert got == b"01234"


def test_toxic_removed_by_reset_is_tolerated(link: FaultyLink, history: History) -> None:
    with link.bandwidth(100):
        link.client.reset()
    assert history.last(kind="fault_end").get("cleared_by") == "already_removed"


# -- real RSTs -----------------------------------------------------------------------------------
@needs_root
def test_tcp_reset_delivers_a_real_rst(link: FaultyLink, history: History, echo: EchoServer) -> None:
    with connect(link) as s, connect(link) as bystander:
        assert round_trip(s) == b"ping" and round_trip(bystander) == b"ping"
        client_port = s.getsockname()[1]
        with RstSniffer(history, ports={link.listen_port}):
            link.tcp_reset(client_port)
            with pytest.raises(ConnectionResetError):
                s.recv(10)
            rst = history.wait_for(IO_TIMEOUT, source=NETWORK, kind="tcp_rst_seen", dst_port=client_port)
        assert rst is not None and rst.get("src_port") == link.listen_port
        assert len(history.select(kind="tcp_rst_seen", dst_port=client_port)) == 1, "lo shows each segment once"
        assert echo.wait_end() == "eof", "Toxiproxy closes the upstream side with a FIN"
        assert round_trip(bystander) == b"ping", "only the one connection is reset"
    ev = history.last(kind="tcp_reset")
    assert ev.get("client_port") == client_port and ev.get("local_port") == link.listen_port
    with pytest.raises(LookupError):
        link.tcp_reset(client_port)


@needs_root
def test_client_port_of_finds_the_one_connection(link: FaultyLink) -> None:
    with connect(link) as s:
        assert link.client_port_of(os.getpid()) == s.getsockname()[1]
        with connect(link), pytest.raises(LookupError, match="expected one connection"):
            link.client_port_of(os.getpid())


@needs_root
def test_reset_peer_fins_established_but_resets_new_connections(link: FaultyLink, history: History) -> None:
    """Pins the measurement in link.py: the toxic cannot RST an already established link."""
    with RstSniffer(history, ports={link.listen_port}), connect(link) as old:
        assert round_trip(old) == b"ping"
        old_port = old.getsockname()[1]
        with link.reset_peer():
            old.sendall(b"x")
            assert old.recv(10) == b"", "established connection: clean close (FIN)"
            with connect(link) as new:
                new.sendall(b"x")
                with pytest.raises(ConnectionResetError):
                    new.recv(10)
                new_port = new.getsockname()[1]
        assert history.wait_for(IO_TIMEOUT, kind="tcp_rst_seen", dst_port=new_port) is not None
    assert not history.select(kind="tcp_rst_seen", dst_port=old_port), "no RST on the established one"


# -- provisioning --------------------------------------------------------------------------------
def _fake_go(bin_dir: Path, script: str) -> None:
    go = bin_dir / "go"
    go.write_text("#!/bin/sh\n" + script)
    go.chmod(go.stat().st_mode | stat.S_IEXEC)


def test_nothing_found_and_no_go_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(ToxiproxyUnavailable) as exc:
        find_or_build_binary(None, tmp_path / "cache")
    msg = str(exc.value)
    assert "go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0" in msg
    assert "--toxiproxy-bin" in msg and "--toxiproxy-url" in msg and "install Go" in msg
    with pytest.raises(ToxiproxyUnavailable, match="not an executable"):
        find_or_build_binary(str(tmp_path / "missing"), tmp_path / "cache")


def test_cached_binary_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    cached = toxiproxy_server.cached_binary(tmp_path / "cache")
    cached.parent.mkdir(parents=True)
    shutil.copy(_binary(), cached)
    assert find_or_build_binary(None, tmp_path / "cache") == cached


def test_build_goes_through_a_temp_dir_and_renames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in 'go' (never the real build): it must get GOBIN and the v2.12.0 package."""
    bins = tmp_path / "bins"
    bins.mkdir()
    _fake_go(bins, 'echo "$@" > "$GOBIN/args"; printf "#!/bin/sh\\n" > "$GOBIN/server"; /bin/chmod +x "$GOBIN/server"\n')
    monkeypatch.setenv("PATH", str(bins))
    path = find_or_build_binary(None, tmp_path / "cache")
    assert path == toxiproxy_server.cached_binary(tmp_path / "cache") and os.access(path, os.X_OK)
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".build-")] == []
    _fake_go(bins, "echo 'go: network unreachable' >&2; exit 1\n")
    with pytest.raises(ToxiproxyUnavailable, match="network unreachable"):
        find_or_build_binary(None, tmp_path / "other-cache")


# -- server lifecycle ----------------------------------------------------------------------------
def test_stop_leaves_no_process(tmp_path: Path) -> None:
    srv = ToxiproxyServer(_binary(), log_dir=tmp_path).start()
    pid, url = srv.pid, srv.url
    assert pid is not None and Client(url).version()
    srv.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped, not a zombie: the pid is gone
    with pytest.raises(ToxiproxyError):
        Client(url, timeout=1.0).version()
    srv.stop()  # idempotent


def test_start_retries_when_the_port_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        ports = iter([taken.getsockname()[1], toxiproxy_server.free_port()])
        monkeypatch.setattr(toxiproxy_server, "free_port", lambda host="127.0.0.1": next(ports))
        with ToxiproxyServer(_binary(), log_dir=tmp_path) as srv:
            assert srv.port != taken.getsockname()[1] and Client(srv.url).version()


def test_start_failure_includes_the_server_log(tmp_path: Path) -> None:
    bad = tmp_path / "bad-server"
    bad.write_text("#!/bin/sh\necho 'boom: cannot start' >&2\nexit 3\n")
    bad.chmod(0o755)
    with pytest.raises(ToxiproxyUnavailable, match="boom: cannot start"):
        ToxiproxyServer(bad, log_dir=tmp_path, startup_timeout=2).start()


def test_start_does_not_mistake_another_server_for_its_own(server: ToxiproxyServer, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The xdist race: another worker's Toxiproxy already answers /version on the port we picked."""
    ports = iter([server.port, toxiproxy_server.free_port()])
    monkeypatch.setattr(toxiproxy_server, "free_port", lambda host="127.0.0.1": next(ports))
    with ToxiproxyServer(_binary(), log_dir=tmp_path) as srv:
        assert srv.port != server.port


CHILD = """
import sys, time
from harness.net.toxiproxy_server import ToxiproxyServer
srv = ToxiproxyServer(sys.argv[1], log_dir=sys.argv[2]).start()
print(srv.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_server_dies_with_the_session(sig: str, tmp_path: Path) -> None:
    """SIGKILL of the session: PR_SET_PDEATHSIG; SIGTERM: the signal handler kills the group."""
    import signal
    import subprocess
    import sys
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(_binary()), str(tmp_path)],
                             stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
    try:
        server_pid = int(child.stdout.readline())
        os.kill(child.pid, getattr(signal, sig))
        child.wait(timeout=IO_TIMEOUT)
        deadline = time.monotonic() + IO_TIMEOUT
        while time.monotonic() < deadline and _alive(server_pid):
            time.sleep(0.02)
        assert not _alive(server_pid), f"Toxiproxy outlived its session after {sig}"
    finally:
        child.kill()
        child.wait(timeout=IO_TIMEOUT)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie is dead; its parent (init, once orphaned) reaps it


def test_client_port_of_uses_the_drivers_own_report(link: FaultyLink) -> None:
    class FakeDriver:
        pid = -1  # must not be used: the driver's report wins

        def connections(self) -> list[dict[str, str]]:
            return [{"local": "127.0.0.1:5555", "remote": link.address, "state": "ESTABLISHED"},
                    {"local": "127.0.0.1:5556", "remote": "127.0.0.1:1", "state": "ESTABLISHED"},
                    {"local": "127.0.0.1:5557", "remote": link.address, "state": "TIME_WAIT"}]

    assert link.client_port_of(FakeDriver()) == 5555
