"""Mutant: stop() waits a fixed half-second "grace for in-flight work" before it returns, even when
nothing is in flight ("late, not never").

Expected to FAIL WRK-SHUT-003 (stop() with an idle stream returns within its bound) when stacked on
worker_fix_stop_poll.py (1.12.0 alone already fails it: finding F-11), and WRK-SHUT-001 for the same
reason. GRACE_S is twice the 0.25 s bound the stop checks used when this variant was written, so any
stop bound up to 0.25 s sees it. How: wrap ``TaskHubGrpcWorker.stop``.
"""

import functools
import time

import durabletask.worker as _w

GRACE_S = 0.5

_real_stop = _w.TaskHubGrpcWorker.stop


@functools.wraps(_real_stop)
def _stop(self):
    _real_stop(self)
    time.sleep(GRACE_S)


_w.TaskHubGrpcWorker.stop = _stop
