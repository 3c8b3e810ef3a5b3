"""Mutant: after a silent disconnect the worker waits three backoff caps before it reconnects ("late,
not never"): a build that applies its cap to the wrong quantity, or sleeps a fixed pause on top of
the backoff, gets its stream back long after the path healed.

Expected to FAIL WRK-STREAM-002 in test_silent_stall.py ("reconnected within"): the black hole is
held for Hello timeout + tolerance past the give-up, so the first reconnect comes 3 x cap after the
give-up, i.e. 3 x cap - (Hello timeout + tolerance) after the path healed, beyond the bound of one cap
+ tolerance whenever 2 x cap > Hello timeout + 2 x tolerance (with the test's cap 1 s, Hello 1 s:
1.82 s against 1.18 s). Deterministic: no jitter is involved.
How: the SILENT_DISCONNECT outcome of ``_classify_stream_outcome`` (called on the run loop's thread
right before the reconnect) sleeps on the worker's shutdown Event, so stop() still wakes it.
"""

import durabletask.worker as _w

_real_classify = _w.TaskHubGrpcWorker._classify_stream_outcome


def _classify(self, *, saw_message, timed_out):
    outcome = _real_classify(self, saw_message=saw_message, timed_out=timed_out)
    if outcome is _w._WorkItemStreamOutcome.SILENT_DISCONNECT:
        self._shutdown.wait(3 * self._resiliency_options.reconnect_backoff_cap_seconds)
    return outcome


_w.TaskHubGrpcWorker._classify_stream_outcome = _classify
