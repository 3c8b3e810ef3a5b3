"""Mutant: a backoff sleep cut short by stop() is taken as "time to reconnect": the worker makes
one more connect attempt after stop() was called, then notices the stop.

Expected to FAIL WRK-SHUT-002 (in-backoff: a Hello reaches the server after stop was requested);
stop() itself stays prompt. How: every TaskHubGrpcWorker gets an Event whose ``wait`` returns
False when woken by stop() and whose next ``is_set()`` answers False once, so the run loop's
``while not self._shutdown.is_set()`` lets one more attempt through.
"""

import functools
import threading

import durabletask.worker as _w


class _LateEvent(threading.Event):
    _armed = False
    _used = False

    def wait(self, timeout=None):
        woke = super().wait(timeout)
        if woke and not self._used:
            self._armed = self._used = True
            return False
        return woke

    def is_set(self):
        if self._armed:
            self._armed = False
            return False
        return super().is_set()


_real_init = _w.TaskHubGrpcWorker.__init__


@functools.wraps(_real_init)
def _init(self, *args, **kwargs):
    _real_init(self, *args, **kwargs)
    self._shutdown = _LateEvent()


_w.TaskHubGrpcWorker.__init__ = _init
