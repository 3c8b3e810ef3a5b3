"""The control API: an HTTP/2 frame-level fault proxy between the SDK and the fake.

    with H2Proxy(history, upstream=fake.address) as proxy:      # the SDK dials proxy.address
        with proxy.withhold_pings():                             # scoped: always restored
            ...
        proxy.rst_stream("/TaskHubSidecarService/GetWorkItems", "NO_ERROR", after_response_headers=True)
        proxy.goaway("NO_ERROR", last_stream_id=1, debug_data=b"drain")

Plaintext h2c with prior knowledge (what gRPC speaks on loopback). Each accepted connection gets
its own upstream connection and relay thread (relay.py). ``stop()`` (and ``__exit__``, on
success, failure or Ctrl-C) closes the listener and every connection and joins every thread.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from harness.history import History
from harness.net.h2proxy.faults import (
    FaultState,
    Goaway,
    KeepaliveEnforcement,
    RstStream,
    StreamRule,
    WithholdPings,
)
from harness.net.h2proxy.frames import error_code
from harness.net.h2proxy.keepalive import KeepalivePolicy
from harness.net.h2proxy.recorder import H2Recorder
from harness.net.h2proxy.relay import Relay
from harness.net.recorder import FaultRecorder

_JOIN_S = 5.0
_GENTLE_S = 1.0  # a relay's own close drains its SDK socket for up to 0.5 s (relay._close_gently)
_POLL_S = 0.02


class H2Proxy:
    """HTTP/2 fault proxy listening on ``host:port`` (0 = any free port) in front of ``upstream``."""

    def __init__(self, history: History, upstream: str, *, host: str = "127.0.0.1", port: int = 0,
                 name: str = "h2proxy") -> None:
        up_host, _, up_port = upstream.rpartition(":")
        if not up_host or not up_port.isdigit():
            raise ValueError(f"upstream must be 'host:port' (e.g. fake.address), not {upstream!r}")
        self.history = history
        self.name = name
        self.host = host
        self.port = port
        self.upstream = (up_host, int(up_port))
        self.faults = FaultState()
        self._rec = H2Recorder(history, name)
        self._fault_rec = FaultRecorder(history)
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._relays: dict[int, Relay] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closing = False

    # -- lifecycle ---------------------------------------------------------------------------------
    @property
    def address(self) -> str:
        """Where the SDK should connect (``host:port``)."""
        return f"{self.host}:{self.port}"

    def start(self) -> int:
        """Listen and accept in a background thread; returns the bound port."""
        if self._listener is not None:
            raise RuntimeError("H2Proxy already started; one start() per proxy")
        lst = socket.socket()
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            lst.bind((self.host, self.port))
            lst.listen(64)
        except OSError as exc:
            lst.close()
            raise OSError(f"h2proxy cannot listen on {self.host}:{self.port}: {exc}; pass port=0 for a free port") from exc
        self._listener = lst
        self.port = lst.getsockname()[1]
        self._accept_thread = threading.Thread(target=self._accept_loop, name=f"{self.name}-accept", daemon=True)
        self._accept_thread.start()
        return self.port

    def stop(self) -> None:
        """Close the listener and every connection; join all threads. Idempotent."""
        self._closing = True
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux
            except OSError:
                pass
            self._listener.close()
        if self._accept_thread is not None:
            self._accept_thread.join(_JOIN_S)
        for r in self.relays():
            r.stop()
        for r in self.relays():
            r.thread.join(_GENTLE_S)
            if r.thread.is_alive():  # blocked writing to a peer that stopped reading
                r.abort()
                r.thread.join(_JOIN_S)
        leftover = [r.thread.name for r in self.relays() if r.thread.is_alive()]
        if leftover or (self._accept_thread is not None and self._accept_thread.is_alive()):
            raise RuntimeError(f"h2proxy threads still running after stop(): {leftover}")

    def __enter__(self) -> H2Proxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._closing:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return  # listener closed by stop()
            with self._lock:
                if self._closing:
                    sock.close()
                    return
                relay = Relay(next(self._ids), sock, self.upstream, self.faults, self._rec, self._relay_exited)
                self._relays[relay.conn_id] = relay
            relay.start()

    def _relay_exited(self, relay: Relay) -> None:
        with self._lock:
            self._relays.pop(relay.conn_id, None)

    def relays(self) -> list[Relay]:
        """The live relayed connections, oldest first."""
        with self._lock:
            return sorted(self._relays.values(), key=lambda r: r.conn_id)

    def _wake_all(self) -> None:
        for r in self.relays():
            r.wake()

    # -- scoped faults (fault_start/fault_end in the History, always restored) ----------------------
    @contextmanager
    def _scoped(self, f: WithholdPings | KeepaliveEnforcement | StreamRule) -> Iterator[Any]:
        def apply() -> None:
            self.faults.add(f)
            self._wake_all()

        def clear() -> dict[str, Any]:
            self.faults.remove(f)
            self._wake_all()  # held frames flow again at once
            return {"cleared_by": "removed"}

        with self._fault_rec.fault(f, apply=apply, clear=clear, closes_connections=False) as fault:
            yield fault

    def withhold_pings(self) -> Any:
        """PINGs from the SDK get no ACK while the block runs (each withheld ACK is recorded)."""
        return self._scoped(WithholdPings())

    def keepalive_policy(self, policy: KeepalivePolicy | None = None, **fields: Any) -> Any:
        """Enforce a grpc-core ping policy (keepalive.py) on every SDK connection while the block runs;
        ``keepalive_policy(min_time_without_data=1.0, max_strikes=2)`` builds one from fields."""
        return self._scoped(KeepaliveEnforcement(policy or KeepalivePolicy(**fields)))

    def stall_stream(self, method: str, direction: str = "both") -> Any:
        """Hold every frame of the streams of ``method`` (":path") in ``direction``; released on exit."""
        return self._scoped(StreamRule("stall", method, direction))

    def delay_stream(self, method: str, seconds: float, direction: str = "to_sdk") -> Any:
        """Hold each frame of the streams of ``method`` for ``seconds`` before forwarding it."""
        return self._scoped(StreamRule("delay", method, direction, seconds))

    def drop_stream(self, method: str, direction: str = "to_sdk") -> Any:
        """Discard the DATA (messages) of the streams of ``method``; HEADERS and trailers still pass,
        so the stream stays valid HTTP/2 and simply loses messages."""
        return self._scoped(StreamRule("drop", method, direction))

    # -- one-shot faults ---------------------------------------------------------------------------
    def rst_stream(self, method: str, code: int | str = "CANCEL", *, after_response_headers: bool = False,
                   timeout: float = 5.0) -> dict[str, Any]:
        """Send RST_STREAM(code) to the SDK on the oldest open stream of ``method`` (waiting up to
        ``timeout`` for one; with ``after_response_headers`` only once its response HEADERS were sent)
        and cancel the fake's half. Returns and records which stream was reset."""
        f = RstStream(method, error_code(code), after_response_headers)
        requested = time.monotonic()
        deadline = requested + timeout
        while True:
            for r in self.relays():
                try:
                    hit = r.submit(lambda r=r: r.rst_stream(f)).result(_JOIN_S)
                except ConnectionError:
                    continue  # that connection closed meanwhile
                if hit is not None:
                    self._rec.fault(f.describe(), requested_t=requested, **hit)
                    return hit
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no open {method} stream{' with response headers sent' if after_response_headers else ''} "
                                   f"through {self.name} within {timeout}s; start the call first or raise timeout")
            time.sleep(_POLL_S)

    def goaway(self, code: int | str = "NO_ERROR", *, last_stream_id: int | None = None,
               debug_data: bytes = b"", close: bool = False) -> list[dict[str, Any]]:
        """Send GOAWAY(last_stream_id, code, debug_data) to every SDK connection (None = the highest
        stream each opened). Streams above it are refused from then on; ``close`` also closes the
        connection right after. Returns and records one entry per connection."""
        f = Goaway(error_code(code), last_stream_id, debug_data, close)
        requested = time.monotonic()
        hits = []
        for r in self.relays():
            try:
                hits.append(r.submit(lambda r=r: r.goaway(f)).result(_JOIN_S))
            except ConnectionError:
                continue
        self._rec.fault(f.describe(), requested_t=requested, connections=hits)
        return hits
