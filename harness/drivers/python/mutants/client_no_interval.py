"""Mutant: ``min_recreate_interval_seconds`` is ignored (every threshold crossing recreates).

Expected to FAIL CLI-RECREATE-002. How: after construction the client's resiliency options are
replaced by a copy with ``min_recreate_interval_seconds=0``.
"""

import dataclasses
import functools

import durabletask.client as _c


def _wrap(cls):
    real = cls.__init__

    @functools.wraps(real)
    def init(self, *args, **kwargs):
        real(self, *args, **kwargs)
        self._resiliency_options = dataclasses.replace(self._resiliency_options,
                                                       min_recreate_interval_seconds=0.0)

    cls.__init__ = init


_wrap(_c.TaskHubGrpcClient)
_wrap(_c.AsyncTaskHubGrpcClient)
