"""Mutant: a CANCELLED sent by the server is taken for the worker's own shutdown: the worker stops.

Expected to FAIL WRK-STATUS-002 (HEALTH-6; P CHANGELOG: workers "reconnect after a peer cancellation
and still exit normally when stopped"; daprd answers with CANCELLED when it shuts down): after the
first peer CANCELLED on Hello or GetWorkItems the worker never connects again. How: the stubs the
worker builds are wrapped so that a CANCELLED that was not the worker's own local cancel sets the
worker's shutdown flag before it propagates (1.12.0 then leaves its run loop, as for a stop()).
"""

import functools

import durabletask.worker as _w
import grpc

_real_stubs = _w.stubs
_workers = []
_init = _w.TaskHubGrpcWorker.__init__


@functools.wraps(_init)
def _patched_init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    _workers.append(self)


def _peer_cancel(exc):
    if isinstance(exc, grpc.RpcError) and exc.code() == grpc.StatusCode.CANCELLED \
            and "Locally cancelled" not in str(exc.details()):
        for w in _workers:
            w._shutdown.set()


class _Stream:
    def __init__(self, call):
        self._call = call

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self._call)
        except grpc.RpcError as exc:
            _peer_cancel(exc)
            raise

    def __getattr__(self, name):
        return getattr(self._call, name)


class _Stubs:
    def __getattr__(self, name):
        return getattr(_real_stubs, name)

    def TaskHubSidecarServiceStub(self, channel):  # noqa: N802
        stub = _real_stubs.TaskHubSidecarServiceStub(channel)
        real_hello, real_get = stub.Hello, stub.GetWorkItems

        def hello(*args, **kwargs):
            try:
                return real_hello(*args, **kwargs)
            except grpc.RpcError as exc:
                _peer_cancel(exc)
                raise

        stub.Hello = hello
        stub.GetWorkItems = lambda *args, **kwargs: _Stream(real_get(*args, **kwargs))
        return stub


_w.TaskHubGrpcWorker.__init__ = _patched_init
_w.stubs = _Stubs()
