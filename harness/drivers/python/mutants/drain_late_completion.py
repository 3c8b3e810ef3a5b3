"""Mutant, late but not never: the completion of a work item whose stream was lost is held back until
another run of the same item (the server's redelivery) has completed it, and only then sent.

Expected to FAIL DRAIN-001 ("the in-flight run's own completion was delivered") in the DRAIN-001 cases
of conformance/test_inflight_drain.py: the in-flight run's result does reach the server, but after
the redelivered run's, so the server has already taken the redelivered run's result and records the
in-flight run's as a duplicate. A check that only asks "was the item completed once?" passes it.

How: as drain_drop_completion.py (a proxy on every GetWorkItems call remembers which stream delivered
each completion token and whether it has ended; ``_execute_activity`` notes its run's stream when the
run starts), but the run's ``CompleteActivityTask``, once its stream has ended, waits until another
run's completion of the same token returned (at most ``HOLD_S``: late, never lost), then sends.
"""

import functools
import threading

import durabletask.worker as _w

HOLD_S = 20.0  # longest hold when no other run completes the item: late, but never lost
_real_stubs = _w.stubs
_real_exec = _w.TaskHubGrpcWorker._execute_activity
_lock = threading.Lock()
_delivered_by: dict = {}  # completion token -> the stream that delivered it last
_completed: dict = {}  # completion token -> threading.Event, set once a run's completion of it returned


class _Tracked:
    """A GetWorkItems call: iterated and cancelled as the real one, remembering what it delivered."""

    def __init__(self, call):
        self._call, self.ended = call, False

    def __getattr__(self, name):
        return getattr(self._call, name)

    def __iter__(self):
        try:
            for item in self._call:
                if item.completionToken:
                    with _lock:
                        _delivered_by[item.completionToken] = self
                yield item
        finally:
            self.ended = True

    def cancel(self):
        self.ended = True
        return self._call.cancel()


class _Stubs:
    def __getattr__(self, name):
        return getattr(_real_stubs, name)

    def TaskHubSidecarServiceStub(self, channel):  # noqa: N802
        stub = _real_stubs.TaskHubSidecarServiceStub(channel)
        real_get = stub.GetWorkItems

        def get_work_items(*args, **kwargs):
            return _Tracked(real_get(*args, **kwargs))

        stub.GetWorkItems = get_work_items
        return stub


def _done_event(token):
    with _lock:
        return _completed.setdefault(token, threading.Event())


class _RunStub:
    """The stub one run completes through: holds the completion back while its stream is gone."""

    def __init__(self, stub, stream):
        self._stub, self._stream = stub, stream

    def __getattr__(self, name):
        return getattr(self._stub, name)

    def CompleteActivityTask(self, res, *args, **kwargs):  # noqa: N802
        lost = self._stream is not None and self._stream.ended
        if lost:
            _done_event(res.completionToken).wait(HOLD_S)  # until the redelivered run has completed it
        out = self._stub.CompleteActivityTask(res, *args, **kwargs)
        if not lost:
            _done_event(res.completionToken).set()
        return out


@functools.wraps(_real_exec)
def _execute_activity(self, req, stub, completionToken):  # noqa: N803
    with _lock:
        stream = _delivered_by.get(completionToken)
    return _real_exec(self, req, _RunStub(stub, stream), completionToken)


_w.stubs = _Stubs()
_w.TaskHubGrpcWorker._execute_activity = _execute_activity
