"""Mutant: a retired SDK-owned channel is closed one retirement late: when the NEXT channel is retired,
not when it is released ("late, not never").

Expected to FAIL CONN-LEAK-001 (test_connection_leak.py: after every fault cycle two SDK-owned
channels are open, the active one and the previous one, against a bound of 1). conn_never_close.py is
the "never" variant. How: ``_InFlightChannelTracker._close_channel``, the one place the worker closes
a retired or replaced channel, closes the channel it was handed the previous time and keeps this one.
"""

import threading

import durabletask.worker as _w

_real_close = _w._InFlightChannelTracker._close_channel
_lock = threading.Lock()
_held = []


def _close_previous(channel):
    with _lock:
        previous = _held[:]
        _held[:] = [channel]
    for ch in previous:
        _real_close(ch)


_w._InFlightChannelTracker._close_channel = staticmethod(_close_previous)
