"""Mutant: the client builds a new channel on recreation but keeps calling through the OLD stub.

Expected to FAIL CLI-RECREATE-006 ("later calls work on the new channel"): later calls still run
on the replaced channel (and would die with it once it is retired); on top of the FIXED variant
client_fix_local_subchannel.py also CLI-RECREATE-004 (the next call comes from the old connection).
How: the sync client's ``_maybe_recreate_channel`` runs as shipped, but the stub it assigns is dropped
(``_stub`` becomes a class-level slot that ignores assignments made during a recreation), so no call
can ever see the new stub, not even one that races the recreate thread.
"""

import functools
import threading

import durabletask.client as _c

_real = _c.TaskHubGrpcClient._maybe_recreate_channel
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
            return  # the broken part: the new stub never takes effect
        obj.__dict__["_stub_kept"] = value


@functools.wraps(_real)
def _maybe_recreate_channel(self):
    _recreating.active = True
    try:
        _real(self)
    finally:
        _recreating.active = False


_c.TaskHubGrpcClient._stub = _StubSlot()
_c.TaskHubGrpcClient._maybe_recreate_channel = _maybe_recreate_channel
