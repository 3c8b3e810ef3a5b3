"""Mutant: a silent-disconnect timeout of 0 is applied literally (every stream read times out at once)
instead of switching the timer off.

Expected to FAIL WRK-TIMER-002 (HEALTH-1: a value <= 0 disables the check; P's package takes 0): a
quiet stream is given up at once, over and over. How: the worker waits for each stream message with
``asyncio.wait_for(loop.run_in_executor(...), timeout=silent_timeout or None)``; the worker module's
``asyncio`` is swapped for a proxy whose ``wait_for`` turns a missing timeout on an executor future
(the stream read; the work-queue polls are coroutines) into 0.
"""

import asyncio as _asyncio
import types

import durabletask.worker as _w


class _AsyncioProxy(types.ModuleType):
    def __getattr__(self, name):
        return getattr(_asyncio, name)


def _wait_for(aw, timeout=None, **kwargs):
    if timeout is None and isinstance(aw, _asyncio.Future):
        timeout = 0
    return _asyncio.wait_for(aw, timeout, **kwargs)


_proxy = _AsyncioProxy("asyncio")
_proxy.wait_for = _wait_for
_w.asyncio = _proxy
