"""Packet evidence that a real TCP RST (not a FIN) travelled on loopback.

A socket error in the SDK says what the SDK *concluded*; this says what the wire carried. As
root, an AF_PACKET raw socket on ``lo`` sees every loopback segment; each TCP segment with the
RST flag whose source or destination port is in ``ports`` becomes a ``tcp_rst_seen`` event
(NETWORK source) with ``src``, ``src_port``, ``dst``, ``dst_port``, ``flags``. Only IPv4 and
IPv6 without extension headers are parsed: that is all loopback TCP produces.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterable

from harness.history import NETWORK, History

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # on lo each segment is seen twice (out and in); keep only the delivery
ETH_HLEN = 14
TCP_RST = 0x04


class RstSnifferUnavailable(RuntimeError):
    """The raw packet socket could not be opened (needs root / CAP_NET_RAW, Linux AF_PACKET)."""


def parse_tcp_rst(frame: bytes) -> tuple[str, int, str, int, int] | None:
    """(src, src_port, dst, dst_port, flags) if ``frame`` (Ethernet-framed) is a TCP RST, else None."""
    if len(frame) < ETH_HLEN + 20:
        return None
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    ip = ETH_HLEN
    if ethertype == 0x0800:
        if frame[ip + 9] != socket.IPPROTO_TCP:
            return None
        tcp = ip + (frame[ip] & 0x0F) * 4
        src, dst = socket.inet_ntop(socket.AF_INET, frame[ip + 12:ip + 16]), \
            socket.inet_ntop(socket.AF_INET, frame[ip + 16:ip + 20])
    elif ethertype == 0x86DD:
        if len(frame) < ip + 40 or frame[ip + 6] != socket.IPPROTO_TCP:
            return None
        tcp = ip + 40
        src, dst = socket.inet_ntop(socket.AF_INET6, frame[ip + 8:ip + 24]), \
            socket.inet_ntop(socket.AF_INET6, frame[ip + 24:ip + 40])
    else:
        return None
    if len(frame) < tcp + 14:
        return None
    sport, dport = struct.unpack_from("!HH", frame, tcp)
    flags = frame[tcp + 13]
    if not flags & TCP_RST:
        return None
    return src, sport, dst, dport, flags


class RstSniffer:
    """Record every RST segment to or from ``ports`` on ``interface`` into ``history``.

    ``with RstSniffer(history, ports={proxy_port}): ...`` — the socket is open when ``__enter__``
    returns (no segment after that is missed) and is drained before ``__exit__`` returns."""

    def __init__(self, history: History, ports: Iterable[int], interface: str = "lo") -> None:
        self.history = history
        self.ports = frozenset(int(p) for p in ports)
        self.interface = interface
        self.seen = 0
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> RstSniffer:
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        except (PermissionError, AttributeError, OSError) as exc:
            raise RstSnifferUnavailable(
                f"cannot open an AF_PACKET raw socket ({exc}); the RST sniffer needs Linux and root "
                "(or CAP_NET_RAW) to watch loopback traffic") from exc
        try:
            sock.bind((self.interface, 0))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sock.settimeout(0.1)  # so the thread notices stop() promptly
        except OSError as exc:
            sock.close()
            raise RstSnifferUnavailable(f"cannot bind the sniffer to {self.interface!r}: {exc}") from exc
        self._sock = sock
        self._thread = threading.Thread(target=self._run, name="rst-sniffer", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._stop.is_set():
            try:
                frame, addr = sock.recvfrom(65535)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return  # socket closed under us by stop()
            self._handle(frame, addr, time.monotonic())
        # Drain what arrived before stop(): the RST that made the test stop may still be queued.
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            while True:
                frame, addr = sock.recvfrom(65535)
                self._handle(frame, addr, time.monotonic())

    def _handle(self, frame: bytes, addr: tuple, t: float) -> None:
        if len(addr) > 2 and addr[2] == PACKET_OUTGOING:
            return
        rst = parse_tcp_rst(frame)
        if rst is None:
            return
        src, sport, dst, dport, flags = rst
        if sport in self.ports or dport in self.ports:
            self.seen += 1
            self.history.record(NETWORK, "tcp_rst_seen", t=t, src=src, src_port=sport, dst=dst,
                                dst_port=dport, flags=flags)

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> RstSniffer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
