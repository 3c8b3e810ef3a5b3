"""A second, independent witness of the wire for the h2 proxy tests: a tiny TCP forwarder that
keeps the raw bytes flowing from the proxy to the client, decoded afterwards with hyperframe
directly (not with the proxy's own frames.py), so a test can show the frames really crossed a
loopback socket."""

from __future__ import annotations

import selectors
import socket
import threading
from typing import Any

from hyperframe.frame import Frame


class WireTap:
    """Listens on a free port and forwards one connection to ``target``; ``to_client`` holds every
    byte the target sent back. ``close()`` ends the forwarding thread and sockets."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.to_client = bytearray()
        self._lst = socket.socket()
        self._lst.bind(("127.0.0.1", 0))
        self._lst.listen(4)
        self.port = self._lst.getsockname()[1]
        self._stop_r, self._stop_w = socket.socketpair()
        self._thread = threading.Thread(target=self._run, name="h2-wire-tap", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        socks: list[socket.socket] = []
        try:
            sel.register(self._lst, selectors.EVENT_READ, "accept")
            sel.register(self._stop_r, selectors.EVENT_READ, "stop")
            peer: dict[socket.socket, socket.socket] = {}
            while True:
                for key, _ in sel.select():
                    if key.data == "stop":
                        return
                    if key.data == "accept":
                        c, _ = self._lst.accept()
                        u = socket.create_connection(self.target)
                        socks += [c, u]
                        peer[c], peer[u] = u, c
                        sel.register(c, selectors.EVENT_READ, "client")
                        sel.register(u, selectors.EVENT_READ, "upstream")
                        continue
                    s: socket.socket = key.fileobj  # type: ignore[assignment]
                    try:
                        data = s.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        for x in (s, peer[s]):
                            try:
                                sel.unregister(x)
                            except (KeyError, ValueError):
                                pass
                            x.close()
                        continue
                    if key.data == "upstream":
                        self.to_client += data
                    try:
                        peer[s].sendall(data)
                    except OSError:
                        pass
        finally:
            sel.close()
            for s in socks:
                s.close()

    def close(self) -> None:
        self._stop_w.send(b"x")
        self._thread.join(5)
        self._lst.close()
        self._stop_r.close()
        self._stop_w.close()

    def frames_to_client(self) -> list[dict[str, Any]]:
        """Every whole frame the client received, decoded by hyperframe (type name, stream id,
        flags, and the error code / last-stream-id / debug data where the frame has them)."""
        buf = memoryview(bytes(self.to_client))
        out = []
        while len(buf) >= 9:
            frame, length = Frame.parse_frame_header(buf[:9])
            if len(buf) < 9 + length:
                break
            frame.parse_body(buf[9:9 + length])
            d = {"type": type(frame).__name__, "stream_id": frame.stream_id, "flags": set(frame.flags)}
            for attr in ("error_code", "last_stream_id", "additional_data"):
                if hasattr(frame, attr):
                    d[attr] = getattr(frame, attr)
            out.append(d)
            buf = buf[9 + length:]
        return out
