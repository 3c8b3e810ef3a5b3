"""Network faults on one Toxiproxy proxy, as scoped context managers that always restore.

    link = FaultyLink(client, proxy, history)
    with link.blackhole(stream="both"):
        ...                       # the SDK's connection is silent
    link.tcp_reset(client_port)   # one real RST, now

Every fault is written into the History (source NETWORK) by harness/net/recorder.py, which owns
the vocabulary (``fault_start``/``fault_update``/``fault_end``/``fault_clear_failed``, ``tcp_reset``)
and the fault ids, so fault windows and SDK events share one timeline. A link fault's fields:
fault, fault_id, scope "link", proxy, type, stream, attributes, toxicity, toxics.

Toxiproxy facts these rely on (Shopify/toxiproxy v2.12.0; measured on Linux loopback where noted):

- Toxics live on the proxy: adding one affects every live connection *and* every new one. There
  is no per-connection toxic.
- ``reset_peer`` sends an RST only on connections *accepted while the toxic exists* (the
  server sets SO_LINGER 0 at link start). Measured: with the toxic added to an ESTABLISHED
  connection, the next downstream chunk made Toxiproxy close both sides with a **FIN** — the client's
  ``recv`` returned ``b""`` and the packet sniffer saw F, no R, to the client and to the upstream.
  A connection opened after the toxic was added got an **RST** (``ConnectionResetError``) on the
  first chunk, and so did its upstream side. Use ``tcp_reset`` to reset an established connection.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from typing import Any

from harness.history import History
from harness.net import sockets as tcp_sockets
from harness.net.recorder import FaultRecorder, next_fault_id
from harness.net.sockets import TcpSocket
from harness.net.toxiproxy_client import Client, Proxy, Toxic

STREAMS = ("upstream", "downstream")  # upstream = client->server bytes, downstream = server->client


def _streams(stream: str) -> tuple[str, ...]:
    if stream == "both":
        return STREAMS
    if stream not in STREAMS:
        raise ValueError(f"stream must be 'upstream', 'downstream' or 'both', not {stream!r}")
    return (stream,)


@dataclass
class Fault:
    """A fault in force; yielded by the context managers so a scenario can change it mid-way."""

    link: FaultyLink
    name: str
    fault_id: int
    type: str
    stream: str
    attributes: dict[str, Any]
    toxicity: float = 1.0
    toxics: list[Toxic] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {"fault": self.name, "fault_id": self.fault_id, "scope": "link", "proxy": self.link.name,
                "type": self.type, "stream": self.stream, "attributes": self.attributes, "toxicity": self.toxicity,
                "toxics": [t.name for t in self.toxics]}

    def update(self, **attributes: Any) -> None:
        """Change attributes in place (PATCH); live links re-run the toxic with the new values."""
        requested = time.monotonic()
        self.attributes = {**self.attributes, **attributes}
        self.toxics = [self.link.client.update_toxic(self.link.proxy, t.name, self.attributes)
                       for t in self.toxics]
        self.link.recorder.update(self, requested_t=requested)


class FaultyLink:
    """One proxy between the SDK and the fake, with Toxiproxy's toxics as scoped faults."""

    def __init__(self, client: Client, proxy: Proxy, history: History) -> None:
        self.client = client
        self.proxy = proxy
        self.history = history
        self.recorder = FaultRecorder(history)

    @property
    def name(self) -> str:
        return self.proxy.name

    @property
    def listen_port(self) -> int:
        return self.proxy.listen_port

    @property
    def address(self) -> str:
        """What the SDK connects to, "host:port"."""
        return self.proxy.listen

    @property
    def upstream(self) -> str:
        return self.proxy.upstream

    def __repr__(self) -> str:
        return f"FaultyLink({self.name}: {self.address} -> {self.upstream})"

    # -- the generic toxic scope -------------------------------------------------------------
    def toxic(self, type: str, *, stream: str = "downstream", attributes: dict[str, Any] | None = None,
              toxicity: float = 1.0, fault: str | None = None,
              closes_connections: bool = False) -> AbstractContextManager[Fault]:
        """Add a toxic (one per direction for ``stream="both"``) for the ``with`` body, then remove it."""
        streams = _streams(stream)
        f = Fault(self, fault or type, next_fault_id(), type, stream, dict(attributes or {}), toxicity)

        def apply() -> None:
            try:
                for s in streams:
                    f.toxics.append(self.client.add_toxic(self.proxy, type, s, f.attributes,
                                                          name=f"{f.name}-{s}-{f.fault_id}", toxicity=toxicity))
            except BaseException:
                with suppress(Exception):
                    self._remove(f)  # a half-applied "both" must not outlive the failed call
                raise

        def clear() -> dict[str, Any]:
            return {"cleared_by": "removed" if self._remove(f) else "already_removed"}

        return self.recorder.fault(f, apply=apply, clear=clear, closes_connections=closes_connections)

    def _remove(self, f: Fault) -> bool:
        removed = [self.client.remove_toxic(self.proxy, t.name) for t in f.toxics]
        return all(removed)

    # -- Toxiproxy's toxics, named as in its DSL ------------------------------------------------
    def blackhole(self, stream: str = "downstream") -> AbstractContextManager[Fault]:
        """Drop every byte in ``stream`` forever (``timeout`` toxic, timeout=0); nothing is closed.

        Clearing it CLOSES every connection the toxic was on (Toxiproxy's cleanup, so a stream
        that lost bytes cannot resume corrupted): a black hole ends as "stall then drop", never
        "stall then resume". New connections made during the fault are black-holed too."""
        return self.toxic("timeout", stream=stream, attributes={"timeout": 0}, fault="blackhole",
                          closes_connections=True)

    def timeout(self, timeout_ms: int, stream: str = "downstream") -> AbstractContextManager[Fault]:
        """Drop data and close after ``timeout_ms`` without an incoming chunk (the timer restarts on
        every chunk, so HTTP/2 PINGs keep a connection from ever closing). Clearing closes too."""
        return self.toxic("timeout", stream=stream, attributes={"timeout": int(timeout_ms)},
                          closes_connections=True)

    def latency(self, ms: int, jitter: int = 0, stream: str = "downstream") -> AbstractContextManager[Fault]:
        """Delay each chunk by ``ms`` ± ``jitter``; held chunks are flushed, not dropped, on clear."""
        return self.toxic("latency", stream=stream, attributes={"latency": int(ms), "jitter": int(jitter)})

    def bandwidth(self, rate_kbps: int, stream: str = "downstream") -> AbstractContextManager[Fault]:
        """Limit throughput to ``rate_kbps`` KB/s (1 KB = 1000 bytes)."""
        return self.toxic("bandwidth", stream=stream, attributes={"rate": int(rate_kbps)})

    def limit_data(self, bytes: int, stream: str = "downstream") -> AbstractContextManager[Fault]:
        """Forward ``bytes`` more bytes per connection (counted from connect or from now), then close it."""
        return self.toxic("limit_data", stream=stream, attributes={"bytes": int(bytes)},
                          closes_connections=True)

    def slow_close(self, delay_ms: int, stream: str = "downstream") -> AbstractContextManager[Fault]:
        """Hold a close (EOF) in ``stream`` for ``delay_ms`` before passing it on."""
        return self.toxic("slow_close", stream=stream, attributes={"delay": int(delay_ms)})

    def reset_peer(self, timeout_ms: int = 0, stream: str = "downstream") -> AbstractContextManager[Fault]:
        """On the next chunk in ``stream``, wait ``timeout_ms`` then close the connection.

        RST only for connections accepted while the toxic exists; an ESTABLISHED connection gets a
        FIN (measured, see the module docstring). For a real RST on an established connection use
        ``tcp_reset``."""
        return self.toxic("reset_peer", stream=stream, attributes={"timeout": int(timeout_ms)},
                          closes_connections=True)

    def down(self) -> AbstractContextManager[Fault]:
        """Disable the proxy: every connection is closed now and new ones are refused
        (ECONNREFUSED) until the scope ends and the proxy listens again on the same port."""
        f = Fault(self, "down", next_fault_id(), "down", "both", {})

        def clear() -> dict[str, Any]:
            self.client.set_enabled(self.proxy, True)
            return {"cleared_by": "enabled"}

        return self.recorder.fault(f, apply=lambda: self.client.set_enabled(self.proxy, False), clear=clear,
                                   closes_connections=True)

    # -- one real RST ----------------------------------------------------------------------------
    def tcp_reset(self, local_port: int) -> TcpSocket:
        """Reset the ONE established connection whose client side is ``local_port`` with a real RST.

        ``ss -K`` destroys the proxy's socket facing that client (local port = the proxy's listen
        port, peer port = ``local_port``); the kernel sends the client an RST and its next
        ``recv``/``send`` fails with ECONNRESET. Measured: Toxiproxy's read then fails and it closes
        the matching upstream connection with a FIN (the upstream server sees a clean EOF ~1 ms
        later), so the fake sees an orderly close, not a reset. Other connections are untouched.

        Records one ``tcp_reset`` event (instantaneous; no fault window) with the 4-tuple. Needs
        root (CAP_NET_ADMIN) and CONFIG_INET_DIAG_DESTROY; raises
        ``tcp_sockets.SocketKillUnavailable`` naming that, or ``LookupError`` if no such connection."""
        requested = time.monotonic()
        killed = tcp_sockets.kill(self.listen_port, int(local_port))
        if not killed:
            live = tcp_sockets.established(local_port=self.listen_port)
            raise LookupError(f"no established connection {self.address} <- client port {local_port}; "
                              f"connections on the proxy: {[s.four_tuple for s in live] or 'none'}")
        s = killed[0]
        self.recorder.tcp_reset(s, requested_t=requested, side="server", scope="link", proxy=self.name)
        return s

    def client_port_of(self, process: Any) -> int:
        """The client-side port of ``process``'s one established connection to this proxy.

        ``process`` is an SDK driver (its ``connections()`` reports the SDK process's own sockets,
        see harness/drivers/PROTOCOL.md), else anything with a ``pid`` (a Popen), else a pid; for a
        pid, ``ss`` finds the sockets of it and its descendants (``sockets.client_ports``). Raises
        ``LookupError`` unless there is exactly one such connection."""
        ports = tcp_sockets.client_ports(process, self.listen_port)
        if len(ports) != 1:
            raise LookupError(f"expected one connection from {_who(process)} to {self.address}, found client "
                              f"ports {ports or 'none'}")
        return ports[0]


def _who(process: Any) -> str:
    pid = process if isinstance(process, int) else getattr(process, "pid", "?")
    return f"driver pid {pid}" if callable(getattr(process, "connections", None)) else f"pid {pid}"
