"""Mutant: the worker recreates its channel one failure late: after N + 1 consecutive transport
failures instead of N ("late, not never").

Expected to FAIL RECREATE-002 (test_recreate_dead_connection.py: N Hellos, not N - 1, fail on the dead
connection before the recreation) and RECREATE-001 (the Hello from a new connection comes one Hello
timeout + one backoff sleep later than the bound allows). How: the worker module's ``FailureTracker``
(the counter behind ``channel_recreate_failure_threshold``) is built with the threshold + 1; the
clients' trackers (durabletask.client) are untouched.
"""

import durabletask.worker as _w

_RealTracker = _w.FailureTracker


def _one_late(*, threshold):
    return _RealTracker(threshold=threshold + 1 if threshold > 0 else threshold)


_w.FailureTracker = _one_late
