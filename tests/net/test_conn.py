"""The per-connection fault mechanism (harness/net/conn.py), checked with plain TCP sockets.

Needs root and iptables (CI: .ci/run installs iptables). Without them the tests FAIL with the
ConnFaultUnavailable message naming what is missing; they never pass silently.
"""

from __future__ import annotations

import socket
import time

import pytest

from harness.history import NETWORK, History
from harness.net import conn as connfaults
from harness.net.conn import ConnectionFaults, ConnFaultUnavailable, as_conn

HOLD_S = 2.0


def _pair(server):
    c = socket.create_connection(server.getsockname(), timeout=5)
    s, _ = server.accept()
    s.settimeout(5)
    return c, s


def _recv_within(sock: socket.socket, n: int, timeout: float) -> bytes:
    sock.settimeout(timeout)
    try:
        return sock.recv(n)
    except (TimeoutError, socket.timeout):
        return b""
    finally:
        sock.settimeout(5)


def _conn(c: socket.socket):
    (lh, lp), (ph, pp) = c.getsockname(), c.getpeername()
    return (lh, lp, ph, pp)


def _our_chains():
    return [ch for ch in connfaults.list_chains() if ch.startswith(f"DTC{__import__('os').getpid()}-")]


def test_blackhole_stalls_one_connection_new_connections_work_and_it_resumes(server):
    h = History("connfaults")
    faults = ConnectionFaults(h)
    old_c, old_s = _pair(server)
    other_c, other_s = _pair(server)  # an existing connection that is NOT black-holed
    old_c.sendall(b"a")
    assert old_s.recv(1) == b"a"

    with faults.blackhole(_conn(old_c)) as f:
        assert _our_chains() == [f.chain]
        t_fault = time.monotonic()
        old_c.sendall(b"up")    # client -> server: queued, never delivered
        old_s.sendall(b"down")  # server -> client: same
        assert _recv_within(old_s, 10, 0.8) == b"", "upstream bytes crossed the black hole"
        assert _recv_within(old_c, 10, 0.2) == b"", "downstream bytes crossed the black hole"
        # a NEW connection to the same port, and an untouched old one, work at once
        new_c, new_s = _pair(server)
        new_c.sendall(b"n")
        assert _recv_within(new_s, 1, 1.0) == b"n"
        new_s.sendall(b"m")
        assert _recv_within(new_c, 1, 1.0) == b"m"
        other_c.sendall(b"o")
        assert _recv_within(other_s, 1, 1.0) == b"o"
        time.sleep(max(0.0, HOLD_S - (time.monotonic() - t_fault)))
    t_heal = time.monotonic()
    assert _our_chains() == [], "the rule chain outlived the scope"

    # after removal the old connection resumes: TCP retransmits what it queued
    got_up = _recv_within(old_s, 10, 10.0)
    t_up = time.monotonic()
    got_down = _recv_within(old_c, 10, 10.0)
    t_down = time.monotonic()
    assert got_up == b"up" and got_down == b"down", (got_up, got_down)
    print(f"\nmeasured: hold {t_heal - t_fault:.3f}s; upstream resumed {t_up - t_heal:.3f}s and downstream "
          f"{t_down - t_heal:.3f}s after the rule was removed (next TCP retransmission)")

    start = h.first(source=NETWORK, kind="fault_start")
    end = h.first(source=NETWORK, kind="fault_end")
    assert start is not None and end is not None
    assert start.get("four_tuple") == as_conn(_conn(old_c)).four_tuple
    assert start.get("fault_id") == end.get("fault_id") and end.get("cleared_by") == "removed"
    assert end.get("dropped_packets", 0) >= 2  # both directions were really dropped
    for s in (old_c, old_s, other_c, other_s, new_c, new_s):
        s.close()


@pytest.mark.parametrize("stream", ["upstream", "downstream"])
def test_one_direction_blackhole_drops_only_that_direction(server, stream):
    h = History("connfaults")
    c, s = _pair(server)  # c is the client ("local") end: upstream = c -> s
    dropped_from, dropped_to, open_from, open_to = (c, s, s, c) if stream == "upstream" else (s, c, c, s)
    with ConnectionFaults(h).blackhole(_conn(c), stream=stream) as f:
        rules = connfaults._run(connfaults._tool(False), "-S", f.chain).stdout.count("-j DROP")
        t_fault = time.monotonic()
        dropped_from.sendall(b"lost")
        open_from.sendall(b"kept")
        got_open = _recv_within(open_to, 10, 1.0)
        t_open = time.monotonic()
        got_dropped = _recv_within(dropped_to, 10, 1.0)
    t_heal = time.monotonic()
    assert rules == 1, f"{rules} DROP rules for stream={stream}"
    assert got_open == b"kept", f"{stream} black hole: the other direction's bytes did not arrive"
    assert got_dropped == b"", f"{stream} bytes crossed the {stream} black hole"
    assert _our_chains() == []
    got_late = _recv_within(dropped_to, 10, 10.0)  # retransmitted once the rule is gone
    t_late = time.monotonic()
    assert got_late == b"lost", got_late
    print(f"\nmeasured {stream} only: the other direction delivered in {t_open - t_fault:.3f}s; the dropped "
          f"one nothing during the {t_heal - t_fault:.3f}s hold, then {t_late - t_heal:.3f}s after the rule was "
          "removed (next TCP retransmission)")
    start = h.first(source=NETWORK, kind="fault_start")
    end = h.first(source=NETWORK, kind="fault_end")
    assert start is not None and end is not None
    assert start.get("stream") == stream and start.get("four_tuple") == as_conn(_conn(c)).four_tuple
    assert end.get("dropped_packets", 0) >= 1
    c.close()
    s.close()


def test_unknown_stream_is_refused_before_any_rule():
    with pytest.raises(ValueError, match=r"stream must be one of both, upstream, downstream"):
        with ConnectionFaults(History("x")).blackhole((1, 2), stream="up"):
            pass


def test_rule_removed_on_exception_and_keyboard_interrupt(server):
    h = History("connfaults")
    faults = ConnectionFaults(h)
    c, s = _pair(server)
    for exc in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            with faults.blackhole((c.getsockname()[1], c.getpeername()[1])):
                assert len(_our_chains()) == 1
                raise exc
        assert _our_chains() == []
    c.sendall(b"x")
    assert _recv_within(s, 1, 1.0) == b"x"  # nothing left dropping this connection
    assert len(h.select(NETWORK, "fault_end")) == 2
    c.close()
    s.close()


def test_parallel_chains_do_not_collide(server):
    h = History("connfaults")
    faults = ConnectionFaults(h)
    a, sa = _pair(server)
    b, sb = _pair(server)
    with faults.blackhole(_conn(a)) as fa, faults.blackhole(_conn(b)) as fb:
        assert fa.chain != fb.chain and set(_our_chains()) == {fa.chain, fb.chain}
    assert _our_chains() == []
    for x in (a, sa, b, sb):
        x.close()


def test_reset_sends_rst_to_the_client(server):
    h = History("connfaults")
    c, s = _pair(server)
    ConnectionFaults(h).reset(_conn(c))
    with pytest.raises(ConnectionResetError):
        c.settimeout(2)
        c.recv(1)
    ev = h.first(source=NETWORK, kind="tcp_reset")
    assert ev is not None and ev.get("client_port") == c.getsockname()[1]
    c.close()
    s.close()


def test_missing_tool_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(connfaults.shutil, "which", lambda name: None)
    with pytest.raises(ConnFaultUnavailable, match=r"'iptables' is not on PATH.*apt-get install -y iptables"):
        with ConnectionFaults(History("x")).blackhole((1, 2)):
            pass


def test_not_root_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(connfaults.os, "geteuid", lambda: 1000)
    with pytest.raises(ConnFaultUnavailable, match=r"need root \(CAP_NET_ADMIN\)"):
        ConnectionFaults.check_available()


def test_as_conn_forms():
    want = "127.0.0.1:5 -> 127.0.0.1:6"
    assert as_conn((5, 6)).four_tuple == want
    assert as_conn({"local": "127.0.0.1:5", "remote": "127.0.0.1:6"}).four_tuple == want
    assert as_conn("127.0.0.1:5 -> 127.0.0.1:6").four_tuple == want
    assert as_conn(("127.0.0.1", 5, "127.0.0.1", 6)).four_tuple == want
