"""A TCP listener that accepts connections and never says anything: no HTTP/2 preface, no SETTINGS.
A gRPC client connected to it waits for the server's SETTINGS forever (or until its own deadline),
which wedges an SDK that does not bound its first connect."""

from __future__ import annotations

import socket
import threading


class SilentServer:
    """Accepts on 127.0.0.1:<ephemeral> and holds every connection open, unread, until ``close()``."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)  # so the accept loop notices close() promptly
        self._conns: list[socket.socket] = []
        self.accepted = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name="silent-server", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"{host}:{port}"

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return  # closed
            self._conns.append(conn)
            self.accepted.set()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for c in [*self._conns, self._sock]:
            try:
                c.close()
            except OSError:
                pass

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
