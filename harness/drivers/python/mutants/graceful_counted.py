"""Mutant: a graceful stream close (status OK) is handled like a silent disconnect.

Expected to FAIL WRK-GRACEFUL-003 (a graceful close must not count toward the recreate
threshold) and WRK-GRACEFUL-002 (P: a fresh SDK-owned channel after each graceful close).
How: ``TaskHubGrpcWorker._classify_stream_outcome`` reports SILENT_DISCONNECT for every
outcome, so the run loop counts the close as a transport failure and keeps the channel
until the threshold is reached.
"""

import durabletask.worker as _w


def _classify(self, *, saw_message, timed_out):
    return _w._WorkItemStreamOutcome.SILENT_DISCONNECT


_w.TaskHubGrpcWorker._classify_stream_outcome = _classify
