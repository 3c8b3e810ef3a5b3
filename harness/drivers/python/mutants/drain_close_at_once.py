"""Mutant: a retired SDK-owned channel is closed at once, even while in-flight work still uses it.

Expected to FAIL DRAIN-001/DRAIN-002 (test_inflight_drain.py): the activity's completion goes out on
a closed channel ("Cannot invoke RPC on closed channel!") and is lost, and the channel is closed before
the activity finished. How: ``_InFlightChannelTracker.retire`` closes the channel unconditionally
instead of marking it close-when-released.
"""

import durabletask.worker as _w


def _retire(self, channel):
    self._close_channel(channel)


_w._InFlightChannelTracker.retire = _retire
