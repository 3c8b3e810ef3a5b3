"""Mutant (off by one, stacked on worker_fix_counter_reset.py): after a recreation the worker's failure
count restarts at 1 instead of 0 (the failure that triggered the recreation still counts toward the
next one).

Expected to FAIL WRK-RECREATE-001 on top of the repair (2N - 1 consecutive failures must recreate
exactly once; with N = 2 this build recreates after the 2nd and again after the 3rd). How:
``FailureTracker.record_failure`` (as in force, i.e. the repaired one) sets the count to 1 whenever it
reports the threshold reached.
"""

import durabletask.internal.grpc_resiliency as _res

_current = _res.FailureTracker.record_failure


def _record_failure(self):
    due = _current(self)
    if due:
        self.consecutive_failures = 1
    return due


_res.FailureTracker.record_failure = _record_failure
