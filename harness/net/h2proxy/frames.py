"""Raw HTTP/2 frames: split a byte stream into whole frames and describe one without its payload.

Why raw: the proxy records what crosses each socket, not what h2 *meant* to send, so the History
holds the frames really on the wire. It also lets the relay handle GOAWAY and PING ACKs outside
h2's state machine (h2 refuses every frame after a GOAWAY, but gRPC servers keep serving the
streams below the last-stream-id).
"""

from __future__ import annotations

from typing import Any

from hyperframe.frame import Frame, GoAwayFrame, RstStreamFrame

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # the client connection preface (RFC 9113 §3.4)
HEADER_LEN = 9

# RFC 9113 §6 frame type codes.
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
TYPE_NAMES = {DATA: "DATA", HEADERS: "HEADERS", PRIORITY: "PRIORITY", RST_STREAM: "RST_STREAM",
              SETTINGS: "SETTINGS", PUSH_PROMISE: "PUSH_PROMISE", PING: "PING", GOAWAY: "GOAWAY",
              WINDOW_UPDATE: "WINDOW_UPDATE", CONTINUATION: "CONTINUATION"}

# RFC 9113 §7 error codes, by name (the names scenario files and RST_STREAM_CODES use).
ERROR_CODES = {"NO_ERROR": 0, "PROTOCOL_ERROR": 1, "INTERNAL_ERROR": 2, "FLOW_CONTROL_ERROR": 3,
               "SETTINGS_TIMEOUT": 4, "STREAM_CLOSED": 5, "FRAME_SIZE_ERROR": 6, "REFUSED_STREAM": 7,
               "CANCEL": 8, "COMPRESSION_ERROR": 9, "CONNECT_ERROR": 10, "ENHANCE_YOUR_CALM": 11,
               "INADEQUATE_SECURITY": 12, "HTTP_1_1_REQUIRED": 13}
ERROR_NAMES = {v: k for k, v in ERROR_CODES.items()}
ACK = 0x1  # the ACK flag of SETTINGS and PING


def error_code(code: int | str) -> int:
    """An HTTP/2 error code from its number or RFC name ("CANCEL", "NO_ERROR", ...)."""
    if isinstance(code, str):
        try:
            return ERROR_CODES[code.upper()]
        except KeyError:
            raise ValueError(f"unknown HTTP/2 error code {code!r}; use one of {sorted(ERROR_CODES)}") from None
    return int(code)


def frame_type(raw: bytes) -> int:
    return raw[3]


def frame_flags(raw: bytes) -> int:
    return raw[4]


def frame_stream_id(raw: bytes) -> int:
    return int.from_bytes(raw[5:9], "big") & 0x7FFFFFFF


class FrameSplitter:
    """Cuts a TCP byte stream into whole raw frames (header + payload), keeping partial ones for later.

    ``expect_preface`` for the server side of a connection: the client's 24-byte preface comes
    first and is returned as its own chunk (type None in ``describe``)."""

    def __init__(self, *, expect_preface: bool = False) -> None:
        self._buf = bytearray()
        self._preface_left = expect_preface

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        if self._preface_left:
            if len(self._buf) < len(PREFACE):
                return out
            out.append(bytes(self._buf[:len(PREFACE)]))
            del self._buf[:len(PREFACE)]
            self._preface_left = False
        while len(self._buf) >= HEADER_LEN:
            length = int.from_bytes(self._buf[:3], "big")
            if len(self._buf) < HEADER_LEN + length:
                break
            out.append(bytes(self._buf[:HEADER_LEN + length]))
            del self._buf[:HEADER_LEN + length]
        return out

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame still buffered."""
        return len(self._buf)


def describe(raw: bytes) -> dict[str, Any]:
    """The recordable fields of one raw frame: type, stream id, flags, length and the control fields
    (error codes, last-stream-id, ping opaque data, window increments, settings), never a payload."""
    if raw == PREFACE:
        return {"type": "PREFACE", "stream_id": 0, "flags": [], "length": len(raw)}
    frame, length = Frame.parse_frame_header(memoryview(raw[:HEADER_LEN]))
    frame.parse_body(memoryview(raw[HEADER_LEN:HEADER_LEN + length]))
    d: dict[str, Any] = {"type": TYPE_NAMES.get(raw[3], f"0x{raw[3]:02x}"), "stream_id": frame.stream_id,
                         "flags": sorted(frame.flags), "length": length}
    t = raw[3]
    if t in (RST_STREAM, GOAWAY):
        d["error_code"] = frame.error_code
        d["error_name"] = ERROR_NAMES.get(frame.error_code, "UNKNOWN")
    if t == GOAWAY:
        d["last_stream_id"] = frame.last_stream_id
        d["debug_data"] = bytes(frame.additional_data).decode("utf-8", "replace")
    elif t == PING:
        d["opaque"] = bytes(frame.opaque_data).hex()
    elif t == WINDOW_UPDATE:
        d["increment"] = frame.window_increment
    elif t == SETTINGS:
        d["settings"] = {str(k): v for k, v in frame.settings.items()}
    return d


def goaway_frame(last_stream_id: int, code: int, debug_data: bytes = b"") -> bytes:
    """A serialized GOAWAY frame (sent raw, outside h2's state machine; see module docstring)."""
    f = GoAwayFrame(0, last_stream_id=last_stream_id, error_code=code, additional_data=debug_data)
    return f.serialize()


def rst_stream_frame(stream_id: int, code: int) -> bytes:
    """A serialized RST_STREAM frame, for a stream h2 already considers closed (grpc-core resets
    streams after their trailers when it closes a transport; h2 would refuse to)."""
    return RstStreamFrame(stream_id, error_code=code).serialize()
