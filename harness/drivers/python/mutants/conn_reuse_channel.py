"""Mutant: channel "recreation" hands back the same channel object (so the same TCP connection).

Expected to FAIL RECREATE-001 (test_recreate_dead_connection.py): after the threshold the worker says
Hello again on the black-holed connection instead of a new one. How: ``durabletask.worker`` builds its
channel with ``shared.get_grpc_channel(...)`` on every (re)connect; we return the first channel built
for an address every time, and make retiring a channel a no-op so the reused object is never closed.
"""

import functools

import durabletask.internal.shared as _shared
import durabletask.worker as _w

_real_get = _shared.get_grpc_channel
_cache = {}


@functools.wraps(_real_get)
def _get_grpc_channel(host_address, *args, **kwargs):
    if host_address not in _cache:
        _cache[host_address] = _real_get(host_address, *args, **kwargs)
    return _cache[host_address]


_shared.get_grpc_channel = _get_grpc_channel
_w._InFlightChannelTracker.retire = lambda self, channel: None
