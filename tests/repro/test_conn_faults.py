"""The per-connection faults of scenario files, conn_blackhole and conn_reset (harness/repro/steps.py over
harness/net/conn.py): they hit the connections the SDK has when the step begins and nothing opened
later, and the iptables rules never outlive the step, its scenario, or an error. First on real loopback
sockets with a stand-in for the driver (no SDK), then in real scenario runs of the Python SDK, where a
broken build must fail the file's checks. Needs root and iptables (skipped, naming what is missing,
without them)."""

from __future__ import annotations

import os
import socket
import textwrap
from types import SimpleNamespace

import pytest

from harness.history import NETWORK, History
from harness.net.conn import ConnectionFaults, ConnFaultUnavailable, list_chains
from harness.repro import steps
from harness.repro.schema import parse_scenario
from tests.repro import real_runs

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


@pytest.fixture
def root_iptables():
    try:
        ConnectionFaults.check_available()
    except ConnFaultUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def server():
    """A listening socket standing in for the proxy, and the server ends of what it accepted."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    lsock.settimeout(2.0)
    accepted: list[socket.socket] = []
    yield lsock, accepted
    for s in accepted:
        s.close()
    lsock.close()


def _connect(lsock: socket.socket, accepted: list[socket.socket]) -> socket.socket:
    c = socket.create_connection(lsock.getsockname(), timeout=2.0)
    accepted.append(lsock.accept()[0])
    accepted[-1].settimeout(0.5)
    return c


def _run_with(clients: list[socket.socket], lsock: socket.socket) -> SimpleNamespace:
    """What the steps use of a runner.ScenarioRun: the history, the link's port, the driver's
    connections() (the SDK process's sockets, as harness/drivers/PROTOCOL.md reports them)."""
    port = lsock.getsockname()[1]

    def connections(timeout: float | None = None) -> list[dict]:
        return [{"local": "%s:%d" % c.getsockname(), "remote": "%s:%d" % c.getpeername(), "state": "ESTABLISHED"}
                for c in clients if c.fileno() != -1]
    return SimpleNamespace(history=History("t"), link=SimpleNamespace(listen_port=port, address=f"127.0.0.1:{port}"),
                           driver=SimpleNamespace(connections=connections))


def _step(text: str):
    raw = tomllib.loads('title = "t"\nsource = ["x"]\nexpected = "pass"\n' + textwrap.dedent(text)
                       + '[[expect]]\ncheck = "no_request_after"\nafter = "start"\n')
    return parse_scenario(raw).steps[0]


def _chains() -> list[str]:
    return [c for c in list_chains() if c.startswith(f"DTC{os.getpid()}-")]


def test_conn_blackhole_silences_the_current_connection_only_and_removes_its_rules(root_iptables, server):
    lsock, accepted = server
    old = _connect(lsock, accepted)
    run = _run_with([old], lsock)
    st = _step('[[step]]\nat = 1\nfault = "conn_blackhole"\nfor = 2\n')
    undo = steps.conn_blackhole(run, st, 0)
    try:
        assert len(_chains()) == 1
        old.sendall(b"lost")
        with pytest.raises(socket.timeout):  # nothing arrives on the black-holed connection...
            accepted[0].recv(16)
        new = _connect(lsock, accepted)  # ...while a new one to the same port works at once
        new.sendall(b"fresh")
        assert accepted[1].recv(16) == b"fresh"
        new.close()
    finally:
        undo()
    assert _chains() == []
    ends = run.history.select(NETWORK, "fault_end")
    assert len(ends) == 1 and ends[0].get("dropped_packets", 0) >= 1 and ends[0].get("scope") == "connection"
    accepted[0].settimeout(5.0)
    assert accepted[0].recv(16) == b"lost"  # not closed: the queued bytes arrive at the next retransmission
    old.close()


def test_conn_blackhole_rules_are_removed_when_the_scenario_errors(root_iptables, server):
    lsock, accepted = server
    old = _connect(lsock, accepted)
    run = _run_with([old], lsock)
    st = _step('[[step]]\nat = 1\nfault = "conn_blackhole"\n')  # no `for`: until the scenario ends
    with pytest.raises(RuntimeError):
        undo = steps.conn_blackhole(run, st, 0)
        try:
            raise RuntimeError("the scenario failed mid-way")
        finally:
            undo()  # what runner._clear_all does on every exit (ExitStack callback)
    assert _chains() == []
    old.close()


def test_conn_faults_need_a_connection_to_hit(root_iptables, server):
    lsock, _ = server
    run = _run_with([], lsock)
    for text in ('[[step]]\nat = 1\nfault = "conn_blackhole"\n', '[[step]]\nat = 1\nfault = "conn_reset"\n'):
        with pytest.raises(RuntimeError, match="no established connection to the proxy"):
            getattr(steps, _step(text).name)(run, _step(text), 0)
    assert _chains() == []


@pytest.mark.parametrize("side", ["server", "client"])
def test_conn_reset_resets_the_current_connection_only(root_iptables, server, side):
    lsock, accepted = server
    old = _connect(lsock, accepted)
    run = _run_with([old], lsock)
    st = _step(f'[[step]]\nat = 1\nfault = "conn_reset"\nside = "{side}"\n')
    steps.conn_reset(run, st, 0)
    if side == "server":  # the client (the SDK) receives the RST
        old.settimeout(2.0)
        with pytest.raises(ConnectionResetError):
            old.recv(16)
    else:  # the client's own socket is gone; the server end receives the RST
        with pytest.raises(ConnectionResetError):
            accepted[0].recv(16)
    [ev] = run.history.select(NETWORK, "tcp_reset")
    assert ev.get("scope") == "connection" and ev.get("attributes") == {"side": side}
    new = _connect(lsock, accepted)  # connections opened later are untouched
    new.sendall(b"ok")
    assert accepted[1].recv(16) == b"ok"
    new.close()
    old.close()


# -- real scenario runs of the Python SDK -----------------------------------------------------------
REAL_CASES = [
    # (scenario file, mutant or None, the check that must fail (None: every check passes))
    ("conn_blackhole_recreate.toml", None, None),
    ("conn_blackhole_recreate.toml", "conn_reuse_channel", "new_peer_after_recreation"),
    ("conn_reset_storm.toml", None, None),
    ("conn_reset_storm.toml", "no_reconnect", "working_stream_within"),
]


@pytest.mark.slow
@pytest.mark.parametrize("scenario,mutant,must_fail", REAL_CASES,
                         ids=[f"{s[:-5]}-{m or 'release'}" for s, m, _ in REAL_CASES])
def test_real_run(scenario, mutant, must_fail, tmp_path):
    real_runs.assert_verdicts(scenario, mutant, must_fail, tmp_path)
