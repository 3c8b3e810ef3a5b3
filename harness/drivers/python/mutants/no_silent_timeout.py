"""Mutant: the worker has no silent-disconnect timer (as before durabletask 1.5.0).

Expected to FAIL WRK-STREAM-001: a black-holed stream is never abandoned by the worker
itself; it only notices when the path heals and the dead connection is closed. How: every
``TaskHubGrpcWorker`` is constructed with ``silent_disconnect_timeout_seconds = 0`` (the
documented "disabled" value), whatever the caller asked for. Everything else is untouched.
"""

import dataclasses
import functools

import durabletask.worker as _w
from durabletask.grpc_options import GrpcWorkerResiliencyOptions

_real_init = _w.TaskHubGrpcWorker.__init__


@functools.wraps(_real_init)  # keeps the signature the driver feature-detects
def _init(self, *args, **kwargs):
    opts = kwargs.get("resiliency_options") or GrpcWorkerResiliencyOptions()
    kwargs["resiliency_options"] = dataclasses.replace(opts, silent_disconnect_timeout_seconds=0)
    _real_init(self, *args, **kwargs)


_w.TaskHubGrpcWorker.__init__ = _init
