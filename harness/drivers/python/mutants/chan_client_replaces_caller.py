"""Mutant: the sync client treats a caller-supplied channel as its own (tracks, replaces, retires it).

Expected to FAIL CHAN-OWN-001 (P: caller-supplied channels are never recreated or closed). How:
after construction with ``channel=``, the client wraps the caller's channel with its resiliency
interceptor and marks it SDK-owned, so the threshold replaces it with a channel built from the
host address (and the caller's channel is retired).
"""

import functools

import durabletask.client as _c
import grpc

_real = _c.TaskHubGrpcClient.__init__


@functools.wraps(_real)
def _init(self, *args, **kwargs):
    _real(self, *args, **kwargs)
    if kwargs.get("channel") is not None:
        self._owns_channel = True
        self._channel = grpc.intercept_channel(self._channel, self._resiliency_interceptor)
        self._stub = _c.stubs.TaskHubSidecarServiceStub(self._channel)


_c.TaskHubGrpcClient.__init__ = _init
