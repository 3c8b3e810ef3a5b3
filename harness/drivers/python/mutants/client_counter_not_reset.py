"""Mutant: a recreation leaves the client's consecutive-failure count where it was (at the threshold).

Expected to FAIL CLI-COUNTER-001 (N: a successful recreation resets the counter): after a recreation
every further single failure recreates again. How: both clients' ``_maybe_recreate_channel`` are
wrapped to put the failure tracker's count back after they ran (1.12.0's sync client resets it inside).
"""

import functools

import durabletask.client as _c


def _sync(real):
    @functools.wraps(real)
    def recreate(self):
        kept = self._client_failure_tracker.consecutive_failures
        real(self)
        self._client_failure_tracker.consecutive_failures = kept
    return recreate


def _async(real):
    @functools.wraps(real)
    async def recreate(self):
        kept = self._client_failure_tracker.consecutive_failures
        await real(self)
        self._client_failure_tracker.consecutive_failures = kept
    return recreate


_c.TaskHubGrpcClient._maybe_recreate_channel = _sync(_c.TaskHubGrpcClient._maybe_recreate_channel)
_c.AsyncTaskHubGrpcClient._maybe_recreate_channel = _async(_c.AsyncTaskHubGrpcClient._maybe_recreate_channel)
