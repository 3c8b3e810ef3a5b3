"""Mutant: stop() returns 0.15 s late, whatever the worker was doing ("late, not never").

Expected to FAIL WRK-SHUT-001 in-backoff (stop() returns within its bound) with the stop() bound
derived for it (harness/checks/windows.py STOP_LATENCY_S, 0.06 s: the loaded worst case of the stop
work a prompt build does, times the safety factor). It PASSED the generic 0.25 s tolerance the stop
checks used before (issue #8: stop() latency gets its own bound). 0.15 s is 2.5x the bound, so the
verdict does not depend on machine latency, and it is still far below every wait the test says stop()
must not include (a backoff sleep of U[0, 10) s). How: wrap ``TaskHubGrpcWorker.stop``.
"""

import functools
import time

import durabletask.worker as _w

LATE_S = 0.15

_real_stop = _w.TaskHubGrpcWorker.stop


@functools.wraps(_real_stop)
def _stop(self):
    _real_stop(self)
    time.sleep(LATE_S)


_w.TaskHubGrpcWorker.stop = _stop
