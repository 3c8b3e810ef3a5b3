"""Mutant: SDK-owned channels are never closed (retired channels leak).

Expected to FAIL CONN-LEAK-001 (test_connection_leak.py, "at most 1 SDK-owned channel(s) open") and
RETIRE-001 (test_inflight_drain.py, "old channel closed only after the in-flight work finished": never
closed). How: ``_InFlightChannelTracker._close_channel``, the one place the worker closes a retired or
replaced channel, does nothing.
"""

import durabletask.worker as _w

_w._InFlightChannelTracker._close_channel = staticmethod(lambda channel: None)
