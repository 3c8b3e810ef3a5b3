"""Checkers for the worker handshake, stream-health, backoff and shutdown requirements.

Same contract as harness/checks/: pure functions of a History returning a Verdict.
Windows come from the options a scenario configures plus the one tolerance
(harness/checks/windows.py); the statistical backoff check documents its own error rate.

Vocabulary read here (see docs/WRITING-TESTS.md): fake ``rpc_start`` (method, deadline,
call_id), ``rpc_end`` (code, ended_by), ``server_fault``; driver ``rpc_done`` (method,
code), ``worker_stopped`` (elapsed); scenario ``mark`` (label).
"""

from __future__ import annotations

import math

from harness.checks.queries import call_end, last_message_before, server_close_time, streams
from harness.checks.verdict import Verdict, check
from harness.checks.windows import backoff_upper
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
    (hello_timeout - tolerance, hello_timeout]; a little slack above covers clock rounding."""
    check = "Hello carries the Hello-timeout deadline"
    hs = hellos(history)
    if not hs:
        return Verdict(check, False, "no Hello reached the server")
    bad = [h for h in hs if h.get("deadline") is None
           or not (hello_timeout - tolerance <= float(h.get("deadline")) <= hello_timeout + 0.01)]
    seen = [h.get("deadline") for h in hs]
    return Verdict(check, not bad,
                   f"{len(bad)}/{len(hs)} Hello(s) without a deadline in "
                   f"[{hello_timeout - tolerance:.3f}, {hello_timeout:.3f}]s; deadlines seen: "
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
def reconnect_delays(history: History, *, method: str, after: float | None = None) -> list[tuple[float, Event]]:
    """For every call of ``method`` the fake faulted (``server_fault``), the delay from the moment
    the SDK saw that failure (driver ``rpc_done``; the fake's decision if the driver reported
    none) to the next Hello at the fake. Ordered by time; failures with no later Hello are left out."""
    out = []
    for f in history.select(FAKE, "server_fault", method=method, after=after):
        seen = _sdk_saw_end(history, f.get("call_id"), method) or f.t
        nxt = _next_hello(history, max(seen, f.t))
        if nxt is not None:
            out.append((nxt.t - seen, nxt))
    return out


def dkw_bound(n: int, alpha: float) -> float:
    """Dvoretzky-Kiefer-Wolfowitz (Massart): P(sup|F_n - F| > e) <= 2 exp(-2 n e^2) for ANY
    continuous F and n. Exact (not asymptotic) for all n, so alpha is a true upper bound on
    the false-failure probability of a conforming build."""
    return math.sqrt(math.log(2 / alpha) / (2 * n))


def ks_uniform(samples: list[float], cap: float) -> float:
    """sup_x |F_n(x) - x/cap| for x in [0, cap]."""
    xs = sorted(min(max(s / cap, 0.0), 1.0) for s in samples)
    n = len(xs)
    return max(max((i + 1) / n - x, x - i / n) for i, x in enumerate(xs))


# False-failure probability of the distribution check for a conforming build: 1e-3 per run
# (DKW bound above, before the latency allowance, which only makes it smaller). With 40
# capped samples the critical value is 0.31 + the latency share; the broken builds it must
# catch are at 0.5 (a fixed delay of cap/2), 0.75 (never grows past 2*base = cap/4) and ~1.0
# (always 0, always the cap).
BACKOFF_ALPHA = 1e-3


def latency_allowance(tolerance: float) -> float:
    """The share of the one tolerance a single reconnect-delay sample may carry: SDK bookkeeping
    after the failure plus one loopback request to the fake. windows.py measures the whole
    chain (both directions, thread hand-offs) at well under 50 ms p99 against a 0.25 s
    tolerance; one direction is at most half of that, so tolerance / 10 (25 ms) is >= 2x it."""
    return tolerance / 10


@check
def backoff_distribution(history: History, *, method: str, base: float, cap: float, tolerance: float,
                         alpha: float = BACKOFF_ALPHA, min_samples: int = 30) -> Verdict:
    """Consecutive reconnect delays after repeated failures of ``method`` follow full jitter.

    1. every delay d_i (i = 0, 1, ...) lies in [0, min(cap, base*2^(i+1))) + tolerance
       (P's numbering, the looser of P and N);
    2. the delays in the capped regime (i >= log2(cap/base) + 1, so capped under both P and N)
       are U[0, cap): the KS distance to U[0, cap) is at most the DKW critical value for
       ``alpha`` plus latency_allowance(tolerance)/cap (latency shifts every sample up a little).
    A build that always waits 0, always the cap, a fixed time, or never grows fails 2."""
    check = "reconnect delays follow full jitter U[0, min(cap, base*2^k))"
    delays = [d for d, _ in reconnect_delays(history, method=method)]
    if len(delays) < 2:
        return Verdict(check, False, f"only {len(delays)} reconnect delay(s) measured")
    over = [(i, d) for i, d in enumerate(delays) if d > backoff_upper(i + 1, base, cap) + tolerance]
    first_capped = int(math.ceil(math.log2(cap / base))) + 1
    capped = delays[first_capped:]
    measured = {"delays": len(delays), "capped": len(capped)}
    if len(capped) < min_samples:
        return Verdict(check, False, f"only {len(capped)} delays in the capped regime (need {min_samples}); "
                       f"{len(delays)} delays measured", measured)
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
        summary += f" (first: #{over[0][0]} {over[0][1]:.3f}s)"
    return Verdict(check, ok, summary, measured)


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
@check
def stop_prompt(history: History, *, within: float, label: str = "stop requested") -> Verdict:
    """Every worker.stop() returned within ``within`` s (the driver's ``worker_stopped`` elapsed);
    the slowest one is reported."""
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
