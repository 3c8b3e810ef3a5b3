"""Mutant: the silent-disconnect timer fires at 2*T instead of T ("late, not never").

Expected to FAIL WRK-STREAM-001 (test_silent_stall.py: the black-holed stream is given up 2*T after
the last message, or only when the path heals, outside T +- tolerance) and WRK-STREAM-003
(test_worker_stream_health.py::test_silence_after_pings). no_silent_timeout.py is the "never"
variant. How: every TaskHubGrpcWorker is constructed with twice the silent-disconnect timeout the
caller asked for (a unit slip of the kind "timeout counted from the previous check").
"""

import dataclasses
import functools

import durabletask.worker as _w
from durabletask.grpc_options import GrpcWorkerResiliencyOptions

_real_init = _w.TaskHubGrpcWorker.__init__


@functools.wraps(_real_init)  # keeps the signature the driver feature-detects
def _init(self, *args, **kwargs):
    opts = kwargs.get("resiliency_options") or GrpcWorkerResiliencyOptions()
    kwargs["resiliency_options"] = dataclasses.replace(
        opts, silent_disconnect_timeout_seconds=2 * opts.silent_disconnect_timeout_seconds)
    _real_init(self, *args, **kwargs)


_w.TaskHubGrpcWorker.__init__ = _init
