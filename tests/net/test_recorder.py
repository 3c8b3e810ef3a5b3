"""The one fault recorder (harness/net/recorder.py), as link.py and conn.py use it.

The Toxiproxy API is a stub here (what is recorded does not depend on the server; the toxics
themselves are tested against the real server in test_toxiproxy.py); iptables and ``ss -K`` are real,
so the connection faults need root like test_conn.py (they fail, never skip, without it).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

import pytest

from harness.history import NETWORK, History
from harness.net.conn import ConnectionFaults
from harness.net.link import FaultyLink
from harness.net.recorder import FaultRecorder, next_fault_id
from harness.net.toxiproxy_client import Proxy, Toxic

# Every field either tcp_reset writer recorded before they were merged (link.py: proxy, four_tuple of
# the destroyed socket; conn.py: fault_id, scope, attributes.side); readers may rely on any of them.
TCP_RESET_FIELDS = {"requested_t", "fault", "fault_id", "proxy", "type", "stream", "attributes", "client_port",
                    "local", "local_port", "peer", "peer_port", "four_tuple", "scope", "destroyed"}


class StubToxiproxy:
    """Just enough of toxiproxy_client.Client for FaultyLink; ``fail_*`` make one call raise."""

    def __init__(self) -> None:
        self.toxics: dict[str, Toxic] = {}
        self.enabled = True
        self.fail_add_after: int | None = None
        self.fail_remove = False

    def add_toxic(self, proxy: Any, type: str, stream: str, attributes: dict[str, Any], name: str,
                  toxicity: float = 1.0) -> Toxic:
        if self.fail_add_after is not None and len(self.toxics) >= self.fail_add_after:
            raise RuntimeError("stub: add_toxic refused")
        self.toxics[name] = Toxic(name, type, stream, toxicity, dict(attributes))
        return self.toxics[name]

    def remove_toxic(self, proxy: Any, name: str) -> bool:
        if self.fail_remove:
            raise RuntimeError("stub: remove_toxic refused")
        return self.toxics.pop(name, None) is not None

    def update_toxic(self, proxy: Any, name: str, attributes: dict[str, Any]) -> Toxic:
        t = self.toxics[name]
        self.toxics[name] = Toxic(t.name, t.type, t.stream, t.toxicity, dict(attributes))
        return self.toxics[name]

    def set_enabled(self, proxy: Any, enabled: bool) -> None:
        self.enabled = enabled


@pytest.fixture
def stub() -> StubToxiproxy:
    return StubToxiproxy()


@pytest.fixture
def history() -> History:
    return History("recorder")


@pytest.fixture
def link(stub: StubToxiproxy, server: socket.socket, history: History) -> FaultyLink:
    """A link whose "proxy" listens on ``server``: tcp_reset and client_port_of act on real sockets."""
    listen = "127.0.0.1:%d" % server.getsockname()[1]
    return FaultyLink(stub, Proxy("stub", listen, "127.0.0.1:1", True), history)  # type: ignore[arg-type]


def _pair(server: socket.socket) -> tuple[socket.socket, socket.socket]:
    c = socket.create_connection(server.getsockname(), timeout=5)
    s, _ = server.accept()
    return c, s


def _four(c: socket.socket) -> tuple[str, int, str, int]:
    (lh, lp), (ph, pp) = c.getsockname(), c.getpeername()
    return lh, lp, ph, pp


# -- the recorder alone (no network) -------------------------------------------------------------------
@dataclass
class Thing:
    fault_id: int
    attributes: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        return {"fault": "thing", "fault_id": self.fault_id, "type": "t", "stream": "both", "scope": "test",
                "attributes": self.attributes}


def test_fault_scope_records_start_update_and_end_in_order(history: History) -> None:
    rec, calls = FaultRecorder(history), []
    f = Thing(next_fault_id(), {"a": 1})
    with rec.fault(f, apply=lambda: calls.append("apply"),
                   clear=lambda: calls.append("clear") or {"cleared_by": "removed", "extra": 7},
                   closes_connections=True) as got:
        assert got is f and calls == ["apply"]
        f.attributes = {"a": 2}
        rec.update(f, requested_t=0.0)
    start, update, end = history.select(NETWORK)
    assert [start.kind, update.kind, end.kind] == ["fault_start", "fault_update", "fault_end"]
    assert start.get("fault_id") == end.get("fault_id") == f.fault_id
    assert start.get("requested_t") <= start.t and end.get("requested_t") <= end.t
    assert start.get("closes_connections") is True and end.get("closes_connections") is True
    assert start.get("attributes") == {"a": 1} and end.get("attributes") == {"a": 2}, "end describes the fault now"
    assert end.get("cleared_by") == "removed" and end.get("extra") == 7 and calls == ["apply", "clear"]


def test_failed_apply_records_nothing(history: History) -> None:
    def apply() -> None:
        raise OSError("refused")

    with pytest.raises(OSError), FaultRecorder(history).fault(Thing(next_fault_id(), {}), apply=apply,
                                                              clear=dict, closes_connections=False):
        pass
    assert history.select(NETWORK) == []


def test_failed_clear_records_clear_failed_and_no_end(history: History) -> None:
    def clear() -> dict[str, Any]:
        raise OSError("cannot clear")

    with pytest.raises(OSError, match="cannot clear"), FaultRecorder(history).fault(
            Thing(next_fault_id(), {}), apply=lambda: None, clear=clear, closes_connections=False):
        pass
    assert [e.kind for e in history.select(NETWORK)] == ["fault_start", "fault_clear_failed"]
    assert "cannot clear" in history.last(kind="fault_clear_failed").get("error")


# -- one counter for link and connection faults ----------------------------------------------------------
def test_link_and_connection_faults_share_one_id_counter(link: FaultyLink, server: socket.socket,
                                                         history: History) -> None:
    faults = ConnectionFaults(history)
    a, sa = _pair(server)
    b, sb = _pair(server)
    with link.latency(10), faults.blackhole(_four(a)), link.down():
        pass
    with faults.blackhole(_four(b)), link.blackhole(stream="both"):
        pass
    faults.reset(_four(a))
    link.tcp_reset(b.getsockname()[1])
    starts = history.select(NETWORK, "fault_start")
    resets = history.select(NETWORK, "tcp_reset")
    ids = [e.get("fault_id") for e in starts + resets]
    assert len(starts) == 5 and len(resets) == 2
    assert len(set(ids)) == len(ids), f"fault ids must be unique in one history: {ids}"
    assert {e.get("scope") for e in starts} == {"link", "connection"}
    ends = {e.get("fault_id"): e for e in history.select(NETWORK, "fault_end")}
    assert set(ends) == {e.get("fault_id") for e in starts}, "every band has its own end"
    for x in (a, sa, b, sb):
        x.close()


# -- the end is recorded however the body ends -------------------------------------------------------------
@pytest.mark.parametrize("kind", ["toxic", "down", "conn_blackhole"])
def test_fault_end_is_recorded_when_the_body_raises(kind: str, link: FaultyLink, stub: StubToxiproxy,
                                                    server: socket.socket, history: History) -> None:
    c, s = _pair(server)
    scope = {"toxic": lambda: link.latency(10, stream="both"), "down": link.down,
             "conn_blackhole": lambda: ConnectionFaults(history).blackhole(_four(c))}[kind]()
    with pytest.raises(KeyboardInterrupt), scope:
        raise KeyboardInterrupt  # the harshest way out of a scope (Ctrl-C)
    start, end = history.select(NETWORK, "fault_start"), history.select(NETWORK, "fault_end")
    assert len(start) == 1 and len(end) == 1 and end[0].get("fault_id") == start[0].get("fault_id")
    assert end[0].get("cleared_by") == {"toxic": "removed", "down": "enabled", "conn_blackhole": "removed"}[kind]
    assert stub.toxics == {} and stub.enabled, "the fault itself was cleared"
    c.close()
    s.close()


def test_half_applied_toxic_is_removed_and_not_recorded(link: FaultyLink, stub: StubToxiproxy,
                                                        history: History) -> None:
    stub.fail_add_after = 1  # "both": the upstream toxic is added, the downstream one refused
    with pytest.raises(RuntimeError, match="add_toxic refused"), link.blackhole(stream="both"):
        pass
    assert stub.toxics == {} and history.select(NETWORK) == []


def test_toxic_that_cannot_be_removed_records_clear_failed(link: FaultyLink, stub: StubToxiproxy,
                                                           history: History) -> None:
    with pytest.raises(RuntimeError, match="remove_toxic refused"), link.latency(10):
        stub.fail_remove = True
    assert [e.kind for e in history.select(NETWORK)] == ["fault_start", "fault_clear_failed"]


# -- one tcp_reset event -----------------------------------------------------------------------------------
def test_tcp_reset_is_one_event_shape_from_link_and_conn(link: FaultyLink, server: socket.socket,
                                                         history: History) -> None:
    a, sa = _pair(server)
    b, sb = _pair(server)
    c, sc = _pair(server)
    tuples = [_four(x) for x in (a, b, c)]  # before the resets: a reset socket has no peer name
    link.tcp_reset(a.getsockname()[1])
    ConnectionFaults(history).reset(tuples[1])
    ConnectionFaults(history).reset(tuples[2], side="client")
    via_link, via_conn, client_side = history.select(NETWORK, "tcp_reset")
    for ev in (via_link, via_conn, client_side):
        assert set(ev.data) == TCP_RESET_FIELDS, sorted(set(ev.data) ^ TCP_RESET_FIELDS)
        assert ev.get("fault") == ev.get("type") == "tcp_reset" and ev.get("stream") == "both"
        assert ev.get("requested_t") <= ev.t
    # the client's port and the connection as the client sees it, whoever wrote it
    for ev, (lh, lp, ph, pp) in zip((via_link, via_conn, client_side), tuples, strict=True):
        assert ev.get("client_port") == lp and ev.get("four_tuple") == f"{lh}:{lp} -> {ph}:{pp}"
    # local/peer are the destroyed socket: the server's for side "server", the client's for "client"
    assert via_link.get("local_port") == via_conn.get("local_port") == server.getsockname()[1]
    assert client_side.get("local_port") == c.getsockname()[1]
    assert via_link.get("destroyed") == f"127.0.0.1:{server.getsockname()[1]} -> 127.0.0.1:{a.getsockname()[1]}"
    assert (via_link.get("scope"), via_link.get("proxy"), via_link.get("attributes")) == \
        ("link", "stub", {"side": "server"})
    assert (via_conn.get("scope"), via_conn.get("proxy"), via_conn.get("attributes")) == \
        ("connection", None, {"side": "server"})
    assert client_side.get("attributes") == {"side": "client"}
    for x in (a, sa, b, sb, c, sc):
        x.close()
