"""Mutant: the FIRST recreation is subject to the minimum interval too (counted from construction).

Expected to FAIL CLI-RECREATE-003 (N: the first recreation is never blocked by the cooldown). How:
the client's last-recreate time is stamped at construction instead of starting at "never".
"""

import functools
import time

import durabletask.client as _c


def _wrap(cls):
    real = cls.__init__

    @functools.wraps(real)
    def init(self, *args, **kwargs):
        real(self, *args, **kwargs)
        self._last_recreate_time = time.monotonic()

    cls.__init__ = init


_wrap(_c.TaskHubGrpcClient)
_wrap(_c.AsyncTaskHubGrpcClient)
