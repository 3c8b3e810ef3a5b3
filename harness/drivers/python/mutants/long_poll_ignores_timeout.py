"""Mutant: long polls do not use the caller's timeout as their deadline (they wait twice as long).

Expected to FAIL CLI-LONGPOLL-001 (the caller's timeout is the long poll's deadline). How: the
sync and async clients' ``wait_for_orchestration_completion`` are called with ``timeout * 2``.
``functools.wraps`` keeps the signatures the driver feature-detects.
"""

import functools

import durabletask.client as _c


def _doubled(fn):
    @functools.wraps(fn)
    def wrapper(self, instance_id, *args, timeout=60, **kwargs):
        return fn(self, instance_id, *args, timeout=timeout * 2, **kwargs)
    return wrapper


_c.TaskHubGrpcClient.wait_for_orchestration_completion = _doubled(
    _c.TaskHubGrpcClient.wait_for_orchestration_completion)
if hasattr(_c, "AsyncTaskHubGrpcClient"):
    _c.AsyncTaskHubGrpcClient.wait_for_orchestration_completion = _doubled(
        _c.AsyncTaskHubGrpcClient.wait_for_orchestration_completion)
