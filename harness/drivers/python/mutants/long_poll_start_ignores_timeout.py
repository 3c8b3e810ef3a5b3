"""Mutant (late, not never): ``wait_for_orchestration_start`` sends twice the caller's timeout as its
deadline.

Expected to FAIL CLI-LONGPOLL-003 (the caller's timeout is the long poll's deadline, and its expiry the
caller's TimeoutError, on time). How: the sync and async clients' ``wait_for_orchestration_start`` are
called with ``timeout * 2``.
"""

import functools

import durabletask.client as _c


def _doubled(real):
    @functools.wraps(real)
    def wait(self, instance_id, *args, timeout=60, **kwargs):
        return real(self, instance_id, *args, timeout=timeout * 2, **kwargs)
    return wait


_c.TaskHubGrpcClient.wait_for_orchestration_start = _doubled(_c.TaskHubGrpcClient.wait_for_orchestration_start)
if hasattr(_c, "AsyncTaskHubGrpcClient"):
    _c.AsyncTaskHubGrpcClient.wait_for_orchestration_start = _doubled(
        _c.AsyncTaskHubGrpcClient.wait_for_orchestration_start)
