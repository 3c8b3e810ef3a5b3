"""Mutant: a completion the server refuses wedges the worker's activity processing.

Expected to FAIL DRAIN-003 (test_inflight_drain.py::test_failed_completion_does_not_wedge_worker,
"work item completed on the recovered stream"): after one ``CompleteActivityTask`` fails, every later
activity blocks before it runs (as a worker whose completion path holds a lock forever would). How:
wrap ``_execute_activity``; a stub wrapper notices the failed completion and trips a latch that every
later activity waits on until the worker stops.
"""

import functools
import threading

import durabletask.worker as _w

_wedged = threading.Event()
_real_exec = _w.TaskHubGrpcWorker._execute_activity


class _WatchingStub:
    def __init__(self, stub):
        self._stub = stub

    def __getattr__(self, name):
        return getattr(self._stub, name)

    def CompleteActivityTask(self, res, *args, **kwargs):  # noqa: N802
        try:
            return self._stub.CompleteActivityTask(res, *args, **kwargs)
        except Exception:
            _wedged.set()
            raise


@functools.wraps(_real_exec)
def _execute_activity(self, req, stub, completionToken):  # noqa: N803
    if _wedged.is_set():
        self._shutdown.wait()  # wedged until stop()
        return None
    return _real_exec(self, req, _WatchingStub(stub), completionToken)


_w.TaskHubGrpcWorker._execute_activity = _execute_activity
