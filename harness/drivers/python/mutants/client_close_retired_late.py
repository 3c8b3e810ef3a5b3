"""Mutant: ``close()`` returns at once but closes the retired channels LATE_S seconds later, in the
background ("late, not never").

Expected to FAIL CLI-RECREATE-008 (RETIRE-2: when close() returns, the retired channels are closed).
How: both clients' ``close()`` hand their retired channels to a background timer / task instead of
closing them before returning.
"""

import asyncio
import functools
import threading

import durabletask.client as _c

LATE_S = 0.6  # far above any tolerance the suite accepts, far below its 2 s pacing bound

_sync_real = _c.TaskHubGrpcClient.close
_async_real = _c.AsyncTaskHubGrpcClient.close


@functools.wraps(_sync_real)
def _sync_close(self):
    with self._recreate_lock:
        retired = list(self._retired_channels.items())
        self._retired_channels.clear()
    for _, timer in retired:
        timer.cancel()
    _sync_real(self)
    late = threading.Timer(LATE_S, lambda: [ch.close() for ch, _ in retired])
    late.daemon = True
    late.start()


@functools.wraps(_async_real)
async def _async_close(self):
    retired, tasks = list(self._retired_channels), list(self._retired_channel_close_tasks)
    self._retired_channels.clear()
    self._retired_channel_close_tasks.clear()
    for t in tasks:
        t.cancel()
    await _async_real(self)

    async def close_later():
        await asyncio.sleep(LATE_S)
        for ch in retired:
            await ch.close()

    asyncio.get_running_loop().create_task(close_later())


_c.TaskHubGrpcClient.close = _sync_close
_c.AsyncTaskHubGrpcClient.close = _async_close
