"""The keepalive (ping abuse) policy a grpc-core server enforces, made controllable.

Mirrors grpc-core's ``Chttp2PingAbusePolicy`` (src/core/ext/transport/chttp2/transport/
ping_abuse_policy.cc, frame_ping.cc, chttp2_transport.cc):

- every PING the server receives is judged against the previous one: if it came sooner than
  ``min_time_without_data`` (grpc.http2.min_ping_interval_without_data_ms, default 5 min) it is a
  strike; when the transport is idle -- no open streams and the server did NOT set
  grpc.keepalive_permit_without_calls -- the interval is 2 hours instead;
- more than ``max_strikes`` strikes (grpc.http2.max_ping_strikes, default 2; 0 = unlimited)
  -> GOAWAY ENHANCE_YOUR_CALM with debug data "too_many_pings", then the transport is closed;
- sending HEADERS or DATA resets the strikes and the clock (``grpc_chttp2_reset_ping_clock``).

The fake sidecar (grpcio) turns this off on purpose (fakes/sidecar.py SERVER_OPTIONS), so every
GOAWAY a client sees is a scripted one; the proxy's copy is the one a test switches on and off.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

IDLE_INTERVAL_S = 2 * 60 * 60.0  # grpc-core: pings on an idle transport are judged against TCP keepalive's 2 h
TOO_MANY_PINGS = b"too_many_pings"


@dataclass(frozen=True)
class KeepalivePolicy:
    """grpc-core's server-side ping policy; the defaults are grpc-core's."""

    min_time_without_data: float = 300.0
    max_strikes: int = 2
    permit_without_calls: bool = False

    def describe(self) -> dict[str, Any]:
        return asdict(self)


class PingJudge:
    """The per-connection state of a ``KeepalivePolicy``: last ping time and strikes."""

    def __init__(self, policy: KeepalivePolicy) -> None:
        self.policy = policy
        self.strikes = 0
        self._last_ping = -math.inf

    def received_ping(self, now: float, *, open_streams: int) -> bool:
        """Judge one received PING; True when the connection must be closed (too many pings)."""
        idle = open_streams == 0 and not self.policy.permit_without_calls
        interval = IDLE_INTERVAL_S if idle else self.policy.min_time_without_data
        too_soon = now < self._last_ping + interval
        self._last_ping = now
        if not too_soon:
            return False
        self.strikes += 1
        return self.policy.max_strikes != 0 and self.strikes > self.policy.max_strikes

    def sent_headers_or_data(self) -> None:
        self.strikes = 0
        self._last_ping = -math.inf
