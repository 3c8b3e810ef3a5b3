"""The one writer of network faults into the History: fault ids, fault windows and ``tcp_reset``.

Why it exists: faults on the whole link (link.py: Toxiproxy toxics, ``down()``) and faults on one
connection (conn.py: iptables on a 4-tuple, ``ss -K``) are applied very differently but must land
in the History as ONE vocabulary, because checkers and the timeline (harness/report/timeline/
pairs ``fault_start``/``fault_end`` by ``fault_id``) read them without knowing who wrote them. So
the ids come from one process-wide counter (two faults in one test never share an id, whichever
module applied them), the window is recorded by one context manager, and a reset is one event.

Vocabulary (source NETWORK):

- ``fault_start``: the fault's ``describe()`` fields (at least fault, fault_id, type, stream,
  attributes, scope: "link" or "connection"), ``closes_connections`` and ``requested_t`` (when
  applying began; ``t`` is when it returned, i.e. the fault is in force).
- ``fault_update``: the same fields after a change mid-way (``Fault.update`` in link.py).
- ``fault_end``: the same fields plus ``cleared_by`` ("removed", "already_removed" when a Toxiproxy
  reset or proxy deletion got there first, "enabled" for ``down()``) and whatever the clearing
  reported (``dropped_packets`` for iptables). Written whenever the scope ends, the body's exception
  included, once the fault is really cleared.
- ``fault_clear_failed``: clearing raised (``error`` = its repr); the fault may still be in force,
  so there is no ``fault_end`` and the timeline draws the band to the end of the history.
- ``tcp_reset``: one instantaneous event (no window) per real RST: fault "tcp_reset", fault_id,
  type "tcp_reset", stream "both", scope, proxy (None for a connection fault), attributes
  {"side": "server" | "client"} (whose socket was destroyed: "server" = the SDK receives the RST),
  client_port, four_tuple (the connection as seen from its client end, as in conn.py's fault
  events), local/local_port/peer/peer_port and destroyed (the socket ``ss -K`` destroyed),
  requested_t (the RST leaves while ``ss -K`` runs, before ``t``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from harness.history import NETWORK, Event, History
from harness.net.sockets import TcpSocket

_ids = itertools.count(1)  # process-wide: link and connection faults draw from the same counter


def next_fault_id() -> int:
    """A fault id unique in this process (so unique in every History it writes)."""
    return next(_ids)


class Describable(Protocol):
    fault_id: int

    def describe(self) -> dict[str, Any]: ...


F = TypeVar("F", bound=Describable)


class FaultRecorder:
    """Writes one History's network fault events; the fault modules never call ``history.record``."""

    def __init__(self, history: History) -> None:
        self.history = history

    def start(self, f: Describable, *, requested_t: float, closes_connections: bool) -> Event:
        return self.history.record(NETWORK, "fault_start", requested_t=requested_t,
                                   closes_connections=closes_connections, **f.describe())

    def update(self, f: Describable, *, requested_t: float) -> Event:
        return self.history.record(NETWORK, "fault_update", requested_t=requested_t, **f.describe())

    def end(self, f: Describable, *, requested_t: float, closes_connections: bool, cleared_by: str,
            **cleared: Any) -> Event:
        return self.history.record(NETWORK, "fault_end", requested_t=requested_t, cleared_by=cleared_by,
                                   closes_connections=closes_connections, **cleared, **f.describe())

    def clear_failed(self, f: Describable, exc: BaseException) -> Event:
        return self.history.record(NETWORK, "fault_clear_failed", error=repr(exc), **f.describe())

    @contextmanager
    def fault(self, f: F, *, apply: Callable[[], None], clear: Callable[[], dict[str, Any]],
              closes_connections: bool) -> Iterator[F]:
        """Apply ``f`` for the ``with`` body, recording its window.

        ``apply`` puts the fault in force and must undo its own partial work if it raises (then
        nothing is recorded). ``clear`` removes it and returns the ``fault_end`` fields it knows
        (``cleared_by`` at least). The end is recorded however the body ends; if ``clear`` raises,
        ``fault_clear_failed`` is recorded instead and the exception propagates."""
        requested = time.monotonic()
        apply()
        self.start(f, requested_t=requested, closes_connections=closes_connections)
        try:
            yield f
        finally:
            requested = time.monotonic()
            try:
                cleared = clear()
            except BaseException as exc:
                self.clear_failed(f, exc)
                raise
            self.end(f, requested_t=requested, closes_connections=closes_connections, **cleared)

    def tcp_reset(self, destroyed: TcpSocket, *, requested_t: float, side: str, scope: str,
                  proxy: str | None = None, connection: str | None = None) -> Event:
        """Record one real RST: ``destroyed`` is the socket ``ss -K`` destroyed, ``side`` whose socket
        that was ("server": the client receives the RST; "client": the server does), ``connection`` the
        4-tuple seen from the client end (derived from ``destroyed`` and ``side`` if not given)."""
        if side not in ("server", "client"):
            raise ValueError(f"side must be 'server' or 'client', not {side!r}")
        d = destroyed
        client_port = d.peer_port if side == "server" else d.local_port
        if connection is None:
            connection = d.four_tuple if side == "client" else f"{d.peer}:{d.peer_port} -> {d.local}:{d.local_port}"
        return self.history.record(
            NETWORK, "tcp_reset", requested_t=requested_t, fault="tcp_reset", fault_id=next_fault_id(),
            type="tcp_reset", stream="both", scope=scope, proxy=proxy, attributes={"side": side},
            client_port=client_port, four_tuple=connection, local=destroyed.local,
            local_port=destroyed.local_port, peer=destroyed.peer, peer_port=destroyed.peer_port,
            destroyed=destroyed.four_tuple)
