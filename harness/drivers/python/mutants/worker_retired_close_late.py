"""Mutant (late, not never): a retired worker channel is closed LATE_S after its last in-flight work
item released it, by a background timer, instead of at once (a fixed deferred-dispose grace, as N's
30 s, but short).

Expected to FAIL WRK-RETIRE-001 (RETIRE-2, P: retired channels are closed at final shutdown): when
stop() returns, the retired channel is still open. How: ``_InFlightChannelTracker._close_channel``, the
one place the worker closes a retired or replaced channel, hands the close to a daemon timer.
"""

import threading

import durabletask.worker as _w

LATE_S = 1.0  # far above any tolerance the suite accepts

_real_close = _w._InFlightChannelTracker._close_channel


def _close_later(channel):
    timer = threading.Timer(LATE_S, _real_close, args=(channel,))
    timer.daemon = True
    timer.start()


_w._InFlightChannelTracker._close_channel = staticmethod(_close_later)
