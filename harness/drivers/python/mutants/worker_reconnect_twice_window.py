"""Mutant: every reconnect comes at twice the upper end of its backoff window ("late, not never"):
after the k-th failure the worker sleeps exactly 2*min(cap, base*2^k), and after a graceful close it
sleeps 2*min(cap, 2*base) (1.12.0 reconnects at once there).

Expected to FAIL every "next attempt within its window" requirement: WRK-BACKOFF-001 (test_tcp_reset:
first Hello after the reset at 2x the first window), WRK-GRACEFUL-001 (test_graceful_close), WRK-HELLO-003
(test_worker_handshake), WRK-BACKOFF-003 (test_worker_backoff::test_hello_success_resets_attempts) and
WRK-BACKOFF-002 (every delay above its window). With the tolerance bounded to a fraction of the
window (windows.WINDOW_FRACTION <= 1/2, enforced per test), a window check's bound is at most 1.5x the
window, so 2x is always outside it.
How: ``get_full_jitter_delay_seconds`` in the worker module returns the doubled upper end; the graceful
outcomes of ``_classify_stream_outcome`` (called on the run loop's thread right before the reconnect)
sleep on the worker's shutdown Event, so stop() still wakes them.
"""

import durabletask.internal.grpc_resiliency as _res
import durabletask.worker as _w


def _twice_window(attempt, *, base_seconds, cap_seconds):
    return 2 * min(cap_seconds, base_seconds * 2 ** min(attempt, 30))


_real_classify = _w.TaskHubGrpcWorker._classify_stream_outcome


def _classify(self, *, saw_message, timed_out):
    outcome = _real_classify(self, saw_message=saw_message, timed_out=timed_out)
    if outcome is not _w._WorkItemStreamOutcome.SILENT_DISCONNECT:
        opts = self._resiliency_options
        self._shutdown.wait(_twice_window(1, base_seconds=opts.reconnect_backoff_base_seconds,
                                          cap_seconds=opts.reconnect_backoff_cap_seconds))
    return outcome


_res.get_full_jitter_delay_seconds = _twice_window
_w.get_full_jitter_delay_seconds = _twice_window
_w.TaskHubGrpcWorker._classify_stream_outcome = _classify
