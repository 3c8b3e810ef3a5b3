"""Mutant: the reconnect attempt counter is never reset (not by a successful Hello, not by a
message): every delay is drawn with one more attempt than the one before.

Expected to FAIL WRK-BACKOFF-003 (P: "Successful Hello resets the worker reconnect attempt
counter"). How: wrap ``get_full_jitter_delay_seconds`` in the worker module so that it ignores
the attempt number the run loop passes and uses its own ever-growing count.
"""

import itertools

import durabletask.internal.grpc_resiliency as _res
import durabletask.worker as _w

_real = _res.get_full_jitter_delay_seconds
_count = itertools.count(1)


def _never_reset(attempt, *, base_seconds, cap_seconds):
    return _real(next(_count), base_seconds=base_seconds, cap_seconds=cap_seconds)


_w.get_full_jitter_delay_seconds = _never_reset
