"""REPAIR, not a broken variant: a graceful stream close is followed by the full-jitter backoff of a
first attempt, U[0, min(cap, 2*base)), as N does (P leaves it open), instead of 1.12.0's immediate
reconnect: the fix for finding F-2 (docs/FINDINGS.md).

Why it exists: 1.12.0 itself fails WRK-STREAM-005 (a tight reconnect loop against a server that closes
every stream at once), so a broken variant applied to 1.12.0 alone cannot show that the check can
fail for its own reason. With this repair 1.12.0 passes test_immediate_close_loop; a variant stacked
on top of it (``--sdk-patch`` this file, then the variant, e.g. worker_backoff_short.py) must fail it
again (tests/conformance/test_broken_variants_worker.py). How: ``_classify_stream_outcome`` is called
once per stream end on the run loop's thread, right before the reconnect; for a graceful outcome it
sleeps the drawn delay on the worker's shutdown Event (stop() still wakes it). The delay is drawn by
the worker module's ``get_full_jitter_delay_seconds`` at call time, so a variant that replaces that
function changes this sleep too.
"""

import durabletask.worker as _w

_real_classify = _w.TaskHubGrpcWorker._classify_stream_outcome


def _classify(self, *, saw_message, timed_out):
    outcome = _real_classify(self, saw_message=saw_message, timed_out=timed_out)
    if outcome is not _w._WorkItemStreamOutcome.SILENT_DISCONNECT:
        opts = self._resiliency_options
        self._shutdown.wait(_w.get_full_jitter_delay_seconds(
            1, base_seconds=opts.reconnect_backoff_base_seconds, cap_seconds=opts.reconnect_backoff_cap_seconds))
    return outcome


_w.TaskHubGrpcWorker._classify_stream_outcome = _classify
