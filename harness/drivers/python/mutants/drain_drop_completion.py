"""Mutant: the completion of a work item whose stream was lost is silently dropped ("the server will
redeliver it anyway").

Expected to FAIL DRAIN-001 ("the in-flight run's own completion was delivered") in every DRAIN-001
case of conformance/test_inflight_drain.py (graceful close, GOAWAY, a black hole that heals) and in
scenarios/field/dapr_python_900_sidecar_killed_mid_activity.toml: the activity finishes, but its
``CompleteActivityTask`` is never sent, because the GetWorkItems stream that delivered the item has
ended meanwhile. With a server that redelivers the item (the fake's ``at_once`` lease mode) a second
run completes it, so a check that only asks "was the item completed?" passes; with ``never`` nothing
completes it.

How: the stub class the worker module uses is wrapped so that ``GetWorkItems`` returns the real call
inside a proxy that notes the completion token of every work item it yields and marks the stream
ended when its iteration stops (end, error) or the SDK cancels it. ``_execute_activity`` notes, when
the run starts, which stream delivered its item, and hands the SDK's code a stub whose
``CompleteActivityTask`` returns without sending once THAT stream has ended (a redelivered run of
the same item, delivered by a live stream, completes normally). Nothing else changes: the run, the
driver's ``activity_finished``, the channel bookkeeping are the SDK's own.
"""

import functools
import threading

import durabletask.worker as _w

_real_stubs = _w.stubs
_real_exec = _w.TaskHubGrpcWorker._execute_activity
_lock = threading.Lock()
_delivered_by: dict = {}  # completion token -> the stream that delivered it last


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


class _RunStub:
    """The stub one run completes through: drops the completion once the run's stream has ended."""

    def __init__(self, stub, stream):
        self._stub, self._stream = stub, stream

    def __getattr__(self, name):
        return getattr(self._stub, name)

    def CompleteActivityTask(self, res, *args, **kwargs):  # noqa: N802
        if self._stream is not None and self._stream.ended:
            return None  # its stream is gone: drop the result, the server redelivers the item
        return self._stub.CompleteActivityTask(res, *args, **kwargs)


@functools.wraps(_real_exec)
def _execute_activity(self, req, stub, completionToken):  # noqa: N803
    with _lock:
        stream = _delivered_by.get(completionToken)
    return _real_exec(self, req, _RunStub(stub, stream), completionToken)


_w.stubs = _Stubs()
_w.TaskHubGrpcWorker._execute_activity = _execute_activity
