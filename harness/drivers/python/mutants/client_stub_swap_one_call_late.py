"""Mutant: after a recreation the sync client's NEXT call still runs through the old stub (the swap
takes effect one call late, "late, not never").

Expected to FAIL CLI-RECREATE-006 ("later calls work on the new channel": the first later call runs
on the replaced channel) and, on top of the FIXED variant client_fix_local_subchannel.py,
CLI-RECREATE-004 (the first call after the recreation arrives from the old TCP connection). How: the
stub the recreation assigns is parked (``_stub`` becomes a class-level slot; an assignment made during
a recreation goes aside, so no call can see the new stub early), and ``get_orchestration_state``
installs it when the first call that STARTED after the recreation has run on the old stub.
"""

import functools
import threading

import durabletask.client as _c

_recreate = _c.TaskHubGrpcClient._maybe_recreate_channel
_get_state = _c.TaskHubGrpcClient.get_orchestration_state
_recreating = threading.local()


class _StubSlot:
    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        try:
            return obj.__dict__["_stub_kept"]
        except KeyError:
            raise AttributeError("_stub") from None

    def __set__(self, obj, value):
        if getattr(_recreating, "active", False) and "_stub_kept" in obj.__dict__:
            obj.__dict__["_late_new_stub"] = value  # parked until one more call has run on the old stub
            return
        obj.__dict__["_stub_kept"] = value


@functools.wraps(_recreate)
def _maybe_recreate_channel(self):
    _recreating.active = True
    try:
        _recreate(self)
    finally:
        _recreating.active = False


@functools.wraps(_get_state)
def get_orchestration_state(self, *args, **kwargs):
    # Only a call that STARTED after the recreation is the "one call late" (the failing call that
    # triggered it may still be returning when the recreate thread finishes).
    pending = "_late_new_stub" in self.__dict__
    try:
        return _get_state(self, *args, **kwargs)
    finally:
        if pending:
            self.__dict__["_stub_kept"] = self.__dict__.pop("_late_new_stub")


_c.TaskHubGrpcClient._stub = _StubSlot()
_c.TaskHubGrpcClient._maybe_recreate_channel = _maybe_recreate_channel
_c.TaskHubGrpcClient.get_orchestration_state = get_orchestration_state
