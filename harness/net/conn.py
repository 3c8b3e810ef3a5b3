"""Per-connection network faults: black-hole or reset ONE TCP connection, leave every other one alone.

The half-open path the field hits most: a load balancer silently drops one idle flow, so the
EXISTING connection is black-holed while NEW connections (new 4-tuples) get through. Toxiproxy cannot
express it (a toxic applies to every connection of a proxy, new ones included; toxiproxy issue #244),
so this module does it in the kernel's packet filter, matched on the connection's 4-tuple:

    faults = ConnectionFaults(history)
    conn = faults.connection_of(driver, fake_port)        # the SDK's own socket to that port
    with faults.blackhole(conn):                           # DROP both directions of that 4-tuple
        ...                                                # new connections to fake_port still work
    with faults.blackhole(conn, stream="upstream"):        # DROP only what the client (SDK) sends
        ...
    faults.reset(conn)                                     # one real RST (ss -K), now

Mechanism (``blackhole``): a dedicated iptables chain ``DTC<pid>-<n>`` (the pid keeps parallel
pytest-xdist workers apart) holds one ``DROP`` rule per dropped direction of the 4-tuple
(``-p tcp -s A --sport a -d B --dport b``; ``stream`` "both" (default), "upstream" = client -> server
only, "downstream" = server -> client only), and is jumped to from the ``INPUT`` chain of the filter
table. Loopback packets traverse OUTPUT on send and INPUT on delivery; dropping them at INPUT models a
middlebox drop: the sender's send() succeeds (data is queued, TCP retransmits), nothing arrives, no
error is reported to either end, and no RST or FIN is ever sent. ``-w`` waits for the xtables lock, so
parallel workers do not fail on each other's updates. When the scope ends -- normally, on an
exception, on Ctrl-C -- the jump and the chain are removed (and an ``atexit`` hook removes whatever a
killed scope left behind; ``remove_stale_chains()`` removes chains of dead pids). The chain's packet
counters are read before removal and recorded as ``dropped_packets`` (evidence that the rule matched).

Measured on Linux loopback (tests/net/test_conn.py prints the numbers):
- during the fault the black-holed connection delivers nothing in either direction, while a new
  connection to the same listening port connects and exchanges data at once;
- the connection is NOT closed by the fault or by its removal: TCP keeps retransmitting with
  exponential RTO backoff (loopback RTO min 200 ms: retransmits at ~0.2, 0.6, 1.4, 3.0, 6.2 s ... after
  the first drop), so after removal the queued bytes arrive at the NEXT retransmission, i.e. up to
  about the time the fault lasted later (for a 2 s hold we measured ~0.3-1.3 s). This is "stall then
  resume", the opposite of Toxiproxy's black hole ("stall then drop"). An idle connection with nothing
  to retransmit resumes at once.
- one direction only (``stream="upstream"`` or ``"downstream"``): the dropped direction's bytes never
  arrive while the other direction's do, at once. The dropped direction carries that end's ACKs too, so
  the other end's sender never hears that its bytes arrived and keeps retransmitting them (the receiver
  discards the duplicates): the asymmetric path of a one-way middlebox failure.

History vocabulary (source NETWORK): the one written by harness/net/recorder.py for link faults too
(same events, same fault_id counter). A connection fault's fields: fault, fault_id, scope "connection",
type ("iptables_drop"), stream ("both", "upstream" or "downstream"), four_tuple, local, local_port, peer, peer_port, chain,
attributes; ``fault_end`` adds ``dropped_packets``. ``reset`` records one ``tcp_reset`` (scope "connection").

Needs root (CAP_NET_ADMIN) and iptables (``apt-get install -y iptables``); ``ConnFaultUnavailable``
names whatever is missing. ``reset`` needs ``ss`` and a kernel with CONFIG_INET_DIAG_DESTROY
(harness/net/sockets.py).
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import re
import shutil
import subprocess
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from harness.history import History
from harness.net import sockets as tcp_sockets
from harness.net.recorder import FaultRecorder, next_fault_id
from harness.net.sockets import TcpSocket

IPTABLES_TIMEOUT_S = 10.0
CHAIN_PREFIX = "DTC"
HOOK_CHAIN = "INPUT"
INSTALL_HINT = "install it with `apt-get install -y iptables` (Debian/Ubuntu) and run as root"
# Which directions of a connection ``blackhole`` drops, named from its client ("local") end, as the link
# faults name them (harness/net/link.py): upstream = client -> server.
STREAMS = ("both", "upstream", "downstream")
_live_chains: set[tuple[str, str]] = set()  # (tool, chain) created by this process and not yet removed
_live_lock = threading.Lock()


class ConnFaultUnavailable(RuntimeError):
    """A per-connection fault cannot be applied: iptables missing, not root, or the kernel refused."""


# -- which connection ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Conn:
    """One TCP connection seen from its client ("local") end."""

    local: str
    local_port: int
    peer: str
    peer_port: int

    @property
    def four_tuple(self) -> str:
        return f"{self.local}:{self.local_port} -> {self.peer}:{self.peer_port}"

    @property
    def ipv6(self) -> bool:
        return ipaddress.ip_address(self.local).version == 6


def _split(addr: str) -> tuple[str, int]:
    host, port = str(addr).rsplit(":", 1)
    return host.strip("[]"), int(port)


def as_conn(c: Any) -> Conn:
    """Accepts a Conn, a ``TcpSocket``, a driver ``connections()`` row ({"local", "remote"}),
    ``(local_port, remote_port)`` (loopback 127.0.0.1 both ends), ``(local, local_port, peer, peer_port)``
    or the string ``"a:p -> b:q"``."""
    if isinstance(c, Conn):
        return c
    if isinstance(c, TcpSocket):
        return Conn(c.local, c.local_port, c.peer, c.peer_port)
    if isinstance(c, dict):
        (lh, lp), (ph, pp) = _split(c["local"]), _split(c.get("remote", c.get("peer")))
        return Conn(lh, lp, ph, pp)
    if isinstance(c, str) and "->" in c:
        a, b = (s.strip() for s in c.split("->"))
        (lh, lp), (ph, pp) = _split(a), _split(b)
        return Conn(lh, lp, ph, pp)
    if isinstance(c, (tuple, list)):
        if len(c) == 2:
            return Conn("127.0.0.1", int(c[0]), "127.0.0.1", int(c[1]))
        if len(c) == 4:
            return Conn(str(c[0]), int(c[1]), str(c[2]), int(c[3]))
    raise TypeError(f"cannot make a TCP connection out of {c!r}: give a 4-tuple, (local_port, remote_port), "
                    "a TcpSocket or a driver connections() row")


def established_to(process: Any, port: int) -> list[Conn]:
    """``sockets.established_to`` (the one answer to "which connections does the SDK have to port P")
    as ``Conn``s, ready for the faults below."""
    return [as_conn(s) for s in tcp_sockets.established_to(process, port)]


# -- the iptables plumbing ---------------------------------------------------------------------------
def _tool(ipv6: bool) -> str:
    name = "ip6tables" if ipv6 else "iptables"
    path = shutil.which(name)
    if path is None:
        raise ConnFaultUnavailable(f"'{name}' is not on PATH: per-connection faults need it; {INSTALL_HINT}")
    if os.geteuid() != 0:
        raise ConnFaultUnavailable(f"per-connection faults change the packet filter: they need root "
                                   f"(CAP_NET_ADMIN); running as uid {os.geteuid()}")
    return path


def _run(tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([tool, "-w", "5", *args], capture_output=True, text=True, timeout=IPTABLES_TIMEOUT_S)
    if check and proc.returncode != 0:
        raise ConnFaultUnavailable(f"{os.path.basename(tool)} {' '.join(args)} failed (exit {proc.returncode}): "
                                   f"{proc.stderr.strip()} -- needs root (CAP_NET_ADMIN) and the kernel's "
                                   "netfilter (nf_tables or x_tables) support")
    return proc


def _remove_chain(tool: str, chain: str) -> None:
    """Remove the jump(s) to ``chain`` and the chain itself; tolerant of either being gone already."""
    for _ in range(10):  # every jump, in case one was added twice
        if _run(tool, "-D", HOOK_CHAIN, "-j", chain, check=False).returncode != 0:
            break
    _run(tool, "-F", chain, check=False)
    proc = _run(tool, "-X", chain, check=False)
    if proc.returncode != 0 and chain in list_chains(tool):
        raise ConnFaultUnavailable(f"could not delete chain {chain}: {proc.stderr.strip()}")
    with _live_lock:
        _live_chains.discard((tool, chain))


def list_chains(tool: str | None = None) -> list[str]:
    """Names of the chains this module's prefix owns, in any process (from ``iptables -S``)."""
    tool = tool or _tool(False)
    out = _run(tool, "-S", check=False).stdout
    return sorted({m.group(1) for m in re.finditer(rf"^-N ({CHAIN_PREFIX}\d+-\d+)$", out, re.M)})


def remove_stale_chains() -> list[str]:
    """Remove chains left by processes that no longer exist (a SIGKILLed worker). Returns their names."""
    removed = []
    for ipv6 in (False, True):
        try:
            tool = _tool(ipv6)
        except ConnFaultUnavailable:
            continue
        for chain in list_chains(tool):
            pid = int(chain[len(CHAIN_PREFIX):].split("-")[0])
            if pid != os.getpid() and not os.path.exists(f"/proc/{pid}"):
                _remove_chain(tool, chain)
                removed.append(chain)
    return removed


@atexit.register
def _remove_all_live() -> None:
    with _live_lock:
        live = list(_live_chains)
    for tool, chain in live:
        try:
            _remove_chain(tool, chain)
        except Exception:
            pass


def _counters(tool: str, chain: str) -> int:
    out = _run(tool, "-L", chain, "-v", "-x", "-n", check=False).stdout
    total = 0
    for line in out.splitlines()[2:]:
        parts = line.split()
        if parts and parts[0].isdigit():
            total += int(parts[0])
    return total


# -- the faults --------------------------------------------------------------------------------------
@dataclass
class ConnFault:
    """A per-connection fault in force (yielded by ``blackhole``)."""

    name: str
    fault_id: int
    type: str
    conn: Conn
    chain: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    stream: str = "both"  # which directions are dropped (STREAMS)

    def describe(self) -> dict[str, Any]:
        c = self.conn
        return {"fault": self.name, "fault_id": self.fault_id, "type": self.type, "stream": self.stream,
                "four_tuple": c.four_tuple, "local": c.local, "local_port": c.local_port, "peer": c.peer,
                "peer_port": c.peer_port, "chain": self.chain, "attributes": self.attributes,
                "scope": "connection"}


class ConnectionFaults:
    """Scoped faults on single TCP connections, recorded into ``history`` (source NETWORK)."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.recorder = FaultRecorder(history)

    # -- finding the connection -------------------------------------------------------------------
    def connection_of(self, process: Any, port: int) -> Conn:
        """The ONE established connection from ``process`` (a driver, pid or Popen) to ``port``."""
        conns = established_to(process, port)
        if len(conns) != 1:
            raise LookupError(f"expected one established connection from {process!r} to port {port}, "
                              f"found {[c.four_tuple for c in conns] or 'none'}")
        return conns[0]

    @staticmethod
    def check_available() -> None:
        """Raise ConnFaultUnavailable now (naming what is missing) instead of in the middle of a test."""
        tool = _tool(False)
        _run(tool, "-S", HOOK_CHAIN)

    # -- black hole -------------------------------------------------------------------------------
    def blackhole(self, conn: Any, *, stream: str = "both",
                  fault: str = "conn_blackhole") -> AbstractContextManager[ConnFault]:
        """Drop every packet of this ONE connection for the ``with`` body: both directions, or with
        ``stream="upstream"`` only what its client ("local") end sends, ``"downstream"`` only what it
        receives.

        Other connections (including new ones to the same port) are untouched. Nothing is closed:
        when the scope ends the connection resumes at TCP's next retransmission (module docstring)."""
        if stream not in STREAMS:
            raise ValueError(f"stream must be one of {', '.join(STREAMS)} (upstream = client -> server), "
                             f"not {stream!r}")
        c = as_conn(conn)
        tool = _tool(c.ipv6)
        f = ConnFault(fault, next_fault_id(), "iptables_drop", c, stream=stream)
        f.chain = f"{CHAIN_PREFIX}{os.getpid()}-{f.fault_id}"
        up = (c.local, c.local_port, c.peer, c.peer_port)
        down = (c.peer, c.peer_port, c.local, c.local_port)
        directions = {"both": (up, down), "upstream": (up,), "downstream": (down,)}[stream]

        def apply() -> None:
            with _live_lock:
                _live_chains.add((tool, f.chain))
            try:
                _run(tool, "-N", f.chain)
                for (sa, sp, da, dp) in directions:
                    _run(tool, "-A", f.chain, "-p", "tcp", "-s", sa, "--sport", str(sp), "-d", da,
                         "--dport", str(dp), "-j", "DROP")
                _run(tool, "-I", HOOK_CHAIN, "1", "-j", f.chain)
            except BaseException:
                try:
                    _remove_chain(tool, f.chain)  # a half-built chain must not outlive the failed call
                except Exception:
                    pass
                raise

        def clear() -> dict[str, Any]:
            dropped = _counters(tool, f.chain)
            _remove_chain(tool, f.chain)
            return {"cleared_by": "removed", "dropped_packets": dropped}

        return self.recorder.fault(f, apply=apply, clear=clear, closes_connections=False)

    # -- one real RST -----------------------------------------------------------------------------
    def reset(self, conn: Any, *, side: str = "server") -> TcpSocket:
        """Reset this ONE connection now with a real RST (``ss -K``).

        ``side="server"`` destroys the server's socket, so the client (the SDK) receives the RST;
        ``side="client"`` destroys the client's own socket (the server receives the RST). Records one
        ``tcp_reset`` event. Raises ``tcp_sockets.SocketKillUnavailable`` (root, CONFIG_INET_DIAG_DESTROY)
        or ``LookupError`` if the connection is not established."""
        c = as_conn(conn)
        if side not in ("server", "client"):
            raise ValueError(f"side must be 'server' or 'client', not {side!r}")
        requested = time.monotonic()
        local_port, peer_port = (c.peer_port, c.local_port) if side == "server" else (c.local_port, c.peer_port)
        killed = tcp_sockets.kill(local_port, peer_port)
        if not killed:
            raise LookupError(f"no established connection {c.four_tuple} to reset")
        s = killed[0]
        self.recorder.tcp_reset(s, requested_t=requested, side=side, scope="connection", connection=c.four_tuple)
        return s
