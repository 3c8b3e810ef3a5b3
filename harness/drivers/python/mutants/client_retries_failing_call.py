"""Mutant: the client hides the failing call's error by retrying it once, transparently.

Expected to FAIL CLI-RECREATE-006 (P: "The failing RPC still fails normally"): the caller sees a
success for a call that failed, and the server sees an extra call. How: ``get_orchestration_state``
(sync and async) retries once on an UNAVAILABLE RpcError.
"""

import functools

import durabletask.client as _c
import grpc

_real_sync = _c.TaskHubGrpcClient.get_orchestration_state
_real_async = _c.AsyncTaskHubGrpcClient.get_orchestration_state


@functools.wraps(_real_sync)
def _sync(self, *args, **kwargs):
    try:
        return _real_sync(self, *args, **kwargs)
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.UNAVAILABLE:
            raise
        return _real_sync(self, *args, **kwargs)


@functools.wraps(_real_async)
async def _async(self, *args, **kwargs):
    try:
        return await _real_async(self, *args, **kwargs)
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.UNAVAILABLE:
            raise
        return await _real_async(self, *args, **kwargs)


_c.TaskHubGrpcClient.get_orchestration_state = _sync
_c.AsyncTaskHubGrpcClient.get_orchestration_state = _async
