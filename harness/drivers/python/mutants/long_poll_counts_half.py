"""Mutant: DEADLINE_EXCEEDED on a long poll counts as HALF a transport failure (every second one
counts, the others neither count nor reset): repeated long polls still recreate the channel, only
later ("late, not never").

Expected to FAIL CLI-LONGPOLL-002 (test_long_poll_deadline.py: with threshold 2, the 4th long poll
recreates the channel right at the end of the polls; the scenario must charge that recreation to the
polls, not to the control that follows them). How: both interceptors' ``_record_outcome`` treat a
long-poll DEADLINE_EXCEEDED this way; every other outcome is recorded as shipped.
"""

import itertools

import durabletask.internal.grpc_resiliency as _res
import grpc

_long_polls = itertools.count(1)


def _wrap(real):
    def _record_outcome(self, method, error):
        code = getattr(error, "code", lambda: None)() if error is not None else None
        if code == grpc.StatusCode.DEADLINE_EXCEEDED and method in _res.LONG_POLL_METHODS:
            if next(_long_polls) % 2 == 0 and self._failure_tracker.record_failure():
                self._on_recreate()
            return
        real(self, method, error)
    return _record_outcome


_res.ClientResiliencyInterceptor._record_outcome = _wrap(_res.ClientResiliencyInterceptor._record_outcome)
_res.AsyncClientResiliencyInterceptor._record_outcome = _wrap(_res.AsyncClientResiliencyInterceptor._record_outcome)
