"""Mutant: the client builds a new channel on recreation but keeps calling through the OLD stub.

Expected to FAIL CLI-RECREATE-006 ("later calls work on the new channel"): later calls still run
on the replaced channel (and would die with it once it is retired). How: the sync client's
``_maybe_recreate_channel`` runs as shipped, then the previous stub is put back.
"""

import functools

import durabletask.client as _c

_real = _c.TaskHubGrpcClient._maybe_recreate_channel


@functools.wraps(_real)
def _maybe_recreate_channel(self):
    old_stub = self._stub
    _real(self)
    self._stub = old_stub


_c.TaskHubGrpcClient._maybe_recreate_channel = _maybe_recreate_channel
