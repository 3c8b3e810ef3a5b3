"""Mutant: the client recreates its channel on the FIRST counted failure, whatever the threshold.

Expected to FAIL CLI-RECREATE-001 (recreation only after exactly N consecutive failures). How:
after each client is constructed, its failure tracker's threshold is forced to 1.
"""

import functools

import durabletask.client as _c


def _wrap(cls):
    real = cls.__init__

    @functools.wraps(real)  # keeps the signature the driver feature-detects
    def init(self, *args, **kwargs):
        real(self, *args, **kwargs)
        self._client_failure_tracker.threshold = 1

    cls.__init__ = init


_wrap(_c.TaskHubGrpcClient)
_wrap(_c.AsyncTaskHubGrpcClient)
