"""Mutant: the reconnect window never grows: every delay is drawn from the first window
U[0, 2*base) whatever the attempt number (jitter kept, exponent lost).

Expected to FAIL WRK-BACKOFF-002 (after consecutive failures the delays must spread over
U[0, cap)). How: wrap ``get_full_jitter_delay_seconds`` so it always gets attempt 1.
"""

import durabletask.internal.grpc_resiliency as _res
import durabletask.worker as _w

_real = _res.get_full_jitter_delay_seconds


def _no_growth(attempt, *, base_seconds, cap_seconds):
    return _real(min(attempt, 1), base_seconds=base_seconds, cap_seconds=cap_seconds)


_res.get_full_jitter_delay_seconds = _no_growth
if hasattr(_w, "get_full_jitter_delay_seconds"):
    _w.get_full_jitter_delay_seconds = _no_growth
