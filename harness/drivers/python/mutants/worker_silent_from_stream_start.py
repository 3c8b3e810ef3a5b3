"""Mutant: the silent-disconnect timer runs from the stream START and is never re-armed by
messages (health pings included).

Expected to FAIL WRK-STREAM-003 (a stream that goes quiet after some pings is abandoned T after
it opened, not T after its last message) and WRK-STREAM-004 (a stream kept alive by pings is
dropped every T). How: the worker waits for each stream message with
``asyncio.wait_for(loop.run_in_executor(...), timeout=silent_timeout)``; the worker module's
``asyncio`` reference is swapped for a proxy whose ``wait_for`` shortens that timeout (only for
executor futures, i.e. the stream read; the work-queue polls are coroutines and untouched) to
what is left of T since the current stream was opened. The stream start is noted by a stub
wrapper around ``GetWorkItems``.
"""

import asyncio as _asyncio
import time
import types

import durabletask.worker as _w

_state = {"start": None}
_real_stubs = _w.stubs


class _Stubs:
    def __getattr__(self, name):
        return getattr(_real_stubs, name)

    def TaskHubSidecarServiceStub(self, channel):  # noqa: N802
        stub = _real_stubs.TaskHubSidecarServiceStub(channel)
        real_get = stub.GetWorkItems

        def get_work_items(*args, **kwargs):
            _state["start"] = time.monotonic()
            return real_get(*args, **kwargs)

        stub.GetWorkItems = get_work_items
        return stub


class _AsyncioProxy(types.ModuleType):
    def __getattr__(self, name):
        return getattr(_asyncio, name)


def _wait_for(aw, timeout=None, **kwargs):
    if timeout is not None and _state["start"] is not None and isinstance(aw, _asyncio.Future):
        timeout = max(0.0, _state["start"] + timeout - time.monotonic())
    return _asyncio.wait_for(aw, timeout, **kwargs)


_proxy = _AsyncioProxy("asyncio")
_proxy.wait_for = _wait_for
_w.asyncio = _proxy
_w.stubs = _Stubs()
