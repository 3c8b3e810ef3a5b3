"""Mutant (late, not never): after a channel recreation the worker waits one backoff cap before its
first Hello on the new channel (a "let the new channel settle" pause).

Expected to FAIL WRK-RECREATE-002 (a recreation adds no wait: the Hello after the N-th failure comes
within that attempt's full-jitter window). How: ``durabletask.internal.shared.get_grpc_channel`` (read
at call time by the worker, which builds each channel right before its Hello) sleeps
``reconnect_backoff_cap_seconds`` before building any channel after the worker's first.
"""

import functools
import itertools
import time

import durabletask.internal.shared as _shared
import durabletask.worker as _w

_built = itertools.count(1)
_cap = {"s": 0.0}
_init = _w.TaskHubGrpcWorker.__init__


@functools.wraps(_init)
def _patched_init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    _cap["s"] = self._resiliency_options.reconnect_backoff_cap_seconds


def _wrap(real):
    @functools.wraps(real)
    def factory(*args, **kwargs):
        if next(_built) > 1:
            time.sleep(_cap["s"])
        return real(*args, **kwargs)
    return factory


_w.TaskHubGrpcWorker.__init__ = _patched_init
_shared.get_grpc_channel = _wrap(_shared.get_grpc_channel)
