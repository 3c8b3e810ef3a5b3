"""Established TCP sockets on this host, via iproute2's ``ss``: list them, find a process's, kill one.

``ss -K`` asks the kernel (sock_diag, ``CONFIG_INET_DIAG_DESTROY``) to destroy a socket; the kernel
then sends a real RST to the peer. That is the only way to reset *one chosen* established
connection from outside both processes (Toxiproxy's ``reset_peer`` cannot: see link.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SS_TIMEOUT_S = 5.0
_PID = re.compile(r"pid=(\d+)")


class SocketKillUnavailable(RuntimeError):
    """``ss -K`` could not destroy the socket: needs iproute2's ss, root (CAP_NET_ADMIN) and a kernel
    with CONFIG_INET_DIAG_DESTROY."""


@dataclass(frozen=True)
class TcpSocket:
    local: str
    local_port: int
    peer: str
    peer_port: int
    pids: tuple[int, ...] = ()

    @property
    def four_tuple(self) -> str:
        return f"{self.local}:{self.local_port} -> {self.peer}:{self.peer_port}"


def _split(addr: str) -> tuple[str, int]:
    host, port = addr.rsplit(":", 1)
    return host.strip("[]"), int(port)


def _ss(*args: str) -> str:
    ss = shutil.which("ss")
    if ss is None:
        raise SocketKillUnavailable("'ss' (iproute2) is not on PATH; install iproute2")
    proc = subprocess.run([ss, *args], capture_output=True, text=True, timeout=SS_TIMEOUT_S)
    if proc.returncode != 0:
        raise SocketKillUnavailable(f"ss {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def _parse(out: str) -> list[TcpSocket]:
    socks = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        (lh, lp), (ph, pp) = _split(parts[2]), _split(parts[3])
        socks.append(TcpSocket(lh, lp, ph, pp, tuple(int(p) for p in _PID.findall(line))))
    return socks


def _filter(local_port: int | None, peer_port: int | None) -> list[str]:
    terms = ([f"sport = :{local_port}"] if local_port else []) + ([f"dport = :{peer_port}"] if peer_port else [])
    return ["( " + " and ".join(terms) + " )"] if terms else []


def established(local_port: int | None = None, peer_port: int | None = None) -> list[TcpSocket]:
    """Established TCP sockets (with owning pids when visible) filtered by local and/or peer port."""
    return _parse(_ss("-tnHp", "state", "established", *_filter(local_port, peer_port)))


def descendants(pid: int) -> set[int]:
    """``pid`` and every process below it (an SDK driver may run the SDK in a child process)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        if p not in out:
            out.add(p)
            todo.extend(children.get(p, ()))
    return out


def connections_of(pid: int, peer_port: int) -> list[TcpSocket]:
    """Established sockets owned by ``pid`` (or its descendants) whose peer port is ``peer_port``."""
    pids = descendants(pid)
    return [s for s in established(peer_port=peer_port) if pids.intersection(s.pids)]


def kill(local_port: int, peer_port: int) -> list[TcpSocket]:
    """Destroy the established socket(s) with this local and peer port; the peer gets an RST.

    Returns what was destroyed. Raises ``SocketKillUnavailable`` if a matching socket exists but
    the kernel refused (``ss -K`` prints nothing and exits 0 when not permitted)."""
    before = established(local_port, peer_port)
    if not before:
        return []
    _ss("-K", "-tnH", "state", "established", *_filter(local_port, peer_port))
    if established(local_port, peer_port):
        raise SocketKillUnavailable(
            f"ss -K did not destroy {before[0].four_tuple}: it needs root (CAP_NET_ADMIN; running as "
            f"uid {os.geteuid()}) and a kernel with CONFIG_INET_DIAG_DESTROY (sock_diag destroy support)")
    return before


def established_to(process: Any, port: int) -> list[TcpSocket]:
    """``process``'s ESTABLISHED TCP connections whose remote port is ``port``: the one place that
    answers "which client ports does the SDK have to port P".

    ``process`` is an SDK driver (its ``connections()`` reports the SDK process's own sockets, see
    harness/drivers/PROTOCOL.md), else anything with a ``pid`` (a Popen), else a pid; for a pid,
    ``ss`` finds the sockets of it and its descendants."""
    if callable(getattr(process, "connections", None)):
        out = []
        for row in process.connections():
            if row.get("state", "ESTABLISHED") != "ESTABLISHED":
                continue
            (lh, lp), (ph, pp) = _split(str(row["local"])), _split(str(row.get("remote", row.get("peer"))))
            if pp == int(port):
                out.append(TcpSocket(lh, lp, ph, pp))
        return out
    pid = process if isinstance(process, int) else getattr(process, "pid", None)
    if not isinstance(pid, int):
        raise TypeError(f"established_to needs a driver, a pid or an object with .pid, got {process!r}")
    return connections_of(pid, int(port))


def client_ports(process: Any, port: int) -> list[int]:
    """The local (client-side) ports of ``established_to(process, port)``, sorted."""
    return sorted(s.local_port for s in established_to(process, port))
