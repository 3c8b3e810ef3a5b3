"""Timing windows that conformance checks derive from the options a scenario configures, the one
tolerance they add, and the bounds on that tolerance (docs/TOLERANCE.md has the whole derivation).

Every bound a check asserts is computed from the SDK options the scenario set, plus ONE tolerance
(``--timing-tolerance``). No check uses a hand-picked number.

What the tolerance covers. Every timing in a verdict is the difference of two CLOCK_MONOTONIC
readings, mostly taken in two processes on one host (the fake sidecar in the harness, the SDK in its
driver process). Between the SDK's decision (a backoff sleep ends, a deadline or the silent timer
fires, an activity completes) and our reading lie only machine latencies: the SDK's own thread and
event-loop hand-offs, one loopback hop (through Toxiproxy where a test uses it), the fake's grpcio
thread pool, and whatever the scheduler adds on a busy host. ``benchmarks/timing_precision.py``
measures exactly these on the paths the checks read, each against an ideal known exactly: the two
processes' views of one reconnect delay, Hello-deadline and silent-timer lateness as the fake sees
them, the round trip of a probe activity that does nothing.

Its default. The LOADED WORST CASE of those components times SAFETY_FACTOR, rounded up to whole
TOLERANCE_STEP_S. Measured on the suite's 2-core machine (durabletask 1.12.0, through Toxiproxy; 12
benchmark runs, 12 quiet and 11 loaded measurements, 6160 samples of the four components; the machine
was shared with other sessions' test runs, 1-min load average 0.3-2.5): medians 1.9-4.2 ms, p99
6-18 ms per component. The tail is what matters, since a verdict is one sample and a suite run judges
about a hundred: the worst sample of any measurement within the reference condition (quiet, or the
benchmark plus one conformance stream on the other core, i.e. the suite's ``-n 2`` on 2 cores; the
shared machine ran other sessions' tests besides) was 59.5 ms, a silent-timer reading:

    MEASURED_WORST_S 0.0595 s x SAFETY_FACTOR 3 = 0.1785 s -> DEFAULT_TOLERANCE_S = 0.18 s

The factor 3 covers what the runs measured cannot: a slower or noisier CI host, a driver in another
language (re-run the benchmark per driver: ``--sdk``), and the rarer stalls in the tail -- the one
larger stall seen in any run, 124 ms (a probe, with three test streams on two cores, beyond the
reference condition), is still 1.45x inside the default.

What the tolerance may not hide. It is bounded, per test: a tolerance larger than WINDOW_FRACTION
of the smallest window a test uses makes that test INCONCLUSIVE (``guard``; every conformance test
states its windows at its start). With the tolerance at most half of every window, a build late by
a whole window (a reconnect at twice its bound, a Hello given up at twice its deadline) fails every
window check it meets, whatever tolerance the user chose. Field files get the same fraction of
their SCALED windows (harness/repro/schema.py ``check_tolerance``): the machine latency does not
shrink with the scale, so a scale that would make it more than half a window is refused.

stop() is bounded on its own, not by the tolerance: ``STOP_LATENCY_S`` below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.checks.verdict import inconclusive

# -- the tolerance and where its default comes from (benchmarks/timing_precision.py) ----------------
MEASURED_WORST_S = 0.0595  # worst sample of the tolerance's components, reference condition (above)
SAFETY_FACTOR = 3
TOLERANCE_STEP_S = 0.01  # derived values are rounded UP to whole 10 ms


def derive_tolerance(worst_s: float, factor: float = SAFETY_FACTOR) -> float:
    """``worst_s`` x ``factor``, rounded up to whole TOLERANCE_STEP_S (one step at least for a
    positive worst case)."""
    steps = math.ceil(round(worst_s * factor / TOLERANCE_STEP_S, 6))
    return round(max(steps, 1 if worst_s > 0 else 0) * TOLERANCE_STEP_S, 6)


DEFAULT_TOLERANCE_S = derive_tolerance(MEASURED_WORST_S)

# -- the bound on the tolerance ----------------------------------------------------------------------
# A tolerance above this fraction of the smallest window a test uses makes it INCONCLUSIVE; a field
# file's scale is refused where the tolerance exceeds it of a scaled window (the "half a window").
WINDOW_FRACTION = 0.5


def tolerance_problem(tolerance: float, windows: dict[str, float], *, what: str = "timing tolerance",
                      fraction: float = WINDOW_FRACTION, consequence: str | None = None) -> str | None:
    """Why ``tolerance`` is too coarse for ``windows`` (name -> seconds), or None if it is not: it
    exceeds ``fraction`` of the smallest. The text names the window, the tolerance and the fraction."""
    if not windows:
        return None
    name, smallest = min(windows.items(), key=lambda kv: kv[1])
    limit = fraction * smallest
    if tolerance <= limit + 1e-9:
        return None
    return (f"{what} {tolerance:g}s exceeds {fraction:g} of the smallest window this test uses, {name} = "
            f"{smallest:.4g}s (limit {limit:.4g}s): "
            + (consequence or f"a build late by up to {tolerance:g}s past that window would pass, so its "
               "verdicts could not be trusted"))


def guard(tolerance: float, **windows: float) -> None:
    """State the windows a test uses (name=seconds, each computed from the options it configures) and
    stop the test as INCONCLUSIVE if ``tolerance`` exceeds WINDOW_FRACTION of the smallest. Call it
    first in the test, before anything runs: with a coarser tolerance its window checks could not tell
    a late build from a conforming one, so running it would only cost time.

    Every conformance test calls it (tests/checks/test_windows.py checks that). A test whose checks add
    the tolerance to no option-derived window states none, ``guard(tolerance)``: there the tolerance
    bounds machine latency alone (a probe completing on a working stream, a client recreating at once
    after its N-th failure), which a late build cannot hide behind."""
    if not windows:
        return
    problem = tolerance_problem(tolerance, windows)
    if problem is not None:
        inconclusive(problem + f". Run with --timing-tolerance <= {WINDOW_FRACTION * min(windows.values()):.4g} "
                     "or give the test longer options.")


@dataclass(frozen=True)
class WorkerOptions:
    """The worker resiliency options a scenario configures (Python names, SDK-neutral meaning)."""

    hello_timeout_seconds: float = 30.0
    silent_disconnect_timeout_seconds: float = 120.0
    channel_recreate_failure_threshold: int = 5
    reconnect_backoff_base_seconds: float = 1.0
    reconnect_backoff_cap_seconds: float = 30.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "hello_timeout_seconds": self.hello_timeout_seconds,
            "silent_disconnect_timeout_seconds": self.silent_disconnect_timeout_seconds,
            "channel_recreate_failure_threshold": self.channel_recreate_failure_threshold,
            "reconnect_backoff_base_seconds": self.reconnect_backoff_base_seconds,
            "reconnect_backoff_cap_seconds": self.reconnect_backoff_cap_seconds,
        }


def backoff_upper(attempt: int, base: float, cap: float) -> float:
    """Upper end of the full-jitter window U[0, min(cap, base * 2**attempt))."""
    return min(cap, base * (2 ** min(attempt, 30)))


def first_reconnect_bound(opts: WorkerOptions) -> float:
    """Longest allowed wait from a healthy stream's failure to the next connect attempt.

    The designs differ on the first attempt number (promises.md BACKOFF-1, §9): the
    Python package draws the first delay with k = 1 (window 2*base), .NET with k = 0
    (window base). The suite accepts the looser of the two, so it fails neither design.
    """
    return backoff_upper(1, opts.reconnect_backoff_base_seconds, opts.reconnect_backoff_cap_seconds)


def any_reconnect_bound(opts: WorkerOptions) -> float:
    """Longest allowed single backoff sleep, whatever the attempt number: the cap."""
    return opts.reconnect_backoff_cap_seconds


# How long a scenario waits for an action the SDK performs in the background (a client's channel
# recreation runs on a daemon thread / asyncio task after the failing call has returned) before it
# moves on. Pacing only, and deliberately generous: the recreation is in-process and takes
# milliseconds, so this never decides between a conforming and a broken build; it only bounds how
# long a run against a build that never recreates waits before its checkers report it.
BACKGROUND_ACTION_WAIT_S = 2.0

# -- stop(): its own bound ------------------------------------------------------------------------
# What ``worker.stop()`` may take while a Hello is pending or a backoff sleeps (WRK-SHUT-001) or the
# stream idles (WRK-SHUT-003). It is timed inside the SDK's process (the driver's ``worker_stopped``
# elapsed), so no cross-process disagreement is in it and the tolerance does not apply. What a stop
# that waits for nothing still does: wake the run loop, cancel one call, close one channel, join a
# thread. benchmarks/timing_precision.py measures that on a build that does it (``stop``: 1.12.0
# stopping in a backoff sleep): worst case 19.2 ms in 440 stops (median 2.5 ms), loaded, times the
# same factor, rounded up. The waits a prompt stop must not include are chosen far above it by the
# tests (a 3 s Hello deadline, a backoff sleep of U[0, 10) s) and stated with ``guard_stop``.
MEASURED_STOP_WORST_S = 0.0192
STOP_LATENCY_S = derive_tolerance(MEASURED_STOP_WORST_S)

# How far ABOVE the configured timeout a deadline can arrive at the server: gRPC sends a deadline as
# the ``grpc-timeout`` header, which grpc-core encodes with three significant figures, rounded UP
# (src/core/lib/transport/timeout_encoding.cc, ``round_up_to_three_sig_figs``; the newer ``Timeout``
# class keeps values below 1000 of a unit, the same bound): at most 1 % of the timeout. Nothing else
# can lengthen it (the client computes the timeout when it sends, the server reads what is left), so
# a deadline above timeout x (1 + this) is the SDK's, not the wire's.
GRPC_TIMEOUT_ROUND_UP = 0.01


def guard_stop(**waits: float) -> None:
    """State the waits a prompt stop() must not include (name=seconds: the Hello deadline, the
    shortest backoff sleep the test can observe); INCONCLUSIVE if STOP_LATENCY_S exceeds
    WINDOW_FRACTION of the smallest, since a stop that waited for it would then pass."""
    if not waits:
        raise ValueError("guard_stop() needs the waits stop() must not include (name=seconds)")
    problem = tolerance_problem(STOP_LATENCY_S, waits, what="the stop() bound STOP_LATENCY_S")
    if problem is not None:
        inconclusive(problem + ". Give the test longer waits.")
