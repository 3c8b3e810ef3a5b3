"""Mutant: the sync client replaces a caller-supplied channel, LATE_S seconds after the threshold
crossing (a late recreation of a channel it must never recreate).

Expected to FAIL CHAN-OWN-001 (P: caller-supplied channels are "never recreated or closed"). The
replacement is due after the caller client's own calls, while the control client (an SDK-owned one in
the same process) is driven into its recreation: the checks before issue #8, which matched
recreations to phases by time alone, charged it to the control and passed this build. Now the caller
client's "no recreation" window runs to the end of the test and counts only its own channels (driver
``role``), and the test ends by closing the client: close() then finds the replacement pending and
closes the caller's channel as its own, which the ownership check sees first ("the SDK never closes
the caller's channel"). How: as chan_client_replaces_caller.py (the client wraps the caller's channel
with its resiliency interceptor and marks it SDK-owned), and its recreation waits LATE_S first.
"""

import functools
import time

import durabletask.client as _c
import grpc

LATE_S = 0.6  # far above any tolerance the suite accepts, far below its 2 s pacing bound

_init = _c.TaskHubGrpcClient.__init__
_recreate = _c.TaskHubGrpcClient._maybe_recreate_channel


@functools.wraps(_init)
def __init__(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    if kwargs.get("channel") is not None:
        self._owns_channel = True
        self._replaces_caller_late = True
        self._channel = grpc.intercept_channel(self._channel, self._resiliency_interceptor)
        self._stub = _c.stubs.TaskHubSidecarServiceStub(self._channel)


@functools.wraps(_recreate)
def _maybe_recreate_channel(self):
    if getattr(self, "_replaces_caller_late", False):
        time.sleep(LATE_S)
    _recreate(self)


_c.TaskHubGrpcClient.__init__ = __init__
_c.TaskHubGrpcClient._maybe_recreate_channel = _maybe_recreate_channel
