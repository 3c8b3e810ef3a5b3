"""Mutant: the silent-disconnect timer is armed only once the stream has delivered its first message.

Expected to FAIL WRK-TIMER-001 (HEALTH-1, N: the timer is armed before the first read): a stream the
server accepts and then never answers (not even headers) is kept forever. How: the worker waits for
each stream message with ``asyncio.wait_for(loop.run_in_executor(...), timeout=silent_timeout)``; the
worker module's ``asyncio`` is swapped for a proxy whose ``wait_for`` drops that timeout (executor
futures only, i.e. the stream read) until the current stream has yielded a message, which a wrapper
around the stub's ``GetWorkItems`` notes.
"""

import asyncio as _asyncio
import types

import durabletask.worker as _w

_state = {"seen": True}
_real_stubs = _w.stubs


class _Stream:
    """The response stream as the worker uses it: iterated by its reader thread, cancelled by the loop."""

    def __init__(self, call):
        self._call = call

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self._call)
        _state["seen"] = True
        return item

    def __getattr__(self, name):
        return getattr(self._call, name)


class _Stubs:
    def __getattr__(self, name):
        return getattr(_real_stubs, name)

    def TaskHubSidecarServiceStub(self, channel):  # noqa: N802
        stub = _real_stubs.TaskHubSidecarServiceStub(channel)
        real_get = stub.GetWorkItems

        def get_work_items(*args, **kwargs):
            _state["seen"] = False
            return _Stream(real_get(*args, **kwargs))

        stub.GetWorkItems = get_work_items
        return stub


class _AsyncioProxy(types.ModuleType):
    def __getattr__(self, name):
        return getattr(_asyncio, name)


def _wait_for(aw, timeout=None, **kwargs):
    if isinstance(aw, _asyncio.Future) and not _state["seen"]:
        timeout = None
    return _asyncio.wait_for(aw, timeout, **kwargs)


_proxy = _AsyncioProxy("asyncio")
_proxy.wait_for = _wait_for
_w.asyncio = _proxy
_w.stubs = _Stubs()
