"""Mutant: the worker treats a caller-supplied channel as its own (closes and replaces it).

Expected to FAIL CHAN-OWN-002 (P: "When the worker does not own the channel, it keeps retrying the
existing transport"). How: after construction the worker's ``_owns_channel`` is forced to True, so
the recreate threshold retires (closes) the caller's channel and builds one from the host address.
"""

import functools

import durabletask.worker as _w

_real = _w.TaskHubGrpcWorker.__init__


@functools.wraps(_real)
def _init(self, *args, **kwargs):
    _real(self, *args, **kwargs)
    self._owns_channel = True


_w.TaskHubGrpcWorker.__init__ = _init
