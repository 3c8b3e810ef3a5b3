"""Frames and proxy actions -> History events (source NETWORK), with CLOCK_MONOTONIC timestamps.

Vocabulary:

- ``h2_frame``: one frame that crossed a socket: proxy, conn (the proxy's connection number),
  hop ("sdk->proxy", "proxy->sdk", "proxy->fake", "fake->proxy") and frames.describe()'s fields
  (type, stream_id, flags, length, error_code/error_name, last_stream_id, debug_data, opaque,
  increment, settings). ``t`` is when the bytes were read, or just before
  ``sendall`` (recorded before sending, so the frame is in the History before the peer reacts).
- ``h2_frame_suppressed``: a frame the proxy did not send or forward, with ``reason``
  ("withhold_pings": a PING ACK h2 produced; "drop_stream": a DATA frame discarded by a fault).
- ``h2_stream``: a stream mapped through the proxy: conn, path, down_stream_id, up_stream_id.
- ``h2_connection``: ``state`` "open" (client_port, upstream_port) or "closed" (``reason``).
- ``h2_fault``: a one-shot fault (rst_stream, goaway, too_many_pings) with its describe() fields,
  ``requested_t`` and what it hit (conn, stream ids, last_stream_id sent).
Scoped faults go through harness.net.recorder.FaultRecorder (``fault_start``/``fault_end``).
"""

from __future__ import annotations

import time
from typing import Any

from harness.history import NETWORK, Event, History
from harness.net.h2proxy.frames import describe


class H2Recorder:
    def __init__(self, history: History, proxy: str) -> None:
        self.history = history
        self.proxy = proxy

    def frame(self, conn: int, hop: str, raw: bytes, t: float) -> Event:
        return self.history.record(NETWORK, "h2_frame", t=t, proxy=self.proxy, conn=conn, hop=hop,
                                   **describe(raw))

    def suppressed(self, conn: int, hop: str, raw: bytes, reason: str) -> Event:
        return self.history.record(NETWORK, "h2_frame_suppressed", proxy=self.proxy, conn=conn, hop=hop,
                                   reason=reason, **describe(raw))

    def dropped(self, conn: int, hop: str, *, path: str, length: int, fault_id: int) -> Event:
        """A DATA payload discarded by a drop_stream fault (never framed toward its target)."""
        return self.history.record(NETWORK, "h2_frame_suppressed", proxy=self.proxy, conn=conn, hop=hop,
                                   reason="drop_stream", type="DATA", path=path, length=length,
                                   fault_id=fault_id)

    def stream(self, conn: int, path: str, down_stream_id: int, up_stream_id: int) -> Event:
        return self.history.record(NETWORK, "h2_stream", proxy=self.proxy, conn=conn, path=path,
                                   down_stream_id=down_stream_id, up_stream_id=up_stream_id)

    def connection(self, conn: int, state: str, **fields: Any) -> Event:
        return self.history.record(NETWORK, "h2_connection", proxy=self.proxy, conn=conn, state=state, **fields)

    def fault(self, describe_fields: dict[str, Any], *, requested_t: float | None = None,
              **hit: Any) -> Event:
        return self.history.record(NETWORK, "h2_fault", proxy=self.proxy,
                                   requested_t=time.monotonic() if requested_t is None else requested_t,
                                   **describe_fields, **hit)
