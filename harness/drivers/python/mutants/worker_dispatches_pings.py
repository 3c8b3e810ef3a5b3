"""Mutant: health pings are dispatched as work (each ping runs as an activity with no name).

Expected to FAIL WRK-PING-001 (HEALTH-3: pings are not dispatched): every ping makes the worker
answer with a ``CompleteActivityTask`` (a failure: no activity is registered under the empty name).
How: the stub's ``GetWorkItems`` stream is wrapped so that each ``healthPing`` work item reaches the
worker as an ``activityRequest`` without name or token, as a build that does not special-case pings
and treats every work item as a task would.
"""

import durabletask.internal.orchestrator_service_pb2 as _pb
import durabletask.worker as _w

_real_stubs = _w.stubs


class _Stream:
    def __init__(self, call):
        self._call = call

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self._call)
        if item.HasField("healthPing"):
            return _pb.WorkItem(activityRequest=_pb.ActivityRequest(name="", taskId=0))
        return item

    def __getattr__(self, name):
        return getattr(self._call, name)


class _Stubs:
    def __getattr__(self, name):
        return getattr(_real_stubs, name)

    def TaskHubSidecarServiceStub(self, channel):  # noqa: N802
        stub = _real_stubs.TaskHubSidecarServiceStub(channel)
        real_get = stub.GetWorkItems
        stub.GetWorkItems = lambda *args, **kwargs: _Stream(real_get(*args, **kwargs))
        return stub


_w.stubs = _Stubs()
