"""Checks that only field-report scenario files use (harness/repro/expect.py): retries after a fault, a
stream's lifetime, how often an activity ran, client call outcomes, the densest burst of connect
attempts, reconnect delays against their backoff windows. Pure functions of a History."""

from __future__ import annotations

from harness.checks.queries import call_end, client_calls, streams
from harness.checks.verdict import Verdict, check, control
from harness.checks.windows import backoff_upper
from harness.checks.worker import failure_runs, hellos
from harness.history import DRIVER, FAKE, SCENARIO, Event, History


@check
def retried_after_fault(history: History, *, method: str, within: float) -> Verdict:
    """Every call of ``method`` the fake faulted (``server_fault``) is followed by a new call of the same
    method starting within ``within`` seconds of the faulted call's start."""
    check = f"{method} retried within {within:.3f}s of each faulted call"
    faults = history.select(FAKE, "server_fault", method=method)
    if not faults:
        return Verdict(check, False, f"the server faulted no {method} call (scenario did not take effect)")
    worst: tuple[float, Event | None] = (0.0, None)
    missing = []
    for f in faults:
        start = history.first(source=FAKE, kind="rpc_start", call_id=f.get("call_id"))
        t0 = start.t if start is not None else f.t
        faulted_id = f.get("call_id")
        nxt = next((e for e in history.select(FAKE, "rpc_start", after=t0 + 1e-9, method=method)
                    if e.get("call_id") != faulted_id), None)
        if nxt is None:
            missing.append(f)
            continue
        if nxt.t - t0 >= worst[0]:
            worst = (nxt.t - t0, nxt)
    ok = not missing and worst[0] <= within
    summary = (f"{len(missing)} faulted call(s) never retried" if missing else
               f"slowest retry {worst[0]:.3f}s after the faulted call started (bound {within:.3f}s)")
    return Verdict(check, ok, summary, {"slowest_retry_s": worst[0], "faulted_calls": len(faults)},
                   [f.seq for f in faults[:3]] + ([worst[1].seq] if worst[1] is not None else []))


def _run_end(history: History) -> Event | None:
    """Where the observation ended: the scenario's ``scenario_end`` mark, else the last event recorded."""
    end = history.last(source=SCENARIO, kind="scenario_end")
    return end if end is not None else (history.events[-1] if history.events else None)


@check
def stream_lasted_at_least(history: History, *, min_s: float) -> Verdict:
    """The first GetWorkItems stream was not ended (by either side) before ``min_s`` after it began.

    A stream still open when the run ended counts only if the run lasted ``min_s`` after the stream
    began: otherwise nobody watched long enough to see it end, and the verdict fails (as a control:
    the observation, not the SDK, fell short)."""
    check = f"the first stream stays open at least {min_s:.3f}s"
    first = history.first(source=FAKE, kind="rpc_start", method="GetWorkItems")
    if first is None:
        return Verdict(check, False, "no GetWorkItems stream reached the server")
    end = call_end(history, first.get("call_id"))
    gave_up = history.first(source=DRIVER, kind="rpc_done", method="GetWorkItems", after=first.t)
    ends = [e for e in (end, gave_up) if e is not None]
    if not ends:
        run_end = _run_end(history)
        watched = run_end.t - first.t if run_end is not None else 0.0
        ok = watched >= min_s
        v = Verdict(check, ok, f"the stream never ended; the run watched it {watched:.3f}s"
                    + ("" if ok else f", less than {min_s:.3f}s: the observation was too short to tell"),
                    {"lifetime_s": None, "watched_s": watched},
                    [first.seq] + ([run_end.seq] if run_end is not None else []))
        return v if ok else control(v)
    e = min(ends, key=lambda x: x.t)
    life = e.t - first.t
    return Verdict(check, life >= min_s, f"stream ended after {life:.3f}s ({e.source} {e.kind} "
                   f"code={e.get('code')} {e.get('details')!r})", {"lifetime_s": life}, [first.seq, e.seq])


@check
def activity_runs_at_most(history: History, *, instance_ids: list[str], at_most: int) -> Verdict:
    """The app ran each activity (identified by its instance id) at least once and at most ``at_most``
    times. An activity that never ran fails: "at most N runs" is vacuous when the work never arrived."""
    check = f"each activity ran at least once and at most {at_most} time(s)"
    if not instance_ids:
        return Verdict(check, False, "no activity was queued (nothing to count)")
    runs = {iid: history.select(DRIVER, "activity_started", instance_id=iid) for iid in instance_ids}
    worst = max(runs.items(), key=lambda kv: len(kv[1]))
    never = [k for k, v in runs.items() if not v]
    ok = not never and all(len(v) <= at_most for v in runs.values())
    return Verdict(check, ok, "runs per activity: " + ", ".join(f"{k}={len(v)}" for k, v in runs.items())
                   + (f"; {len(never)} never ran" if never else ""),
                   {"max_runs": len(worst[1]), "never_ran": len(never)}, [e.seq for e in worst[1][:4]])


@check
def client_calls_succeeded(history: History, *, client_id: str, op: str, count: int,
                           after: float | None = None) -> Verdict:
    """``count`` calls of ``op`` by client ``client_id`` all returned a result (no exception). With
    ``after``: every call that STARTED after it returned a result, and at least one did (calls during
    an outage before it may fail; the client must work again after it)."""
    calls = client_calls(history, client_id=client_id, op=op)
    if after is not None:
        calls = [c for c in calls if c.t - float(c.get("elapsed", 0) or 0) >= after]
        bad = [c for c in calls if c.get("outcome") != "ok"]
        check = f"every {op} call started after {after - history.t0:.3f}s returned a result"
        ok, total = bool(calls) and not bad, f"{len(calls)} call(s) started after it"
    else:
        bad = [c for c in calls if c.get("outcome") != "ok"]
        check = f"{count} {op} call(s) returned a result"
        ok, total = len(calls) == count and not bad, f"{len(calls)}/{count} calls finished"
    return Verdict(check, ok, f"{total}, {len(bad)} with an exception"
                   + (f": {bad[0].get('exc_type')} {bad[0].get('grpc_code')} {bad[0].get('message')!r} "
                      f"after {float(bad[0].get('elapsed', 0)):.3f}s" if bad else ""),
                   {"calls": len(calls), "failed": len(bad)}, [c.seq for c in (bad or calls)[:4]])


def densest_window(times: list[float], window: float) -> tuple[int, float]:
    """The most of ``times`` (sorted) that fall in any half-open interval [t, t + window), and where
    that interval starts (a sliding window anchored at each time: a maximum always starts at one)."""
    best, start, j = 0, times[0] if times else 0.0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        if i - j + 1 > best:
            best, start = i - j + 1, times[j]
    return best, start


@check
def connect_rate_at_most(history: History, *, after: float, before: float | None, window: float,
                         at_most: int) -> Verdict:
    """In any ``window`` seconds between ``after`` and ``before`` the worker made at most ``at_most``
    connect attempts. An attempt is counted as in checks.worker.connect_attempts: Hellos and
    GetWorkItems streams at the server are counted apart and the larger burst is taken (a worker that
    retries only one of them still makes one attempt per call)."""
    check = f"at most {at_most} connect attempts in any {window:.3f}s"
    hello_ts = [e.t for e in hellos(history, after=after, before=before)]
    stream_ts = [e.t for e in streams(history, after=after) if before is None or e.t < before]
    if not hello_ts and not stream_ts:
        return Verdict(check, False, "no connect attempt after the reference (scenario did not take effect)")
    (n_h, t_h), (n_s, t_s) = densest_window(hello_ts, window), densest_window(stream_ts, window)
    n, t, what = (n_h, t_h, "Hello") if n_h >= n_s else (n_s, t_s, "GetWorkItems")
    evs = [e for e in history.select(FAKE, "rpc_start", method=what, after=t - 1e-9, before=t + window)]
    return Verdict(check, n <= at_most,
                   f"densest {window:.3f}s: {n} {what} attempts from {t - history.t0:.3f}s "
                   f"({len(hello_ts)} Hellos, {len(stream_ts)} streams in all)",
                   {"max_attempts": n, "bound": at_most, "window_s": window}, [e.seq for e in evs[:3]])


@check
def reconnect_delays_within_windows(history: History, *, base: float, cap: float, tolerance: float,
                                    after: float | None = None, first_attempt: int = 1) -> Verdict:
    """Every reconnect delay after a failed connect attempt lies inside its full-jitter window: the j-th
    failure of a run of consecutive failures (checks.worker.failure_runs, the conformance numbering) is
    followed by the next Hello within min(cap, base*2^(j+first_attempt)) + tolerance -- the per-delay half
    of checks.worker.backoff_distribution, for a file too short for its distribution test.

    Only failures the server made are seen (``server_fault`` Abort); a failure the network made just
    before a run (an RST, a refused connect) is one more consecutive failure to the SDK, so such a
    run's first server failure is attempt 2: ``first_attempt`` says so (as in hello_retried_with_backoff)."""
    k = first_attempt
    check = f"each reconnect delay within its backoff window min(cap, base*2^(j+{k}))"
    runs = [(j, d, e) for j, d, e in failure_runs(history) if after is None or e.t > after]
    if not runs:
        return Verdict(check, False, "no connect attempt failed and was retried (scenario did not take effect)")
    over = [(j, d, e) for j, d, e in runs if d > backoff_upper(j + k, base, cap) + tolerance]
    worst = max(runs, key=lambda r: r[1] - backoff_upper(r[0] + k, base, cap))
    j, d, e = over[0] if over else worst
    return Verdict(check, not over,
                   f"{len(over)}/{len(runs)} delays above their window; "
                   + ("first" if over else "tightest") + f": attempt j={j} {d:.3f}s (window "
                   f"{backoff_upper(j + k, base, cap):.3f}s + tolerance {tolerance:.3f}s)",
                   {"delays": len(runs), "above_window": len(over), "worst_delay_s": d},
                   [r[2].seq for r in (over or [worst])[:4]])
