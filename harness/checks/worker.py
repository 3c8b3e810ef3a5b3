"""Checkers for the worker handshake, stream-health, backoff and shutdown requirements.

Same contract as harness/checks/: pure functions of a History returning a Verdict.
Windows come from the options a scenario configures plus the one tolerance
(harness/checks/windows.py); the worker-specific ones are here: the rate bound of a reconnect
storm (``max_attempt_rate_bound``) and how long a stopped worker must be watched
(``pending_wait_bound``). The two statistical backoff checks (``backoff_distribution`` for the
capped regime, ``backoff_ramp`` for the exponential ramp) document their false-failure probability.

Vocabulary read here (see docs/WRITING-TESTS.md): fake ``rpc_start`` (method, deadline,
call_id), ``rpc_end`` (code, ended_by), ``server_fault``; driver ``rpc_done`` (method,
code), ``worker_stopped`` (elapsed); scenario ``mark`` (label).
"""

from __future__ import annotations

import bisect
import math

from harness.checks.queries import call_end, last_message_before, server_close_time, streams
from harness.checks.verdict import Verdict, check, inconclusive
from harness.checks.windows import (
    GRPC_TIMEOUT_ROUND_UP,
    WorkerOptions,
    backoff_upper,
    first_reconnect_bound,
    tolerance_problem,
)
from harness.history import DRIVER, FAKE, SCENARIO, Event, History

CONNECT_METHODS = ("Hello", "GetWorkItems")


def hellos(history: History, after: float | None = None, before: float | None = None) -> list[Event]:
    return history.select(FAKE, "rpc_start", after=after, before=before, method="Hello")


def _next_hello(history: History, after: float) -> Event | None:
    return history.first(source=FAKE, kind="rpc_start", method="Hello", after=after)


def _sdk_saw_end(history: History, call_id: int, method: str) -> float | None:
    """When the SDK process learnt that ``call_id`` ended: the first driver ``rpc_done`` of the
    same method after the fake's server-side decision (or rpc_end); falls back to the fake."""
    decided = server_close_time(history, call_id)
    if decided is None:
        return None
    done = history.first(source=DRIVER, kind="rpc_done", method=method, after=decided - 1e-3)
    return done.t if done is not None else decided


# -- handshake ---------------------------------------------------------------------------------
@check
def hello_deadline(history: History, *, hello_timeout: float, tolerance: float) -> Verdict:
    """Every Hello reaches the server with a deadline equal to the Hello timeout.

    The fake records the time remaining when the call starts, so the deadline it sees lies in
    [hello_timeout - tolerance, hello_timeout x (1 + GRPC_TIMEOUT_ROUND_UP)]: above, only the wire
    encoding's round-up (windows.py) may lengthen it."""
    check = "Hello carries the Hello-timeout deadline"
    hs = hellos(history)
    if not hs:
        return Verdict(check, False, "no Hello reached the server")
    bad = [h for h in hs if h.get("deadline") is None
           or not (hello_timeout - tolerance <= float(h.get("deadline"))
                   <= hello_timeout * (1 + GRPC_TIMEOUT_ROUND_UP))]
    seen = [h.get("deadline") for h in hs]
    return Verdict(check, not bad,
                   f"{len(bad)}/{len(hs)} Hello(s) without a deadline in "
                   f"[{hello_timeout - tolerance:.3f}, {hello_timeout * (1 + GRPC_TIMEOUT_ROUND_UP):.3f}]s; "
                   "deadlines seen: "
                   + ", ".join("none" if d is None else f"{float(d):.3f}" for d in seen[:6]),
                   {"hellos": len(hs), "bad": len(bad)}, [h.seq for h in (bad or hs)[:4]])


@check
def hung_hellos_abandoned(history: History, *, hello_timeout: float, tolerance: float) -> Verdict:
    """Each Hello the server never answered (``server_fault`` Hang) is given up by the client
    hello_timeout after it started (window hello_timeout +- tolerance)."""
    check = "unanswered Hello abandoned at the Hello timeout"
    faults = history.select(FAKE, "server_fault", method="Hello", fault="Hang")
    if not faults:
        return Verdict(check, False, "the server hung no Hello (scenario did not take effect)")
    worst: tuple[float, Event | None] = (0.0, None)
    lifetimes = []
    for f in faults:
        start = history.first(source=FAKE, kind="rpc_start", call_id=f.get("call_id"))
        end = call_end(history, f.get("call_id"))
        t0 = start.t if start is not None else f.t
        if end is None:
            return Verdict(check, False, f"Hello {f.get('call_id')} was never abandoned (started "
                           f"{t0 - history.t0:.3f}s, expected to end by {t0 + hello_timeout - history.t0:.3f}s)",
                           {"hello_timeout_s": hello_timeout}, [f.seq])
        life = end.t - t0
        lifetimes.append(life)
        if abs(life - hello_timeout) >= abs(worst[0] - hello_timeout) or worst[1] is None:
            worst = (life, end)
    ok = all(abs(x - hello_timeout) <= tolerance for x in lifetimes)
    return Verdict(check, ok, f"{len(lifetimes)} hung Hello(s) ended after "
                   + ", ".join(f"{x:.3f}" for x in lifetimes)
                   + f"s; window [{hello_timeout - tolerance:.3f}, {hello_timeout + tolerance:.3f}]s",
                   {"worst_lifetime_s": worst[0], "hello_timeout_s": hello_timeout},
                   [f.seq for f in faults[:3]] + ([worst[1].seq] if worst[1] is not None else []))


@check
def hello_retried_with_backoff(history: History, *, base: float, cap: float, tolerance: float,
                               first_attempt: int = 1) -> Verdict:
    """After the i-th consecutive failed Hello (0-based) the next Hello starts within the
    full-jitter window of attempt ``first_attempt + i`` (+ tolerance), measured from when the
    failed Hello ended (for a hung Hello: start + its deadline, i.e. the fake's rpc_end)."""
    check = "failed Hello retried within the backoff window"
    failed = [h for h in hellos(history)
              if (call_end(history, h.get("call_id")) or h).get("code", "OK") != "OK"]
    if not failed:
        return Verdict(check, False, "no Hello failed (scenario did not take effect)")
    worst: tuple[float, float, Event | None] = (0.0, 0.0, None)
    for i, h in enumerate(failed):
        end = call_end(history, h.get("call_id"))
        ended = _sdk_saw_end(history, h.get("call_id"), "Hello")
        if end is None or ended is None:
            return Verdict(check, False, f"Hello {h.get('call_id')} never ended", {}, [h.seq])
        bound = backoff_upper(first_attempt + i, base, cap) + tolerance
        nxt = _next_hello(history, max(ended, h.t + 1e-9))
        if nxt is None:
            return Verdict(check, False, f"no Hello after failed Hello #{i + 1} "
                           f"(ended {ended - history.t0:.3f}s)", {"bound_s": bound}, [h.seq, end.seq])
        delay = nxt.t - ended
        if delay - bound >= worst[0] - worst[1] or worst[2] is None:
            worst = (delay, bound, nxt)
    ok = worst[0] <= worst[1]
    return Verdict(check, ok, f"{len(failed)} failed Hello(s); tightest retry {worst[0]:.3f}s after the "
                   f"failure (its bound {worst[1]:.3f}s)",
                   {"retry_delay_s": worst[0], "bound_s": worst[1]},
                   [worst[2].seq] if worst[2] is not None else [])


@check
def no_stream_on_failed_hello(history: History) -> Verdict:
    """GetWorkItems is never opened after a failed Hello before the next successful Hello."""
    check = "no GetWorkItems after a failed Hello"
    hs = hellos(history)
    bad = []
    for i, h in enumerate(hs):
        end = call_end(history, h.get("call_id"))
        if end is None or end.get("code") == "OK":
            continue
        nxt = hs[i + 1].t if i + 1 < len(hs) else None
        bad += streams(history, after=h.t) if nxt is None else \
            [s for s in streams(history, after=h.t) if s.t < nxt]
    n_failed = sum(1 for h in hs if (call_end(history, h.get("call_id")) or h).get("code", "OK") != "OK")
    return Verdict(check, not bad and n_failed > 0,
                   f"{len(bad)} GetWorkItems stream(s) opened after {n_failed} failed Hello(s)"
                   if n_failed else "no Hello failed (scenario did not take effect)",
                   {"streams_after_failed_hello": len(bad), "failed_hellos": n_failed},
                   [s.seq for s in bad[:4]])


# -- stream health ------------------------------------------------------------------------------
@check
def stream_kept_alive(history: History, *, call_id: int, until: float) -> Verdict:
    """The worker neither ends stream ``call_id`` nor opens another connection before ``until``."""
    check = "a pinged quiet stream is kept"
    start = history.first(source=FAKE, kind="rpc_start", call_id=call_id)
    if start is None:
        return Verdict(check, False, f"no stream {call_id}")
    gave_up = history.first(source=DRIVER, kind="rpc_done", method="GetWorkItems", after=start.t, before=until)
    end = call_end(history, call_id)
    ended = end if end is not None and end.t < until else None
    extra = [e for e in history.select(FAKE, "rpc_start", after=start.t + 1e-9, before=until)
             if e.get("method") in CONNECT_METHODS]
    pings = history.select(FAKE, "message_sent", call_id=call_id, before=until)
    first_bad = min([e for e in (gave_up, ended) if e is not None] + extra, key=lambda e: e.t, default=None)
    ok = first_bad is None
    return Verdict(check, ok,
                   f"stream held {until - start.t:.3f}s with {len(pings)} ping(s), no reconnect" if ok else
                   f"the worker dropped it: {first_bad.source} {first_bad.kind} {first_bad.get('method')} "
                   f"code={first_bad.get('code')} {first_bad.t - start.t:.3f}s after it opened",
                   {"held_s": until - start.t, "pings": len(pings), "reconnects": len(extra)},
                   [start.seq] + ([first_bad.seq] if first_bad is not None else []))


def connect_attempts(history: History, *, after: float, before: float) -> int:
    """Connect attempts in a window: a full attempt is Hello + GetWorkItems; a worker that
    retries only one of them still makes one attempt per call, so the larger count is taken."""
    n_hello = len(hellos(history, after=after, before=before))
    n_stream = len(streams(history, after=after)) - len(streams(history, after=before))
    return max(n_hello, n_stream)


def max_attempt_rate_bound(*, base: float, window: float) -> int:
    """Most connect attempts a conforming worker can make in ``window`` seconds of a server
    that fails or closes every attempt at once.

    The loosest conforming build resets its attempt counter on every Hello and draws each
    delay from N's first window U[0, base): mean base/2, so it makes about 2*window/base
    attempts. We allow twice that (plus the immediate first retry P permits): for window 2 s
    and base 0.1 s the bound is 81 while the loosest build averages 40 (sd ~3.7, the bound is
    11 sd away), and a loop without delay makes hundreds (F-2: ~100/s)."""
    return int(math.ceil(4 * window / base)) + 1


@check
def attempts_bounded(history: History, *, after: float, before: float, base: float,
                     what: str = "") -> Verdict:
    window = before - after
    bound = max_attempt_rate_bound(base=base, window=window)
    check = "no tight reconnect loop" + (f" ({what})" if what else "")
    n = connect_attempts(history, after=after, before=before)
    if n == 0:
        return Verdict(check, False, "no connect attempt in the window (scenario did not take effect)")
    return Verdict(check, n <= bound,
                   f"{n} connect attempts in {window:.3f}s ({n / window:.1f}/s); bound {bound} "
                   f"(= 4*window/base + 1, base {base}s)",
                   {"attempts": n, "bound": bound, "rate_per_s": n / window},
                   [e.seq for e in hellos(history, after=after, before=before)[-3:]])


# -- backoff ------------------------------------------------------------------------------------
# The faults that FAIL a connect attempt (server_fault ``fault``); a Delay answers, an EndOk closes
# gracefully, neither is a failed attempt.
FAILING_FAULTS = ("Abort",)


def reconnect_delays(history: History, *, method: str, after: float | None = None) -> list[tuple[float, Event]]:
    """For every call of ``method`` the fake failed (``server_fault`` Abort), the delay from the moment
    the SDK saw that failure (driver ``rpc_done``; the fake's decision if the driver reported
    none) to the next Hello at the fake. Ordered by time; failures with no later Hello are left out."""
    out = []
    for f in history.select(FAKE, "server_fault", method=method, after=after,
                            where=lambda e: e.get("fault") in FAILING_FAULTS):
        seen = _sdk_saw_end(history, f.get("call_id"), method) or f.t
        nxt = _next_hello(history, max(seen, f.t))
        if nxt is not None:
            out.append((nxt.t - seen, nxt))
    return out


def failure_runs(history: History) -> list[tuple[int, float, Event]]:
    """Every failed connect attempt (Hello or GetWorkItems, ``server_fault`` Abort) with a later Hello,
    as (j, delay, next Hello): ``delay`` as in ``reconnect_delays`` (from the SDK's ``rpc_done`` of the
    failed call, or the fault if the driver reported none, to the next Hello at the fake); ``j`` its
    place in its run of consecutive failures, 0 for the first failure after a Hello the server answered.

    Where the run restarts: P resets the attempt counter on a successful Hello, N on the stream's first
    message. The scenarios that read runs make both coincide (a stream that fails after a successful
    Hello has delivered a message first), so j numbers the attempts the same way under both designs.
    One pass over the history (bisect), since the statistical checks read hundreds of failures."""
    events = history.events
    ok_ids = {e.get("call_id") for e in events
              if e.source == FAKE and e.kind == "rpc_end" and e.get("method") == "Hello" and e.get("code") == "OK"}
    hello_starts = [e for e in events if e.source == FAKE and e.kind == "rpc_start" and e.get("method") == "Hello"]
    hello_ts = [e.t for e in hello_starts]
    resets = [e.t for e in hello_starts if e.get("call_id") in ok_ids]
    done = {m: [e.t for e in events if e.source == DRIVER and e.kind == "rpc_done" and e.get("method") == m]
            for m in CONNECT_METHODS}
    failures = [e for e in events if e.source == FAKE and e.kind == "server_fault"
                and e.get("method") in CONNECT_METHODS and e.get("fault") in FAILING_FAULTS]
    out: list[tuple[int, float, Event]] = []
    j, last_t = 0, float("-inf")
    for f in failures:
        if bisect.bisect_left(resets, f.t) > bisect.bisect_right(resets, last_t):
            j = 0  # a Hello was answered between the previous failure and this one
        last_t = f.t
        ts = done[f.get("method")]
        i = bisect.bisect_left(ts, f.t - 1e-3)  # the fault is the server's decision (server_close_time)
        seen = ts[i] if i < len(ts) else f.t
        k = bisect.bisect_left(hello_ts, max(seen, f.t))
        if k < len(hello_starts):
            out.append((j, hello_ts[k] - seen, hello_starts[k]))
        j += 1
    return out


def dkw_bound(n: int, alpha: float) -> float:
    """Dvoretzky-Kiefer-Wolfowitz (Massart): P(sup|F_n - F| > e) <= 2 exp(-2 n e^2) for ANY
    continuous F and n. Exact (not asymptotic) for all n, so alpha is a true upper bound on
    the false-failure probability of a conforming build."""
    return math.sqrt(math.log(2 / alpha) / (2 * n))


def one_sided_dkw_bound(n: int, alpha: float) -> float:
    """Massart's one-sided bound: P(sup(F - F_n) > e) <= exp(-2 n e^2), for every n whenever that
    probability is <= 1/2 (always so for alpha <= 1/2). Exact, like ``dkw_bound``."""
    return math.sqrt(math.log(1 / alpha) / (2 * n))


def ks_uniform(samples: list[float], cap: float) -> float:
    """sup_x |F_n(x) - x/cap| for x in [0, cap]."""
    xs = sorted(min(max(s / cap, 0.0), 1.0) for s in samples)
    n = len(xs)
    return max(max((i + 1) / n - x, x - i / n) for i, x in enumerate(xs))


# The KS distance to U[0, cap) of the nearest broken build the capped-regime test must catch: a fixed
# delay (at cap/2; anywhere else it is farther). Issue #8: from a tolerance of about 0.46 s such a build
# passed with 40 capped delays, cap 0.24 s.
FIXED_DELAY_KS_DISTANCE = 0.5


def guard_backoff_distribution(tolerance: float, *, cap: float, samples: int, alpha: float | None = None) -> None:
    """Stop the test as INCONCLUSIVE if the tolerance could let a fixed-delay build pass
    ``backoff_distribution``: its latency share (latency_allowance(tolerance)/cap) may use at most
    windows.WINDOW_FRACTION of the room between the DKW critical value and FIXED_DELAY_KS_DISTANCE. The
    tolerance at which that build passes is (0.5 - DKW) * cap / latency_allowance(1); the message names it.
    Call it at the start of the test, with the number of capped delays the test collects."""
    dkw = dkw_bound(samples, BACKOFF_ALPHA if alpha is None else alpha)
    passes_fixed_at = max(0.0, FIXED_DELAY_KS_DISTANCE - dkw) * cap / latency_allowance(1.0)
    name = f"the tolerance at which a fixed-delay build passes the KS test ({samples} capped delays, cap {cap:g}s)"
    problem = tolerance_problem(tolerance, {name: passes_fixed_at}, consequence=(
        f"the latency allowance would carry a build that always waits cap/2 close to the critical value "
        f"(it passes from {passes_fixed_at:.3g}s)"))
    if problem is not None:
        inconclusive(problem + ". Use a smaller --timing-tolerance, a longer cap or more samples.")


def ks_excess(us: list[float]) -> float:
    """sup_x (x - F_n(x)) for samples in [0, 1] against U[0, 1): how far the samples sit ABOVE the
    uniform (too long), the one direction ``backoff_ramp`` tests."""
    xs = sorted(min(max(u, 0.0), 1.0) for u in us)
    return max(x - i / len(xs) for i, x in enumerate(xs))


# False-failure probability of a conforming build, per test run: BACKOFF_ALPHA for the capped-regime
# KS test (``backoff_distribution``) plus BACKOFF_ALPHA for the ramp test (``backoff_ramp``), 1e-3 in
# all (union bound). Both bounds are exact (DKW/Massart above) before the latency allowance, which only
# makes them smaller. 1e-3 per run: a gate that runs the test a few hundred times a year sees a false
# failure less than once a year.
BACKOFF_ALPHA = 5e-4


def latency_allowance(tolerance: float) -> float:
    """The share of the one tolerance a single reconnect-delay sample may carry: SDK bookkeeping after
    the failure plus one loopback request to the fake. What it must cover is measured directly by
    benchmarks/timing_precision.py's ``reconnect`` component (the same delay as the fake and the SDK
    process see it): p99 7.6 ms quiet, 13.8 ms loaded, p99.9 22 ms on the 2-core CI machine
    (docs/TOLERANCE.md). tolerance / 10 (18 ms at windows.DEFAULT_TOLERANCE_S) is above the loaded p99,
    and the rarer outlier moves a KS or DKW statistic by only 1/n; it shrinks with a tighter tolerance."""
    return tolerance / 10


def ramp_windows(base: float, cap: float) -> list[float]:
    """The windows of the attempts that lie below the cap under P's numbering (j = 0, 1, ...: window
    min(cap, base*2^(j+1)) < cap): the early attempts whose delays show the exponential ramp."""
    out, j = [], 0
    while backoff_upper(j + 1, base, cap) < cap:
        out.append(backoff_upper(j + 1, base, cap))
        j += 1
    return out


@check
def backoff_distribution(history: History, *, base: float, cap: float, tolerance: float,
                         alpha: float = BACKOFF_ALPHA, min_samples: int = 30) -> Verdict:
    """Consecutive reconnect delays after repeated connect failures follow full jitter.

    1. every delay d_j (j = place in its run of consecutive failures, ``failure_runs``) lies in
       [0, min(cap, base*2^(j+1))) + tolerance (P's numbering, the looser of P and N);
    2. the delays in the capped regime (j >= log2(cap/base) + 1, so capped under both P and N)
       are U[0, cap): the KS distance to U[0, cap) is at most the DKW critical value for
       ``alpha`` plus latency_allowance(tolerance)/cap (latency shifts every sample up a little).
    A build that always waits 0, always the cap, a fixed time, or never grows fails 2. The ramp
    below the cap is ``backoff_ramp``'s."""
    check = "reconnect delays follow full jitter U[0, min(cap, base*2^k))"
    runs = failure_runs(history)
    if len(runs) < 2:
        return Verdict(check, False, f"only {len(runs)} reconnect delay(s) measured")
    over = [(j, d) for j, d, _ in runs if d > backoff_upper(j + 1, base, cap) + tolerance]
    first_capped = int(math.ceil(math.log2(cap / base))) + 1
    capped = [d for j, d, _ in runs if j >= first_capped]
    measured = {"delays": len(runs), "capped": len(capped)}
    if len(capped) < min_samples:
        return Verdict(check, False, f"only {len(capped)} delays in the capped regime (need {min_samples}); "
                       f"{len(runs)} delays measured", measured)
    d = ks_uniform(capped, cap)
    crit = dkw_bound(len(capped), alpha) + latency_allowance(tolerance) / cap
    qs = sorted(capped)
    quart = [qs[int(len(qs) * q)] for q in (0.25, 0.5, 0.75)]
    measured.update({"ks_distance": d, "ks_critical": crit, "q25_s": quart[0], "median_s": quart[1],
                     "q75_s": quart[2], "max_s": qs[-1], "min_s": qs[0]})
    ok = not over and d <= crit
    summary = (f"{len(capped)} capped delays: KS distance to U[0,{cap}) {d:.3f} (critical {crit:.3f}, "
               f"alpha {alpha}); quartiles {quart[0]:.3f}/{quart[1]:.3f}/{quart[2]:.3f}s, "
               f"range [{qs[0]:.3f}, {qs[-1]:.3f}]s; {len(over)} delay(s) above their window")
    if over:
        summary += f" (first: attempt j={over[0][0]} {over[0][1]:.3f}s)"
    return Verdict(check, ok, summary, measured)


@check
def backoff_ramp(history: History, *, base: float, cap: float, tolerance: float,
                 alpha: float = BACKOFF_ALPHA, min_samples: int = 40) -> Verdict:
    """The early delays of every run of consecutive failures stay within their OWN windows: the
    exponential ramp exists (BACKOFF-1: U[0, min(cap, base*2^k))).

    Only attempts whose window w_j = min(cap, base*2^(j+1)) (P's numbering, the looser) is below the
    cap can show a ramp (``ramp_windows``). Each such delay d becomes v = clip((d - a)/w_j, 0, 1) with
    a = latency_allowance(tolerance). For a conforming build d <= X + a with X ~ U[0, w_j) (N draws
    from half that window, smaller still), so every v is stochastically at most U[0, 1), and by
    Massart's one-sided DKW bound the excess sup_x (x - F_n(x)) exceeds sqrt(ln(1/alpha)/2n) with
    probability <= alpha: ``alpha`` bounds the false-failure probability. A build that draws from the
    capped window from the first attempt ("jitter without a ramp") puts most early delays above their
    window: with cap = 8*base (0.03/0.24 s) the expected excess is ~0.55 at a = 17 ms (tolerance 0.17 s)
    and ~0.5 at a = 25 ms (0.25 s), against a critical 0.28 at n = 50.
    The per-delay bound + tolerance cannot see that (0.06 s + tolerance is above most of U[0, 0.24))."""
    check = "early reconnect delays stay within their own windows (exponential ramp)"
    windows = ramp_windows(base, cap)
    a = latency_allowance(tolerance)
    early = [(j, d) for j, d, _ in failure_runs(history) if j < len(windows)]
    measured: dict[str, float | int] = {"early_delays": len(early), "ramp_attempts": len(windows)}
    if not windows:
        return Verdict(check, False, f"no attempt lies below the cap (base {base}s, cap {cap}s): the scenario "
                       "cannot show a ramp", measured)
    if len(early) < min_samples:
        return Verdict(check, False, f"only {len(early)} delay(s) of attempts below the cap (need {min_samples})",
                       measured)
    vs = [(d - a) / windows[j] for j, d in early]
    excess = ks_excess(vs)
    crit = one_sided_dkw_bound(len(vs), alpha)
    above = [(j, d) for j, d in early if d > windows[j] + a]
    measured.update({"excess": excess, "critical": crit, "above_window": len(above)})
    per_j = ", ".join(f"j={j} (window {w:.3f}s): {sum(1 for jj, d in above if jj == j)}/"
                      f"{sum(1 for jj, _ in early if jj == j)} above" for j, w in enumerate(windows))
    return Verdict(check, excess <= crit,
                   f"{len(early)} early delays: excess over U[0, window) {excess:.3f} (critical {crit:.3f}, "
                   f"alpha {alpha}, latency allowance {a * 1000:.0f} ms); {per_j}", measured)


@check
def delays_within_first_window(history: History, *, method: str, base: float, cap: float,
                               tolerance: float, min_samples: int) -> Verdict:
    """P: a successful Hello resets the attempt counter, so after each failure of a stream
    opened on a successful Hello the delay is drawn from the first window, 2*base (P's k = 1)."""
    bound = backoff_upper(1, base, cap) + tolerance
    check = f"attempt counter reset by a successful Hello (every delay <= {bound:.3f}s)"
    delays = reconnect_delays(history, method=method)
    if len(delays) < min_samples:
        return Verdict(check, False, f"only {len(delays)} reconnect delay(s) measured (need {min_samples})")
    worst = max(delays, key=lambda x: x[0])
    over = [d for d, _ in delays if d > bound]
    return Verdict(check, not over, f"{len(over)}/{len(delays)} delays above the first window; "
                   f"longest {worst[0]:.3f}s", {"longest_s": worst[0], "bound_s": bound,
                                                "delays": len(delays)}, [worst[1].seq])


# -- shutdown -----------------------------------------------------------------------------------
# Where a worker can be blocked when stop() is called (test_worker_shutdown.py's cases).
BLOCKED_IN = ("stream", "hello", "backoff")


def pending_wait_bound(opts: WorkerOptions, blocked_in: str) -> float:
    """The longest a worker that IGNORED stop() could still wait, from the stop, before its next connect
    attempt: what WRK-SHUT-002 must watch (plus the tolerance) to see "stop() returned, but the worker
    connected after its sleep". In a backoff (the stop follows the first failure): that sleep, at most
    the first window. In a Hello: the Hello's deadline, then the first failure's sleep. In an open
    stream: the silent-disconnect timer, then the first failure's sleep. Windows in P's numbering (the
    looser, windows.first_reconnect_bound)."""
    first = first_reconnect_bound(opts)
    pending = {"backoff": 0.0, "hello": opts.hello_timeout_seconds,
               "stream": opts.silent_disconnect_timeout_seconds}
    if blocked_in not in pending:
        raise ValueError(f"blocked_in must be one of {BLOCKED_IN}, not {blocked_in!r}")
    return pending[blocked_in] + first


@check
def stop_prompt(history: History, *, within: float, label: str = "stop requested") -> Verdict:
    """Every worker.stop() returned within ``within`` s (the driver's ``worker_stopped`` elapsed);
    the slowest one is reported. ``within`` is windows.STOP_LATENCY_S, stop()'s own derived bound
    (timed inside the SDK's process, so not the cross-process tolerance); the test states the waits
    stop() must not include with windows.guard_stop."""
    check = f"stop() returns within {within:.3f}s"
    all_stops = history.select(DRIVER, "worker_stopped")
    stopped = max(all_stops, key=lambda e: float(e.get("elapsed", 0)), default=None)
    asked = history.last(source=SCENARIO, kind="mark", label=label)
    if stopped is None:
        return Verdict(check, False, "the worker never reported stopped"
                       + (f" (stop requested at {asked.t - history.t0:.3f}s)" if asked else ""),
                       {}, [asked.seq] if asked else [])
    elapsed = float(stopped.get("elapsed"))
    return Verdict(check, elapsed <= within, f"stop() took {elapsed:.3f}s (bound {within:.3f}s)"
                   + (f"; slowest of {len(all_stops)} stops" if len(all_stops) > 1 else ""),
                   {"stop_s": elapsed, "bound_s": within}, [stopped.seq] + ([asked.seq] if asked else []))


# -- checks the scenarios and the field files share ---------------------------------------------
# -- checks ------------------------------------------------------------------------------
@check
def stream_abandoned_after_silence(history: History, *, call_id: int, fault_t: float,
                                   silent_timeout: float, tolerance: float) -> Verdict:
    """The worker gives up a stream that stopped delivering messages, T after the last one.

    The silent-disconnect timer runs from the last message the worker received. Messages
    the fake sent after the black hole started never arrived, so the clock starts at the
    last message sent before ``fault_t`` (or the stream start if there was none). The
    worker's give-up is its own cancel of the stream: the driver's ``rpc_done`` for
    GetWorkItems (seen in the SDK process even when the network drops the cancel), or the
    fake's client-ended ``rpc_end`` when it gets through.
    """
    check = "stream abandoned after the silent-disconnect timeout"
    start = history.first(source=FAKE, kind="rpc_start", call_id=call_id)
    if start is None:
        return Verdict(check, False, f"no stream with call_id {call_id} in the history")
    last = last_message_before(history, call_id, fault_t)
    t_last = last.t if last is not None else start.t
    expected = t_last + silent_timeout
    # The first sign of the give-up, from either side.
    ends = history.select(DRIVER, "rpc_done", after=fault_t, method="GetWorkItems")
    fake_end = call_end(history, call_id)
    candidates = [e for e in ends] + ([fake_end] if fake_end is not None and fake_end.t >= fault_t else [])
    if not candidates:
        return Verdict(check, False,
                       f"the stream was never abandoned (expected at {expected - history.t0:.3f}s, "
                       f"silent timeout {silent_timeout}s after the last message)",
                       {"expected_at": expected - history.t0},
                       [start.seq] + ([last.seq] if last else []))
    gave_up = min(candidates, key=lambda e: e.t)
    delta = gave_up.t - t_last
    ok = abs(gave_up.t - expected) <= tolerance
    return Verdict(check, ok,
                   f"gave up {delta:.3f}s after the last message; window "
                   f"[{silent_timeout - tolerance:.3f}, {silent_timeout + tolerance:.3f}]s",
                   {"silence_to_give_up_s": delta, "silent_timeout_s": silent_timeout},
                   [start.seq] + ([last.seq] if last else []) + [gave_up.seq])


@check
def reconnected_within(history: History, *, after: float, within: float,
                       what: str = "a new GetWorkItems stream") -> Verdict:
    """A new GetWorkItems stream reaches the fake no later than ``within`` seconds after ``after``."""
    check = f"reconnected within {within:.3f}s"
    nxt = streams(history, after=after)
    if not nxt:
        return Verdict(check, False, f"no {what} after {after - history.t0:.3f}s", {})
    delay = nxt[0].t - after
    return Verdict(check, delay <= within, f"{what} {delay:.3f}s after the reference point "
                   f"(bound {within:.3f}s)", {"reconnect_delay_s": delay, "bound_s": within}, [nxt[0].seq])


@check
def hello_within(history: History, *, after: float, within: float) -> Verdict:
    """The next connect attempt (Hello) reaches the fake within ``within`` s of ``after``."""
    check = f"next Hello within {within:.3f}s"
    hellos = history.select(FAKE, "rpc_start", after=after, method="Hello")
    if not hellos:
        return Verdict(check, False, f"no Hello after {after - history.t0:.3f}s")
    delay = hellos[0].t - after
    return Verdict(check, delay <= within, f"first Hello {delay:.3f}s after the failure (bound {within:.3f}s)",
                   {"reconnect_delay_s": delay, "bound_s": within}, [hellos[0].seq])


@check
def connect_attempt_within(history: History, *, after: float, within: float) -> Verdict:
    """The next connect attempt reaches the fake within ``within`` s of ``after``: the Hello, or, for a
    build that opens GetWorkItems without saying Hello, that GetWorkItems.

    The backoff requirements (WRK-BACKOFF-001, WRK-GRACEFUL-001) are about WHEN the worker tries again;
    whether it says Hello first is WRK-HELLO-* and DEFAULTS-001's business. Judging the backoff on the
    Hello alone charged a Hello-less build (Java, F-60) twice and hid its real reconnect timing. For a
    build that says Hello, the Hello precedes its stream, so this is the Hello as before."""
    check = f"next connect attempt within {within:.3f}s"
    attempts = history.select(FAKE, "rpc_start", after=after, method="Hello") + \
        history.select(FAKE, "rpc_start", after=after, method="GetWorkItems")
    if not attempts:
        return Verdict(check, False, f"no Hello or GetWorkItems after {after - history.t0:.3f}s")
    first = min(attempts, key=lambda e: e.t)
    what = "Hello" if first.get("method") == "Hello" else "GetWorkItems, without a Hello"
    delay = first.t - after
    return Verdict(check, delay <= within, f"first attempt ({what}) {delay:.3f}s after the failure "
                   f"(bound {within:.3f}s)", {"reconnect_delay_s": delay, "bound_s": within,
                                              "method": first.get("method")}, [first.seq])


@check
def one_open_stream(history: History, *, at: float) -> Verdict:
    """At ``at`` the worker holds at most one open GetWorkItems stream at the server. A stream the worker
    stopped reading but never ended stays open: the server may dispatch the next work item there, where
    nobody reads it (Java 1.5.0 after a refused completion), and whether the work is lost then depends
    on which stream the server picks. This makes that loss a deterministic verdict."""
    check = "at most one open GetWorkItems stream when the work item is queued"
    open_ids = []
    for start in history.select(FAKE, "rpc_start", method="GetWorkItems", before=at):
        end = history.first(source=FAKE, kind="rpc_end", call_id=start.get("call_id"))
        if end is None or end.t > at:
            open_ids.append(start)
    return Verdict(check, len(open_ids) <= 1,
                   f"{len(open_ids)} open stream(s) (call ids {[e.get('call_id') for e in open_ids]}) at "
                   f"{at - history.t0:.3f}s" + (": the older one(s) were never ended by the worker" if
                                                len(open_ids) > 1 else ""),
                   {"open_streams": len(open_ids)}, [e.seq for e in open_ids])


@check
def work_completed(history: History, *, token: str, within: float, after: float) -> Verdict:
    """A work item queued at ``after`` is completed (at least once) within ``within`` seconds,
    i.e. the worker has a WORKING stream again, not just an open one."""
    check = "work item completed on the recovered stream"
    done = history.select(FAKE, "work_item_completed", after=after, completion_token=token)
    if not done:
        return Verdict(check, False, f"work item {token} was never completed")
    delay = done[0].t - after
    return Verdict(check, delay <= within, f"completed {delay:.3f}s after it was queued (bound {within:.3f}s)",
                   {"completion_delay_s": delay, "completions": len(done)}, [done[0].seq])


@check
def exactly_once(history: History, *, token: str) -> Verdict:
    check = "completion delivered exactly once"
    done = history.select(FAKE, "work_item_completed", completion_token=token)
    dup = [e for e in done if e.get("duplicate")]
    return Verdict(check, len(done) == 1, f"{len(done)} completion(s), {len(dup)} duplicate(s)",
                   {"completions": len(done)}, [e.seq for e in done])


# -- checks used by field-report scenario files (scenarios/, harness/repro/) ----------------------------
@check
def no_rpc_after(history: History, *, after: float, methods: tuple[str, ...] | list[str] = ()) -> Verdict:
    """No request (of ``methods``, default any) reaches the fake after ``after`` (e.g. after stop)."""
    which = ", ".join(methods) if methods else "any method"
    check = f"no request ({which}) reaches the server after the reference point"
    late = history.select(FAKE, "rpc_start", after=after,
                          where=lambda e: not methods or e.get("method") in methods)
    return Verdict(check, not late,
                   f"{len(late)} request(s) after {after - history.t0:.3f}s: "
                   + ", ".join(f"{e.get('method')}@{e.t - history.t0:.3f}s" for e in late[:5]) if late
                   else f"none after {after - history.t0:.3f}s",
                   {"late_requests": len(late)}, [e.seq for e in late[:5]])
