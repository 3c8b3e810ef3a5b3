"""Mutant: a worker given no resiliency options runs with silent-disconnect detection OFF.

Expected to FAIL DEFAULTS-001 (promises.md section 1: the documented default silent timeout is 120 s,
"on by default with conservative values"): the build's declared default is 0. How: the worker's
constructor substitutes ``GrpcWorkerResiliencyOptions(silent_disconnect_timeout_seconds=0)`` when the
caller passes none (as a build that shipped detection opt-in would).
"""

import functools

import durabletask.grpc_options as _opts
import durabletask.worker as _w

_init = _w.TaskHubGrpcWorker.__init__


@functools.wraps(_init)
def _patched_init(self, *args, **kwargs):
    if kwargs.get("resiliency_options") is None:
        kwargs["resiliency_options"] = _opts.GrpcWorkerResiliencyOptions(silent_disconnect_timeout_seconds=0)
    _init(self, *args, **kwargs)


_w.TaskHubGrpcWorker.__init__ = _patched_init
