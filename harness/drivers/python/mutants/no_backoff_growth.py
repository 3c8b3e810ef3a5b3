"""Mutant: the worker's reconnect delay is always the cap (no exponential growth, no jitter).

Expected to FAIL the backoff requirements (full jitter, U[0, min(cap, base*2^k))): every
reconnect waits exactly ``reconnect_backoff_cap_seconds``. How: replace
``durabletask.internal.grpc_resiliency.get_full_jitter_delay_seconds`` and, because
``durabletask.worker`` imports it by name (``from ... import get_full_jitter_delay_seconds``),
also the copy bound in the worker module's globals.
"""

import durabletask.internal.grpc_resiliency as _res
import durabletask.worker as _w


def _always_cap(attempt, *, base_seconds, cap_seconds):
    return cap_seconds


_res.get_full_jitter_delay_seconds = _always_cap
if hasattr(_w, "get_full_jitter_delay_seconds"):
    _w.get_full_jitter_delay_seconds = _always_cap
