"""Mutant: the client recreates its channel one failure late: after N + 1 consecutive counted
failures instead of N ("late, not never").

Expected to FAIL CLI-RECREATE-001 (test_client_recreate.py::test_recreate_after_exactly_threshold: the
N-th consecutive failure recreates nothing) and CLI-STATUS-001 (two UNAVAILABLE at threshold 2 do not
recreate). How: after each client is constructed, its failure tracker's threshold is raised by one
(the worker's tracker is untouched).
"""

import functools

import durabletask.client as _c


def _wrap(cls):
    real = cls.__init__

    @functools.wraps(real)  # keeps the signature the driver feature-detects
    def init(self, *args, **kwargs):
        real(self, *args, **kwargs)
        tracker = self._client_failure_tracker
        if tracker.threshold > 0:
            tracker.threshold += 1

    cls.__init__ = init


_wrap(_c.TaskHubGrpcClient)
_wrap(_c.AsyncTaskHubGrpcClient)
