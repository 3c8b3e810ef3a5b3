"""One downstream connection (the SDK's) relayed onto its own upstream connection (to the fake).

h2 terminates HTTP/2 on both sides: an h2 server toward the SDK, an h2 client toward the fake.
Each SDK stream gets an upstream stream (the id map); HEADERS, DATA, trailers, END_STREAM and
RST_STREAM are queued per stream and direction, so a fault can hold, delay or drop one stream
while the others flow. Flow control is end to end: bytes received on one side are acknowledged
(WINDOW_UPDATE) only once they were sent on the other, so a slow reader slows the writer exactly
as without the proxy, and multi-MB messages pass through 64 KiB windows.

PINGs are answered by the proxy's own h2 (unless pings are withheld); GOAWAY frames are handled
raw in both directions (frames.py says why). One thread per connection runs everything that
touches its two h2 state machines; other threads hand it work through ``submit``.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions

from harness.net.h2proxy import frames
from harness.net.h2proxy.faults import TO_FAKE, TO_SDK, FaultState, Goaway, RstStream
from harness.net.h2proxy.keepalive import TOO_MANY_PINGS, PingJudge
from harness.net.h2proxy.recorder import H2Recorder

log = logging.getLogger(__name__)

MAX_STREAM_ID = 2**31 - 1
UNAVAILABLE = 14  # grpc-status code
_RECV = 256 * 1024


@dataclass
class _Item:
    kind: str  # "headers" | "data" | "end" | "trailers" (a HEADERS frame with END_STREAM)
    t: float
    headers: list[tuple[bytes, bytes]] | None = None
    data: bytes = b""
    flow_len: int = 0  # bytes to acknowledge on the source side once sent


@dataclass
class _Stream:
    down_id: int
    path: str
    up_id: int | None = None
    queues: dict[str, deque[_Item]] = field(default_factory=lambda: {TO_FAKE: deque(), TO_SDK: deque()})
    done: dict[str, bool] = field(default_factory=lambda: {TO_FAKE: False, TO_SDK: False})
    # END_STREAM already queued per direction: h2 reports a HEADERS/trailers END_STREAM twice (the
    # headers event and StreamEnded), and the end must be sent once, inside the HEADERS frame
    end_queued: dict[str, bool] = field(default_factory=lambda: {TO_FAKE: False, TO_SDK: False})
    response_headers_sent: bool = False

    @property
    def open_to_sdk(self) -> bool:
        return not self.done[TO_SDK]


class Relay:
    """The relay of one SDK connection. ``start()`` connects upstream and runs the loop thread."""

    def __init__(self, conn_id: int, down: socket.socket, upstream: tuple[str, int], faults: FaultState,
                 recorder: H2Recorder, on_exit: Callable[[Relay], None]) -> None:
        self.conn_id = conn_id
        self._down_sock = down
        self._upstream = upstream
        self._faults = faults
        self._rec = recorder
        self._on_exit = on_exit
        self._up_sock: socket.socket | None = None
        self._down = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
        self._up = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
        self._down_split = frames.FrameSplitter(expect_preface=True)
        self._up_split = frames.FrameSplitter()
        self._out_down_split = frames.FrameSplitter()
        self._out_up_split = frames.FrameSplitter(expect_preface=True)
        self._by_down: dict[int, _Stream] = {}
        self._by_up: dict[int, _Stream] = {}
        self._id_map: dict[int, int] = {}  # up id -> down id, kept after streams are pruned (GOAWAY mapping)
        self._down_highest = 0
        self._goaway_sent: int | None = None  # last-stream-id we told the SDK
        self._up_goaway: int | None = None  # last-stream-id the fake told us
        self._judge: PingJudge | None = None
        self._judge_for: int | None = None  # fault_id of the policy the judge applies
        self._commands: deque[tuple[Callable[[], Any], Future[Any]]] = deque()
        self._cmd_lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = False
        self._close_reason = ""
        self.thread = threading.Thread(target=self._run, name=f"h2proxy-conn-{conn_id}", daemon=True)

    # -- control (any thread) -------------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        """Run ``fn`` on the relay thread (the only one allowed to touch the h2 state)."""
        fut: Future[Any] = Future()
        with self._cmd_lock:
            if self._stopping:
                fut.set_exception(ConnectionError(f"h2proxy connection {self.conn_id} is closed"))
                return fut
            self._commands.append((fn, fut))
        self.wake()
        return fut

    def wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass  # the loop is gone; nothing to wake

    def stop(self, reason: str = "proxy stopped") -> None:
        self._close_reason = self._close_reason or reason
        self._stopping = True
        self.wake()

    def abort(self) -> None:
        """Unblock a loop stuck in ``sendall`` toward a peer that stopped reading: shut both sockets."""
        self.stop()
        for sock in (self._down_sock, self._up_sock):
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed

    # -- the loop ---------------------------------------------------------------------------------
    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        try:
            try:
                self._up_sock = socket.create_connection(self._upstream, timeout=5)
            except OSError as exc:
                self._close_reason = f"upstream connect failed: {exc!r}"
                return
            for s in (self._down_sock, self._up_sock):
                s.settimeout(None)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._rec.connection(self.conn_id, "open", client_port=self._down_sock.getpeername()[1],
                                 upstream_port=self._up_sock.getsockname()[1])
            self._down.initiate_connection()
            self._up.initiate_connection()
            self._flush_out()
            sel.register(self._down_sock, selectors.EVENT_READ, "down")
            sel.register(self._up_sock, selectors.EVENT_READ, "up")
            sel.register(self._wake_r, selectors.EVENT_READ, "wake")
            while not self._stopping:
                for key, _ in sel.select(self._next_timeout()):
                    if key.data == "wake":
                        self._wake_r.recv(4096)
                        self._run_commands()
                        continue
                    sock: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = sock.recv(_RECV)
                    if not data:
                        self._close_reason = self._close_reason or f"{'SDK' if key.data == 'down' else 'fake'} closed"
                        self._stopping = True
                        break
                    if key.data == "down":
                        self._from_sdk(data)
                    else:
                        self._from_fake(data)
                if not self._stopping:
                    self._pump()
        except (OSError, h2.exceptions.H2Error) as exc:
            self._close_reason = self._close_reason or f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a relay bug: close this connection, keep the proxy, say why
            log.exception("h2proxy connection %s failed", self.conn_id)
            self._close_reason = f"relay error: {exc!r}"
        finally:
            self._shutdown(sel)

    def _shutdown(self, sel: selectors.BaseSelector) -> None:
        with self._cmd_lock:
            self._stopping = True
            pending = list(self._commands)
            self._commands.clear()
        for _, fut in pending:
            fut.set_exception(ConnectionError(f"h2proxy connection {self.conn_id} closed: {self._close_reason}"))
        sel.close()
        _close_gently(self._down_sock)
        for s in (self._up_sock, self._wake_r, self._wake_w):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        self._rec.connection(self.conn_id, "closed", reason=self._close_reason)
        self._on_exit(self)

    def _run_commands(self) -> None:
        while True:
            with self._cmd_lock:
                if not self._commands:
                    return
                fn, fut = self._commands.popleft()
            try:
                fut.set_result(fn())
            except BaseException as exc:  # handed to the caller's thread
                fut.set_exception(exc)
            self._pump()

    def _next_timeout(self) -> float | None:
        """Seconds until the earliest delayed frame is due (None: nothing delayed)."""
        due = None
        now = time.monotonic()
        for s in self._by_down.values():
            for direction, q in s.queues.items():
                if not q:
                    continue
                rule = self._faults.rule_for(s.path, direction)
                if rule is not None and rule.fault == "delay":
                    at = q[0].t + rule.seconds
                    due = at if due is None else min(due, at)
        return None if due is None else max(0.0, due - now)

    # -- reading ---------------------------------------------------------------------------------
    def _from_sdk(self, data: bytes) -> None:
        t = time.monotonic()
        for raw in self._down_split.feed(data):
            self._rec.frame(self.conn_id, "sdk->proxy", raw, t)
            if raw == frames.PREFACE:
                self._handle_down_events(self._down.receive_data(raw))
                continue
            ftype = frames.frame_type(raw)
            if ftype == frames.GOAWAY:
                continue  # the SDK is leaving; its socket close ends the relay
            if ftype == frames.PING and not frames.frame_flags(raw) & frames.ACK and self._judge_ping(t):
                return
            self._handle_down_events(self._down.receive_data(raw))

    def _from_fake(self, data: bytes) -> None:
        t = time.monotonic()
        for raw in self._up_split.feed(data):
            self._rec.frame(self.conn_id, "fake->proxy", raw, t)
            if frames.frame_type(raw) == frames.GOAWAY:
                self._forward_goaway(raw)
                continue
            self._handle_up_events(self._up.receive_data(raw))

    def _handle_down_events(self, events: list[h2.events.Event]) -> None:
        for ev in events:
            if isinstance(ev, h2.events.RequestReceived):
                self._open_stream(ev.stream_id, ev.headers, time.monotonic())
            elif isinstance(ev, h2.events.DataReceived):
                self._queue(self._by_down.get(ev.stream_id), TO_FAKE,
                            _Item("data", time.monotonic(), data=ev.data, flow_len=ev.flow_controlled_length),
                            source_id=ev.stream_id)
            elif isinstance(ev, h2.events.TrailersReceived):
                self._queue(self._by_down.get(ev.stream_id), TO_FAKE,
                            _Item("trailers", time.monotonic(), headers=ev.headers))
            elif isinstance(ev, h2.events.StreamEnded):
                self._queue(self._by_down.get(ev.stream_id), TO_FAKE, _Item("end", time.monotonic()))
            elif isinstance(ev, h2.events.StreamReset):
                s = self._by_down.get(ev.stream_id)
                if s is not None:  # the SDK cancelled: cancel the fake's half the same way
                    self._abandon(s, TO_SDK)
                    self._abandon(s, TO_FAKE)
                    self._reset(self._up, s.up_id, ev.error_code)

    def _handle_up_events(self, events: list[h2.events.Event]) -> None:
        for ev in events:
            s = self._by_up.get(getattr(ev, "stream_id", 0) or 0)
            if isinstance(ev, h2.events.ResponseReceived):
                # a trailers-only response (HEADERS with END_STREAM, e.g. a status with no message)
                # must stay one HEADERS frame: grpc-core rejects an END_STREAM on an empty DATA frame
                kind = "trailers" if ev.stream_ended is not None else "headers"
                self._queue(s, TO_SDK, _Item(kind, time.monotonic(), headers=ev.headers))
            elif isinstance(ev, h2.events.DataReceived):
                self._queue(s, TO_SDK, _Item("data", time.monotonic(), data=ev.data,
                                             flow_len=ev.flow_controlled_length), source_id=ev.stream_id)
            elif isinstance(ev, h2.events.TrailersReceived):
                self._queue(s, TO_SDK, _Item("trailers", time.monotonic(), headers=ev.headers))
            elif isinstance(ev, h2.events.StreamEnded):
                self._queue(s, TO_SDK, _Item("end", time.monotonic()))
            elif isinstance(ev, h2.events.StreamReset):
                if s is not None:  # the fake reset its stream: the SDK gets the same RST_STREAM
                    self._abandon(s, TO_FAKE)
                    self._abandon(s, TO_SDK)
                    self._reset(self._down, s.down_id, ev.error_code)

    def _open_stream(self, down_id: int, headers: list[tuple[bytes, bytes]], t: float) -> None:
        path = dict(headers).get(b":path", b"").decode("utf-8", "replace")
        s = _Stream(down_id, path)
        self._by_down[down_id] = s
        self._down_highest = max(self._down_highest, down_id)
        refused = self._up_goaway is not None or (self._goaway_sent is not None and down_id > self._goaway_sent)
        if refused:  # no upstream stream can be opened any more: the SDK may retry elsewhere
            s.done[TO_FAKE] = s.done[TO_SDK] = True
            self._reset(self._down, down_id, frames.ERROR_CODES["REFUSED_STREAM"])
            return
        self._queue(s, TO_FAKE, _Item("headers", t, headers=headers))

    def _queue(self, s: _Stream | None, direction: str, item: _Item, source_id: int | None = None) -> None:
        if s is None or s.done[direction] or s.end_queued[direction]:
            if item.flow_len and source_id is not None:  # nobody will read it: give the window back
                self._ack(self._source(direction), source_id, item.flow_len)
            return
        if item.kind in ("end", "trailers"):
            s.end_queued[direction] = True
        s.queues[direction].append(item)

    # -- writing ---------------------------------------------------------------------------------
    def _pump(self) -> None:
        now = time.monotonic()
        for s in list(self._by_down.values()):
            self._flush_stream(s, TO_FAKE, now)
            self._flush_stream(s, TO_SDK, now)
            if s.done[TO_FAKE] and s.done[TO_SDK]:  # finished both ways: forget it (long runs make many)
                del self._by_down[s.down_id]
                self._by_up.pop(s.up_id or 0, None)
        self._flush_out()

    def _source(self, direction: str) -> h2.connection.H2Connection:
        return self._down if direction == TO_FAKE else self._up

    def _flush_stream(self, s: _Stream, direction: str, now: float) -> None:
        q = s.queues[direction]
        if not q:
            return
        rule = self._faults.rule_for(s.path, direction)
        target = self._up if direction == TO_FAKE else self._down
        source_id = s.down_id if direction == TO_FAKE else s.up_id
        while q:
            item = q[0]
            if rule is not None and rule.fault == "stall":
                return
            if rule is not None and rule.fault == "delay" and now < item.t + rule.seconds:
                return
            if rule is not None and rule.fault == "drop" and item.kind == "data":
                q.popleft()
                self._ack(self._source(direction), source_id, item.flow_len)
                self._rec.dropped(self.conn_id, "proxy->sdk" if direction == TO_SDK else "proxy->fake",
                                  path=s.path, length=len(item.data), fault_id=rule.fault_id)
                continue
            try:
                if not self._send_item(s, direction, target, item):
                    return  # flow-control window exhausted: WINDOW_UPDATE will pump again
            except h2.exceptions.StreamClosedError:
                self._abandon(s, direction)
                return
            q.popleft()
            if item.flow_len:
                self._ack(self._source(direction), source_id, item.flow_len)

    def _send_item(self, s: _Stream, direction: str, target: h2.connection.H2Connection, item: _Item) -> bool:
        """Send ``item`` (or as much of its data as the window allows); True when it is all sent."""
        if item.kind == "headers" and direction == TO_FAKE:
            s.up_id = self._up.get_next_available_stream_id()
            self._by_up[s.up_id] = s
            self._id_map[s.up_id] = s.down_id
            self._rec.stream(self.conn_id, s.path, s.down_id, s.up_id)
        tid = s.up_id if direction == TO_FAKE else s.down_id
        assert tid is not None
        if item.kind == "headers":
            target.send_headers(tid, item.headers)
            if direction == TO_SDK:
                s.response_headers_sent = True
        elif item.kind == "data":
            while item.data:
                n = min(target.local_flow_control_window(tid), target.max_outbound_frame_size, len(item.data))
                if n <= 0:
                    return False
                target.send_data(tid, item.data[:n])
                item.data = item.data[n:]
        elif item.kind == "trailers":
            target.send_headers(tid, item.headers, end_stream=True)
            s.done[direction] = True
        elif item.kind == "end":
            target.end_stream(tid)
            s.done[direction] = True
        return True

    def _ack(self, conn: h2.connection.H2Connection, stream_id: int | None, n: int) -> None:
        """Give ``n`` bytes of window back to the sender (stream and connection level)."""
        if n <= 0 or stream_id is None:
            return
        try:
            conn.acknowledge_received_data(n, stream_id)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            pass  # the stream is gone; h2 has already credited the connection window

    def _abandon(self, s: _Stream, direction: str) -> None:
        """Discard what is queued toward one side (giving its window back) and stop that direction."""
        source_id = s.down_id if direction == TO_FAKE else s.up_id
        for item in s.queues[direction]:
            self._ack(self._source(direction), source_id, item.flow_len)
        s.queues[direction].clear()
        s.done[direction] = True

    def _reset(self, conn: h2.connection.H2Connection, stream_id: int | None, code: int) -> None:
        if stream_id is None:
            return
        try:
            conn.reset_stream(stream_id, code)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            pass  # already closed on that side: nothing to reset

    def _flush_out(self) -> None:
        self._write_down(self._down.data_to_send())
        self._write_up(self._up.data_to_send())

    def _write_down(self, data: bytes, *, raw: bool = False) -> None:
        if not data:
            return
        withhold = self._faults.withholding_pings
        sent: list[bytes] = []
        chunks = frames.FrameSplitter().feed(data) if raw else self._out_down_split.feed(data)
        for f in chunks:
            ftype = frames.frame_type(f)
            if withhold and ftype == frames.PING and frames.frame_flags(f) & frames.ACK:
                self._rec.suppressed(self.conn_id, "proxy->sdk", f, "withhold_pings")
                continue
            if ftype in (frames.HEADERS, frames.DATA) and self._judge is not None:
                self._judge.sent_headers_or_data()
            sent.append(f)
        if sent:
            self._record_then_send(self._down_sock, "proxy->sdk", sent)

    def _write_up(self, data: bytes) -> None:
        if not data or self._up_sock is None:
            return
        self._record_then_send(self._up_sock, "proxy->fake", self._out_up_split.feed(data))

    def _record_then_send(self, sock: socket.socket, hop: str, chunks: list[bytes]) -> None:
        """Record first, so a frame is in the History before its receiver can react to it (a test
        that saw the client fail can read the frame that failed it without racing this thread)."""
        t = time.monotonic()
        for f in chunks:
            self._rec.frame(self.conn_id, hop, f, t)
        sock.sendall(b"".join(chunks))

    # -- connection-level faults -------------------------------------------------------------------
    def _send_goaway(self, last_stream_id: int, code: int, debug: bytes) -> None:
        self._flush_out()  # everything h2 already produced goes first, as on a real server
        self._write_down(frames.goaway_frame(last_stream_id, code, debug), raw=True)
        self._goaway_sent = last_stream_id if self._goaway_sent is None else min(self._goaway_sent, last_stream_id)

    def _forward_goaway(self, raw: bytes) -> None:
        d = frames.describe(raw)
        last = d["last_stream_id"]
        self._up_goaway = last if self._up_goaway is None else min(self._up_goaway, last)
        if last >= MAX_STREAM_ID:  # grpc's first, "drain" GOAWAY: no stream refused yet
            mapped = MAX_STREAM_ID
        else:
            mapped = max((down for up, down in self._id_map.items() if up <= last), default=0)
        self._send_goaway(mapped, d["error_code"], d["debug_data"].encode())

    def _judge_ping(self, t: float) -> bool:
        """Apply the keepalive policy in force to one PING from the SDK; True if the connection closed."""
        enforcement = self._faults.keepalive
        if enforcement is None:
            self._judge = None
            return False
        if self._judge is None or self._judge_for != enforcement.fault_id:
            self._judge, self._judge_for = PingJudge(enforcement.policy), enforcement.fault_id
        open_streams = sum(1 for s in self._by_down.values() if not (s.done[TO_SDK] and s.done[TO_FAKE]))
        if not self._judge.received_ping(t, open_streams=open_streams):
            return False
        code, strikes = frames.ERROR_CODES["ENHANCE_YOUR_CALM"], self._judge.strikes
        self._rec.fault(enforcement.describe(), requested_t=t, action="too_many_pings", conn=self.conn_id,
                        strikes=strikes, last_stream_id=self._down_highest)
        self._send_goaway(self._down_highest, code, TOO_MANY_PINGS)
        self._fail_open_streams(UNAVAILABLE, "Too many pings")
        self._close_reason = "too_many_pings"
        self._stopping = True  # grpc-core closes the transport once the GOAWAY is written
        return True

    def _fail_open_streams(self, grpc_status: int, message: str) -> None:
        """End every stream still open toward the SDK the way grpc-core's transport does when it
        closes with an error (chttp2_transport.cc close_from_api, seen on the wire from a real
        grpcio server): trailers with grpc-status/grpc-message, then RST_STREAM NO_ERROR."""
        for s in self._by_down.values():
            if not s.open_to_sdk:
                continue
            self._abandon(s, TO_SDK)
            self._abandon(s, TO_FAKE)
            status = [(b"grpc-status", str(grpc_status).encode()), (b"grpc-message", message.encode())]
            if not s.response_headers_sent:  # trailers-only response
                status = [(b":status", b"200"), (b"content-type", b"application/grpc")] + status
            try:
                self._down.send_headers(s.down_id, status, end_stream=True)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                pass  # the SDK already closed it
            self._flush_out()
            self._write_down(frames.rst_stream_frame(s.down_id, frames.ERROR_CODES["NO_ERROR"]), raw=True)
            self._reset(self._up, s.up_id, frames.ERROR_CODES["CANCEL"])
        self._flush_out()

    # -- one-shot faults (run on the relay thread via submit) --------------------------------------
    def find_stream(self, f: RstStream) -> _Stream | None:
        for s in sorted(self._by_down.values(), key=lambda s: s.down_id):
            if s.path == f.method and s.open_to_sdk and (s.response_headers_sent or not f.after_response_headers):
                return s
        return None

    def rst_stream(self, f: RstStream) -> dict[str, Any] | None:
        """RST_STREAM(f.code) to the SDK on the first matching open stream, CANCEL to the fake; None if
        no stream matches yet."""
        s = self.find_stream(f)
        if s is None:
            return None
        self._abandon(s, TO_SDK)
        self._abandon(s, TO_FAKE)
        self._reset(self._down, s.down_id, f.code)
        self._reset(self._up, s.up_id, frames.ERROR_CODES["CANCEL"])
        self._flush_out()
        return {"conn": self.conn_id, "down_stream_id": s.down_id, "up_stream_id": s.up_id,
                "response_headers_sent": s.response_headers_sent}

    def goaway(self, f: Goaway) -> dict[str, Any]:
        last = self._down_highest if f.last_stream_id is None else f.last_stream_id
        self._send_goaway(last, f.code, f.debug_data)
        if f.close:
            self._close_reason = "goaway close"
            self._stopping = True
        return {"conn": self.conn_id, "last_stream_id_sent": last}


def _close_gently(sock: socket.socket) -> None:
    """FIN first, then drain briefly, then close: closing with unread bytes would send a TCP RST,
    which can destroy a GOAWAY still in the peer's receive queue."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(0.5)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline and sock.recv(_RECV):
            pass
    except OSError:
        pass  # already reset or closed by the peer
    finally:
        sock.close()
