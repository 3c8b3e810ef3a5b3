"""FIXED variant (not a mutant): the worker's failure count starts again at 0 after a recreation.

Used to show that WRK-RECREATE-001 can pass, i.e. that its failure on 1.12.0 (finding F-40) is the
SDK's and not the check's. How: ``FailureTracker.record_failure`` (durabletask.internal.grpc_resiliency)
resets the count whenever it reports the threshold reached, which is exactly when the worker recreates
(N: the new Processor's counters start at 0). Only for worker scenarios: the clients reset it
themselves after a recreation.
"""

import durabletask.internal.grpc_resiliency as _res

_real = _res.FailureTracker.record_failure


def _record_failure(self):
    due = _real(self)
    if due:
        self.record_success()
    return due


_res.FailureTracker.record_failure = _record_failure
