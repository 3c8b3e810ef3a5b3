"""Mutant: only UNAVAILABLE counts; DEADLINE_EXCEEDED on an ordinary unary call does not.

Expected to FAIL CLI-STATUS-002. How: replace ``is_client_transport_failure`` (module global read
by both interceptors at call time).
"""

import durabletask.internal.grpc_resiliency as _res
import grpc

_res.is_client_transport_failure = lambda method, status_code: status_code == grpc.StatusCode.UNAVAILABLE
