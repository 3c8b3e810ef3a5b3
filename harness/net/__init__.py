"""The network between the SDK and the fake, and the faults on it.

Owns: the Toxiproxy server (``toxiproxy_server``: find or build the pinned binary, run one per
worker) and its HTTP API client (``toxiproxy_client``); faults on the whole link as scoped context
managers (``link``: Toxiproxy toxics, ``tcp_reset``); faults on one TCP connection (``conn``:
iptables on one 4-tuple, ``ss -K``); the SDK process's sockets (``sockets``); the RST packet
sniffer (``rst_sniffer``). Every fault is written into the History as ``fault_start``/``fault_end``.

May import: ``harness.history``.
"""
