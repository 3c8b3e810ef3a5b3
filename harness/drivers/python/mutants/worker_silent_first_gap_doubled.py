"""Mutant (late, not never): before the stream's first message the silent-disconnect timer allows
TWICE the timeout (a "first-message grace"); after it, the configured timeout.

Expected to FAIL WRK-TIMER-001 (HEALTH-1: the gap before the first message is bounded by the same T):
a stream that never answers is given up at 2·T. How: as worker_silent_after_first_message.py, but the
first read's timeout is doubled instead of dropped.
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
        timeout = None if timeout is None else 2 * timeout
    return _asyncio.wait_for(aw, timeout, **kwargs)


_proxy = _AsyncioProxy("asyncio")
_proxy.wait_for = _wait_for
_w.asyncio = _proxy
_w.stubs = _Stubs()
