"""Mutant: the client enforces twice the configured ``min_recreate_interval_seconds`` (the first
recreation after the interval comes late, "late, not never").

Expected to FAIL CLI-RECREATE-002 (test_min_recreate_interval: the threshold crossing after the
configured interval has passed does not recreate). The first recreation is not blocked (that is
CLI-RECREATE-003's, unaffected). How: after construction the client's resiliency options are replaced
by a copy with the interval doubled.
"""

import dataclasses
import functools

import durabletask.client as _c


def _wrap(cls):
    real = cls.__init__

    @functools.wraps(real)
    def init(self, *args, **kwargs):
        real(self, *args, **kwargs)
        opts = self._resiliency_options
        self._resiliency_options = dataclasses.replace(
            opts, min_recreate_interval_seconds=2 * opts.min_recreate_interval_seconds)

    cls.__init__ = init


_wrap(_c.TaskHubGrpcClient)
_wrap(_c.AsyncTaskHubGrpcClient)
