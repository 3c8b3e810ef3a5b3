"""Mutant: jitter without a ramp: every reconnect delay is drawn from the capped window U[0, cap),
from the first attempt on (the exponent is lost, the jitter and the cap are kept).

Expected to FAIL WRK-BACKOFF-002 through its ramp test (``backoff_ramp``: the delays of the first
attempts of a run lie above their own windows 2*base, 4*base). The capped-regime delays are exactly
U[0, cap), so the KS test passes; the per-delay bound (window + tolerance) sees it only while the
tolerance is small against the first windows (with a 0.25 s tolerance it passed: issue 8). How: wrap
``get_full_jitter_delay_seconds`` so it always gets an attempt number large enough to reach the cap.
"""

import durabletask.internal.grpc_resiliency as _res
import durabletask.worker as _w

_real = _res.get_full_jitter_delay_seconds


def _no_ramp(attempt, *, base_seconds, cap_seconds):
    return _real(30, base_seconds=base_seconds, cap_seconds=cap_seconds)


_res.get_full_jitter_delay_seconds = _no_ramp
if hasattr(_w, "get_full_jitter_delay_seconds"):
    _w.get_full_jitter_delay_seconds = _no_ramp
