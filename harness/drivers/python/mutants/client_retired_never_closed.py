"""Mutant: a replaced client channel is retired but never closed (its grace timer does nothing).

Expected to FAIL CLI-RETIRE-001 (RETIRE-1/-2: the previous channel is closed after its grace): a long
poll on the retired channel is not cut when the grace ends; it runs to its own deadline and comes
back as the caller's TimeoutError, and the channel (with its TCP connection) leaks. How: both clients'
``_close_retired_channel`` (the sync client's timer callback; the async client's task, which first
sleeps the grace) forget the channel instead of closing it.
"""

import asyncio

import durabletask.client as _c


def _sync_close_retired(self, channel):
    with self._recreate_lock:
        self._retired_channels.pop(channel, None)


async def _async_close_retired(self, channel):
    await asyncio.sleep(_c._RETIRED_CHANNEL_CLOSE_DELAY_SECONDS)
    async with self._recreate_lock:
        if channel in self._retired_channels:
            self._retired_channels.remove(channel)


_c.TaskHubGrpcClient._close_retired_channel = _sync_close_retired
_c.AsyncTaskHubGrpcClient._close_retired_channel = _async_close_retired
