"""Mutant: every non-OK status counts as a client transport failure (NOT_FOUND, INVALID_ARGUMENT...).

Expected to FAIL CLI-STATUS-003 (application-level errors do not count). How: replace
``is_client_transport_failure`` in ``durabletask.internal.grpc_resiliency``; both interceptors look
it up as a module global at call time. The long-poll exemption is kept.
"""

import durabletask.internal.grpc_resiliency as _res
import grpc


def _any_error_counts(method, status_code):
    if status_code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return method not in _res.LONG_POLL_METHODS
    return status_code != grpc.StatusCode.OK


_res.is_client_transport_failure = _any_error_counts
