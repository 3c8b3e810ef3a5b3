"""Mutant: stop() does not interrupt a backoff sleep; it waits until the sleep is over.

Expected to FAIL WRK-SHUT-001 (in-backoff). How: the worker sleeps between attempts with
``self._shutdown.wait(delay)`` (a threading.Event, set by stop()). Every TaskHubGrpcWorker gets
an Event whose ``wait(timeout)`` sleeps the whole timeout before it looks at the flag.
"""

import functools
import threading
import time

import durabletask.worker as _w


class _SleepyEvent(threading.Event):
    def wait(self, timeout=None):
        if timeout is None:
            return super().wait()
        time.sleep(timeout)
        return self.is_set()


_real_init = _w.TaskHubGrpcWorker.__init__


@functools.wraps(_real_init)
def _init(self, *args, **kwargs):
    _real_init(self, *args, **kwargs)
    self._shutdown = _SleepyEvent()


_w.TaskHubGrpcWorker.__init__ = _init
