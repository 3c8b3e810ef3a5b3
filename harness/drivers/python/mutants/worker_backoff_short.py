"""Mutant: the reconnect backoff is there but far too short: every delay is drawn from U[0, base/8)
whatever the attempt number ("too fast, not zero": the near miss of a rate bound).

Expected to FAIL WRK-BACKOFF-004 (an error storm still gets more than 4*window/base + 1 connect
attempts: ~8x the loosest conforming build's rate, whose delays are U[0, base)) and, stacked on
worker_fix_graceful_backoff.py, WRK-STREAM-005 (a server that closes every stream at once).
worker_backoff_zero.py is the extreme (always 0). How: replace ``get_full_jitter_delay_seconds`` in
``durabletask.internal.grpc_resiliency`` and the copy bound in ``durabletask.worker``.
"""

import random

import durabletask.internal.grpc_resiliency as _res
import durabletask.worker as _w


def _short(attempt, *, base_seconds, cap_seconds):
    return random.random() * base_seconds / 8


_res.get_full_jitter_delay_seconds = _short
_w.get_full_jitter_delay_seconds = _short
