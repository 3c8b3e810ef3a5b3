"""Mutant: the client never counts any failure (the sync client behaves like F-1's async client).

Expected to FAIL CLI-STATUS-001 (UNAVAILABLE counts) for the sync client. How: both interceptors'
``_record_outcome`` records a success for every outcome.
"""

import durabletask.internal.grpc_resiliency as _res


def _record_outcome(self, method, error):
    self._failure_tracker.record_success()


_res.ClientResiliencyInterceptor._record_outcome = _record_outcome
_res.AsyncClientResiliencyInterceptor._record_outcome = _record_outcome
