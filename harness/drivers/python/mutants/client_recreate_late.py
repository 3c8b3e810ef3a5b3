"""Mutant: the client recreates its channel at the right failure, but LATE_S seconds after it (a
recreation that waits, e.g. behind a slow resolver or a lock, "late, not never").

Expected to FAIL CLI-RECREATE-001's promptness verdict (test_recreate_after_exactly_threshold:
"recreation follows the failure that made it due within the tolerance"): the recreation still
happens, and within the scenario's pacing bound, so only the timing check can catch it; calls made
meanwhile still run on the failing channel. How: the sync client's recreate thread and the async
client's recreate task sleep LATE_S before ``_maybe_recreate_channel``.
"""

import asyncio
import functools
import time

import durabletask.client as _c

LATE_S = 0.6  # far above any tolerance the suite accepts, far below its 2 s pacing bound

_sync_real = _c.TaskHubGrpcClient._maybe_recreate_channel
_async_real = _c.AsyncTaskHubGrpcClient._maybe_recreate_channel


@functools.wraps(_sync_real)
def _sync_late(self):
    time.sleep(LATE_S)
    _sync_real(self)


@functools.wraps(_async_real)
async def _async_late(self):
    await asyncio.sleep(LATE_S)
    await _async_real(self)


_c.TaskHubGrpcClient._maybe_recreate_channel = _sync_late
_c.AsyncTaskHubGrpcClient._maybe_recreate_channel = _async_late
