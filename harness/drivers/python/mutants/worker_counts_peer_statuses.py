"""Mutant: every error status on Hello or GetWorkItems counts as a transport failure.

Expected to FAIL WRK-STATUS-001 (CONN-4 / HEALTH-6: CANCELLED, UNAUTHENTICATED and NOT_FOUND are
retried without counting): a few of them recreate the channel. How: the worker classifies with
``is_worker_transport_failure`` (a global of ``durabletask.worker``, read at call time), replaced by
"anything but OK". (NOT_FOUND on GetWorkItems is not even handed to the classifier by 1.12.0, so that
one case stays uncounted.)
"""

import durabletask.worker as _w
import grpc

_w.is_worker_transport_failure = lambda status_code: status_code != grpc.StatusCode.OK
