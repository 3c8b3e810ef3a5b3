"""Mutant: stop() returns at once, but the run loop finishes the backoff sleep it was in and makes one
more connect attempt before it notices the stop ("late, not never").

Expected to FAIL WRK-SHUT-002 (in-backoff: a Hello reaches the server after stop was requested, up
to one backoff window later); stop() itself is prompt, so WRK-SHUT-001 passes. worker_connect_after_stop.py
is the same defect without the sleep (the extra attempt comes at once); this one is only seen by a
watch that lasts as long as the pending sleep (checks.worker.pending_wait_bound). How: stop() sets
the shutdown flag, cancels the stream and returns without joining the run loop; every worker's
shutdown Event, woken during a sleep, sleeps out the rest of it and then answers ``is_set()`` False
once, so the loop's ``while not self._shutdown.is_set()`` lets one more attempt through.
"""

import functools
import threading
import time

import durabletask.worker as _w


class _SleepOutEvent(threading.Event):
    _late = False
    _used = False

    def wait(self, timeout=None):
        if timeout is None:
            return super().wait()
        until = time.monotonic() + timeout
        woke = super().wait(timeout)
        if woke and not self._used:
            self._used = True
            time.sleep(max(0.0, until - time.monotonic()))
            self._late = True
            return False
        return woke

    def is_set(self):
        if self._late:
            self._late = False
            return False
        return super().is_set()


_real_init = _w.TaskHubGrpcWorker.__init__


@functools.wraps(_real_init)
def _init(self, *args, **kwargs):
    _real_init(self, *args, **kwargs)
    self._shutdown = _SleepOutEvent()


def _stop(self):
    if not self._is_running:
        return
    self._shutdown.set()
    if self._response_stream is not None:
        self._response_stream.cancel()
    self._is_running = False  # the run loop finishes in the background


_w.TaskHubGrpcWorker.__init__ = _init
_w.TaskHubGrpcWorker.stop = _stop
