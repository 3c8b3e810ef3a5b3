"""Mutant: the worker's reconnect delay is always 0 (no backoff at all).

Expected to FAIL WRK-BACKOFF-002 (the delays are not U[0, cap)) and WRK-BACKOFF-004 (an error
storm becomes a tight reconnect loop). How: replace ``get_full_jitter_delay_seconds`` in
``durabletask.internal.grpc_resiliency`` and the copy bound in ``durabletask.worker``.
"""

import durabletask.internal.grpc_resiliency as _res
import durabletask.worker as _w


def _zero(attempt, *, base_seconds, cap_seconds):
    return 0.0


_res.get_full_jitter_delay_seconds = _zero
if hasattr(_w, "get_full_jitter_delay_seconds"):
    _w.get_full_jitter_delay_seconds = _zero
