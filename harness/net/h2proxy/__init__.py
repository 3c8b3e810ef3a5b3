"""An HTTP/2 frame-level fault proxy (issue 10), between the SDK and the fake sidecar.

Where Toxiproxy (harness/net/link.py) cuts bytes and the fake (fakes/) ends calls with statuses,
this proxy speaks HTTP/2 on both sides (PyPI ``h2``) and sends the real frames: RST_STREAM with
any error code on one stream, GOAWAY with a chosen last-stream-id, error code and debug data,
withheld PING ACKs, one stream stalled, delayed or losing its messages while others flow, and a
grpc-core keepalive policy (GOAWAY ENHANCE_YOUR_CALM "too_many_pings"). Every frame on both of
its sockets is recorded into the History.

Modules: ``proxy`` (the control API, ``H2Proxy``), ``relay`` (one connection pair: stream map,
flow control, faults applied), ``faults`` (the faults as data), ``keepalive`` (the ping policy),
``frames`` (raw frame splitting and description), ``recorder`` (History events).

May import: ``harness.history``, ``harness.net.recorder``.
"""

from harness.net.h2proxy.keepalive import KeepalivePolicy
from harness.net.h2proxy.proxy import H2Proxy

__all__ = ["H2Proxy", "KeepalivePolicy"]
