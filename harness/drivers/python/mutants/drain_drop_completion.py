"""Mutant: a completion is silently dropped when the worker reconnected while the work ran.

Expected to FAIL DRAIN-001 (test_inflight_drain.py, "in-flight completion delivered exactly once"):
the activity finishes, but its ``CompleteActivityTask`` is never sent because a new GetWorkItems
stream was opened in the meantime. How: count the worker's GetWorkItems calls (wrapping the stub
class the worker module uses) and, in ``_execute_activity``, hand the handler a stub whose
``CompleteActivityTask`` does nothing if the count changed since the activity started.
"""

import functools

import durabletask.worker as _w

_real_stubs = _w.stubs
_streams = [0]


class _CountingStubs:
    def __getattr__(self, name):
        return getattr(_real_stubs, name)

    def TaskHubSidecarServiceStub(self, channel):  # noqa: N802
        stub = _real_stubs.TaskHubSidecarServiceStub(channel)
        real_get = stub.GetWorkItems

        def get_work_items(*args, **kwargs):
            _streams[0] += 1
            return real_get(*args, **kwargs)

        stub.GetWorkItems = get_work_items
        return stub


class _DroppingStub:
    def __init__(self, stub, seen):
        self._stub, self._seen = stub, seen

    def __getattr__(self, name):
        return getattr(self._stub, name)

    def CompleteActivityTask(self, res, *args, **kwargs):  # noqa: N802
        if _streams[0] != self._seen:
            return None  # "reconnected meanwhile": drop the completion
        return self._stub.CompleteActivityTask(res, *args, **kwargs)


_w.stubs = _CountingStubs()
_real_exec = _w.TaskHubGrpcWorker._execute_activity


@functools.wraps(_real_exec)
def _execute_activity(self, req, stub, completionToken):  # noqa: N803
    return _real_exec(self, req, _DroppingStub(stub, _streams[0]), completionToken)


_w.TaskHubGrpcWorker._execute_activity = _execute_activity
