"""Mutant: channels the SDK rebuilds lose the caller's metadata (only the first channel has it).

Expected to FAIL CHAN-OWN-003 (CLIENT-4: a fresh channel is built "with the existing host,
interceptors, ..."). How: from the second SDK-built channel in the process on,
``durabletask.internal.shared.get_grpc_channel`` / ``get_async_grpc_channel`` drop the SDK's
metadata interceptors (``Default*ClientInterceptorImpl``); other interceptors are kept.
"""

import functools
import itertools

import durabletask.internal.shared as _shared

_built = itertools.count(1)


def _wrap(real):
    @functools.wraps(real)
    def factory(host_address, secure_channel=False, interceptors=None, channel_options=None):
        if next(_built) > 1 and interceptors:
            interceptors = [i for i in interceptors if "Default" not in type(i).__name__
                            or "ClientInterceptorImpl" not in type(i).__name__]
        return real(host_address, secure_channel, interceptors, channel_options)
    return factory


_shared.get_grpc_channel = _wrap(_shared.get_grpc_channel)
_shared.get_async_grpc_channel = _wrap(_shared.get_async_grpc_channel)
