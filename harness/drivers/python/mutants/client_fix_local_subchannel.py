"""FIXED variant (not a mutant): every SDK-built channel uses its own (local) subchannel pool.

Used to show that CLI-RECREATE-004 can pass, i.e. that its failure on 1.12.0 (finding F-20) is the
SDK's and not the check's: with ``grpc.use_local_subchannel_pool`` a recreated channel cannot
pick up the replaced channel's TCP connection from grpc's process-wide subchannel pool. How:
``durabletask.internal.shared.get_grpc_channel`` / ``get_async_grpc_channel`` get a
``GrpcChannelOptions`` carrying that raw option (the same fix durabletask-js PR #357 applies).
"""

import dataclasses
import functools

import durabletask.internal.shared as _shared
from durabletask.grpc_options import GrpcChannelOptions

_OPT = ("grpc.use_local_subchannel_pool", 1)


def _with_local_pool(opts):
    if opts is None:
        return GrpcChannelOptions(raw_options=[_OPT])
    return dataclasses.replace(opts, raw_options=list(opts.raw_options or []) + [_OPT])


def _wrap(real):
    @functools.wraps(real)
    def factory(host_address, secure_channel=False, interceptors=None, channel_options=None):
        return real(host_address, secure_channel, interceptors, _with_local_pool(channel_options))
    return factory


_shared.get_grpc_channel = _wrap(_shared.get_grpc_channel)
_shared.get_async_grpc_channel = _wrap(_shared.get_async_grpc_channel)
