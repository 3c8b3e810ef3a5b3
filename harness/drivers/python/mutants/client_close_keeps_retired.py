"""Mutant: ``close()`` closes the client's current channel but leaves retired channels to their grace
timer (30 s in 1.12.0), i.e. closed much later, or never if the process ends first.

Expected to FAIL CLI-RECREATE-008 (RETIRE-2; P CHANGELOG v1.5.0: close() "closes any previously
retired SDK-owned gRPC channels immediately instead of waiting for the delayed cleanup timer"). How:
both clients' ``close()`` runs with the retired-channel bookkeeping emptied, and puts it back after.
"""

import functools

import durabletask.client as _c

_sync_real = _c.TaskHubGrpcClient.close
_async_real = _c.AsyncTaskHubGrpcClient.close


@functools.wraps(_sync_real)
def _sync_close(self):
    with self._recreate_lock:
        kept = dict(self._retired_channels)
        self._retired_channels.clear()
    _sync_real(self)
    self._retired_channels.update(kept)  # their timers still run: closed when the grace ends


@functools.wraps(_async_real)
async def _async_close(self):
    kept, tasks = list(self._retired_channels), set(self._retired_channel_close_tasks)
    self._retired_channels.clear()
    self._retired_channel_close_tasks.clear()
    await _async_real(self)
    self._retired_channels.extend(kept)
    self._retired_channel_close_tasks.update(tasks)


_c.TaskHubGrpcClient.close = _sync_close
_c.AsyncTaskHubGrpcClient.close = _async_close
