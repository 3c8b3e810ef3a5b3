"""Mutant: an application-level error neither counts NOR resets the client's failure counter.

Expected to FAIL CLI-STATUS-004 (P: "Successful replies and application-level RPC errors reset the
failure counter"): UNAVAILABLE, NOT_FOUND, UNAVAILABLE reaches a threshold of 2. How: the
interceptors' ``_record_outcome`` leaves the counter alone for non-transport errors.
"""

import durabletask.internal.grpc_resiliency as _res


def _record_outcome(self, method, error):
    if error is None:
        self._failure_tracker.record_success()
        return
    status_code = getattr(error, "code", lambda: None)()
    if status_code is not None and _res.is_client_transport_failure(method, status_code):
        if self._failure_tracker.record_failure():
            self._on_recreate()
    # else: nothing -- the broken part


_res.ClientResiliencyInterceptor._record_outcome = _record_outcome
_res.AsyncClientResiliencyInterceptor._record_outcome = _record_outcome
