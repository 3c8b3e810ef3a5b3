"""The network between the SDK and the fake, and the faults on it.

Owns: the Toxiproxy server (``toxiproxy_server``: find or build the pinned binary, run one per
worker) and its HTTP API client (``toxiproxy_client``); faults on the whole link as scoped context
managers (``link``: Toxiproxy toxics, ``tcp_reset``); faults on one TCP connection (``conn``:
iptables on one 4-tuple, ``ss -K``); the SDK process's sockets (``sockets``: the one answer to
"which client ports does the SDK have to port P"); the RST packet sniffer (``rst_sniffer``); and
the one writer of fault events (``recorder``: fault ids, ``fault_start``/``fault_end``,
``tcp_reset``), which both ``link`` and ``conn`` write through; and the HTTP/2 frame-level fault
proxy (``h2proxy``: real RST_STREAM, GOAWAY, withheld PING acks, one stream stalled or dropped, a
grpc-core keepalive policy; every frame recorded), between the SDK and the fake.

May import: ``harness.history``.
"""
