"""Mutant: a recreated channel is built from the address alone: no channel options, no user
interceptors, no TLS (only the first SDK-built channel has them).

Expected to FAIL CHAN-CONFIG-001 (CLIENT-4, P: the fresh channel is built "with the existing host,
interceptors, secure channel flag, and GrpcChannelOptions"). How: from the second SDK-built channel in
the process on, ``durabletask.internal.shared.get_grpc_channel`` / ``get_async_grpc_channel`` (read at
call time by the worker and both clients) drop ``channel_options``, ``secure_channel`` and every
interceptor that is neither the SDK's own (resiliency, metadata) nor the driver's RPC observer.
"""

import functools
import itertools

import durabletask.internal.shared as _shared

_built = itertools.count(1)


def _sdk_or_observer(interceptor):
    return type(interceptor).__module__.startswith("durabletask") or type(interceptor).__name__ == "RpcObserver"


def _wrap(real):
    @functools.wraps(real)
    def factory(host_address, secure_channel=False, interceptors=None, channel_options=None):
        if next(_built) > 1:
            secure_channel, channel_options = False, None
            interceptors = [i for i in interceptors or [] if _sdk_or_observer(i)] or None
        return real(host_address, secure_channel, interceptors, channel_options)
    return factory


_shared.get_grpc_channel = _wrap(_shared.get_grpc_channel)
_shared.get_async_grpc_channel = _wrap(_shared.get_async_grpc_channel)
