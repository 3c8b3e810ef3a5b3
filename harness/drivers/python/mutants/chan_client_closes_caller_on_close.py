"""Mutant: ``close()`` closes the channel the caller supplied (the client treats it as its own at the
end of its life, though it never replaced it).

Expected to FAIL CHAN-OWN-001 (P: caller-supplied channels are "never recreated or closed"): the
caller's channel is closed before the driver, its owner, closes it. How: both clients' ``close()``
also close ``self._channel`` when the client does not own it.
"""

import functools

import durabletask.client as _c

_sync_real = _c.TaskHubGrpcClient.close
_async_real = _c.AsyncTaskHubGrpcClient.close


@functools.wraps(_sync_real)
def _sync_close(self):
    _sync_real(self)
    if not self._owns_channel:
        self._channel.close()


@functools.wraps(_async_real)
async def _async_close(self):
    await _async_real(self)
    if not self._owns_channel and self._channel is not None:
        await self._channel.close()


_c.TaskHubGrpcClient.close = _sync_close
_c.AsyncTaskHubGrpcClient.close = _async_close
