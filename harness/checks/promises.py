"""Checks for the promises the first areas left uncovered (SPEC.md section 5): documented defaults,
health pings, the stream timer before the first message, peer statuses on the worker's connect calls,
long polls on ``WaitForInstanceStart``, what a recreated channel keeps, and how channels are retired
at ``close()``, at ``stop()`` and when a retired channel's grace ends under a long poll.

Same contract as the other modules of harness/checks/: pure functions of a History returning a
Verdict, each decorated with ``@check``. Windows come from the options a scenario configures, the
values the build declares through its driver (``defaults_in_force``), and the one tolerance.

Event vocabulary read here, beyond the other modules': scenario ``sdk_defaults`` (the driver's
``defaults_in_force`` answer, recorded by the test), driver ``channel_created`` ``options``/``secure``,
``client_call_done`` ``exc_type``/``grpc_code``, ``activity_started``/``activity_finished`` ``input``,
``worker_stopped``; fake ``rpc_start`` ``metadata``/``deadline``, ``message_sent`` ``item``.
"""

from __future__ import annotations

from typing import Any

from harness.checks.queries import client_calls, sdk_channels_created
from harness.checks.verdict import Verdict, check
from harness.checks.windows import WorkerOptions
from harness.history import DRIVER, FAKE, SCENARIO, Event, History

COMPLETION_METHODS = ("CompleteActivityTask", "CompleteOrchestratorTask", "CompleteEntityTask",
                      "AbandonTaskActivityWorkItem", "AbandonTaskOrchestratorWorkItem",
                      "AbandonTaskEntityWorkItem")


def _t(history: History, t: float | None) -> str:
    return "-" if t is None else f"{t - history.t0:.3f}s"


# -- documented defaults ---------------------------------------------------------------------------
def documented_defaults() -> dict[str, Any]:
    """The defaults both designs document (promises.md section 1; P ``grpc_options.py``, N PR #708):
    the worker's are ``WorkerOptions()``'s (windows.py keeps them as its defaults), the clients'
    threshold 5 and minimum recreate interval 30 s, and the long polls' default timeout 60 s (P's API).
    The retire grace is left out: P promises "a short grace period" with no number."""
    return {"worker": WorkerOptions().as_dict(),
            "client": {"channel_recreate_failure_threshold": 5, "min_recreate_interval_seconds": 30.0},
            "client_long_poll_timeout_seconds": 60.0}


def _diff(expected: dict[str, Any], declared: Any, prefix: str) -> list[str]:
    out = []
    for key, want in expected.items():
        got = declared.get(key) if isinstance(declared, dict) else None
        if isinstance(want, dict):
            out += _diff(want, got, f"{prefix}{key}.") if isinstance(got, dict) else \
                [f"{prefix}{key}: the build declares none (documented {want})"]
        elif got is None or float(got) != float(want):
            out.append(f"{prefix}{key}: {'none' if got is None else got} (documented {want})")
    return out


@check
def defaults_as_documented(history: History, *, documented: dict[str, Any]) -> Verdict:
    """The defaults the build uses when given no options (the driver's ``defaults_in_force`` answer,
    recorded as a scenario ``sdk_defaults`` event) equal the documented ones, value by value. A setting the build does
    not have at all (a build without resiliency options) is a mismatch: the documented behaviour is
    missing, which is never "not applicable" for a MUST."""
    check = "the build's defaults are the documented ones"
    ev = history.last(source=SCENARIO, kind="sdk_defaults")
    if ev is None:
        return Verdict(check, False, "the build's defaults were never read (no sdk_defaults event)")
    wrong = _diff(documented, ev.data, "")
    return Verdict(check, not wrong,
                   ("; ".join(wrong[:6]) + (f" (+{len(wrong) - 6} more)" if len(wrong) > 6 else "")) if wrong
                   else f"{sum(1 for _ in _flat(documented))} documented defaults, all in force",
                   {"mismatches": len(wrong)}, [ev.seq])


def _flat(d: dict[str, Any]) -> list[str]:
    return [k for k, v in d.items() for k in (_flat(v) if isinstance(v, dict) else [k])]


# -- health pings ----------------------------------------------------------------------------------
@check
def pings_delivered(history: History, *, call_id: int, at_least: int, before: float) -> Verdict:
    """Control: the fake sent at least ``at_least`` health pings (and nothing else) on stream ``call_id``."""
    check = f"control: at least {at_least} health pings delivered"
    sent = history.select(FAKE, "message_sent", call_id=call_id, before=before)
    pings = [e for e in sent if e.get("item") == "healthPing"]
    return Verdict(check, len(pings) >= at_least and len(pings) == len(sent),
                   f"{len(pings)} ping(s), {len(sent) - len(pings)} other message(s) before the probe",
                   {"pings": len(pings), "other": len(sent) - len(pings)}, [e.seq for e in sent[:3]])


@check
def no_work_dispatched(history: History, *, after: float, before: float) -> Verdict:
    """Nothing the worker received in (after, before) was run as work: no completion or abandon RPC
    reached the server and no activity or orchestration ran in the SDK process."""
    check = "health pings are never dispatched as work"
    rpcs = [e for e in history.select(FAKE, "rpc_start", after=after, before=before)
            if e.get("method") in COMPLETION_METHODS]
    runs = history.select(DRIVER, "activity_started", after=after, before=before) + \
        history.select(DRIVER, "orchestration_run", after=after, before=before)
    bad = sorted(rpcs + runs, key=lambda e: e.t)
    return Verdict(check, not bad,
                   f"{len(rpcs)} completion/abandon call(s) and {len(runs)} work run(s) while only pings arrived"
                   + (f"; first: {bad[0].source} {bad[0].kind} {bad[0].get('method') or bad[0].get('name')} "
                      f"at {_t(history, bad[0].t)}" if bad else ""),
                   {"completion_calls": len(rpcs), "runs": len(runs)}, [e.seq for e in bad[:4]])


@check
def stream_end_observed(history: History, *, after: float) -> Verdict:
    """Control: the driver reported the end of a GetWorkItems stream after ``after`` (``rpc_done``), so a
    give-up in the window before would have been seen the same way."""
    check = "control: the end of a stream is observed"
    done = history.select(DRIVER, "rpc_done", after=after, method="GetWorkItems")
    return Verdict(check, bool(done), f"{len(done)} GetWorkItems end(s) reported after {_t(history, after)}"
                   + (f" (first: {done[0].get('code')})" if done else ""), {"ends": len(done)},
                   [e.seq for e in done[:2]])


# -- peer statuses on Hello / GetWorkItems -----------------------------------------------------------
@check
def faults_fired(history: History, *, method: str, code: str, count: int) -> Verdict:
    """Control: the fake failed exactly ``count`` ``method`` calls with ``code`` (the scenario took effect)."""
    check = f"control: the server failed {count} {method} call(s) with {code}"
    hits = history.select(FAKE, "server_fault", method=method, code=code)
    return Verdict(check, len(hits) == count, f"{len(hits)} {method} call(s) failed with {code}",
                   {"faults": len(hits)}, [e.seq for e in hits[:4]])


# -- long polls --------------------------------------------------------------------------------------
@check
def long_polls_end_at_timeout(history: History, *, client_id: str, op: str, method: str, timeout: float,
                              count: int, tolerance: float) -> Verdict:
    """Each long poll ``op`` ended as the caller's timeout (TimeoutError) about ``timeout`` s after it
    began, and each ``method`` call reached the server with the caller's timeout as its deadline."""
    check = f"{op} long polls end at the caller's timeout"
    calls = client_calls(history, client_id=client_id, op=op)
    fake_calls = history.select(FAKE, "rpc_start", method=method)
    bad = [c for c in calls if c.get("exc_type") != "TimeoutError"
           or abs(float(c.get("elapsed", 0)) - timeout) > tolerance]
    bad_deadline = [c for c in fake_calls if c.get("deadline") is None
                    or abs(float(c.get("deadline")) - timeout) > tolerance]
    ok = len(calls) == count and not bad and len(fake_calls) == count and not bad_deadline
    first = (f"; first: {bad[0].get('outcome')} {bad[0].get('exc_type') or ''} after "
             f"{float(bad[0].get('elapsed', 0)):.3f}s" if bad else "")
    return Verdict(check, ok,
                   f"{len(calls)}/{count} calls, {len(bad)} not a TimeoutError at ~{timeout}s{first}; "
                   f"{len(fake_calls)} reached the server, {len(bad_deadline)} without the caller's deadline",
                   {"calls": len(calls), "wrong": len(bad), "without_deadline": len(bad_deadline)},
                   [c.seq for c in (bad or calls)[:4]] + [c.seq for c in bad_deadline[:2]])


@check
def long_poll_cut_at_grace(history: History, *, client_id: str, op: str, recreated_at: float, grace: float,
                           tolerance: float) -> Verdict:
    """A long poll still in flight on a replaced channel when that channel's grace ends (``grace`` s after
    the recreation at ``recreated_at``) ends THEN, with a gRPC error the caller can tell from its own
    timeout and from a result: CANCELLED or UNAVAILABLE, not TimeoutError, not a state, not a hang
    until its own deadline."""
    check = "a long poll outliving its retired channel's grace ends at the grace as a gRPC error"
    polls = [c for c in client_calls(history, client_id=client_id, op=op) if c.t > recreated_at]
    if not polls:
        return Verdict(check, False, "the long poll never returned")
    p = polls[0]
    expected = recreated_at + grace
    late = p.t - expected
    code, exc = p.get("grpc_code"), p.get("exc_type")
    ok_kind = p.get("outcome") == "error" and exc != "TimeoutError" and code in ("CANCELLED", "UNAVAILABLE")
    ok = ok_kind and abs(late) <= tolerance
    return Verdict(check, ok,
                   f"ended {p.get('outcome')} {exc or ''} {code or ''} {grace + late:.3f}s after the recreation "
                   f"(grace {grace:.3f}s, window +-{tolerance:.3f}s)",
                   {"after_recreation_s": grace + late, "grace_s": grace, "grpc_code": code}, [p.seq])


# -- what a recreated channel keeps --------------------------------------------------------------------
def _header(e: Event, key: str) -> str | None:
    for kv in e.get("metadata") or []:
        if len(kv) == 2 and kv[0] == key:
            return str(kv[1])
    return None


@check
def calls_carry_header(history: History, *, key: str, prefix: str, after: float, before: float | None = None,
                       methods: tuple[str, ...] | list[str] = (), min_calls: int = 1) -> Verdict:
    """Every call the fake saw in the window (of ``methods``, default all) carried header ``key`` with a
    value starting with ``prefix`` (a user agent from the channel options, a header a user interceptor
    adds)."""
    check = f"every call carries {key}: {prefix}..."
    calls = history.select(FAKE, "rpc_start", after=after, before=before,
                           where=lambda e: not methods or e.get("method") in methods)
    missing = [e for e in calls if not (_header(e, key) or "").startswith(prefix)]
    return Verdict(check, len(calls) >= min_calls and not missing,
                   f"{len(calls)} call(s) (need >= {min_calls}), {len(missing)} without it"
                   + (f" (first: {missing[0].get('method')} at {_t(history, missing[0].t)} with "
                      f"{key}={_header(missing[0], key)!r})" if missing else ""),
                   {"calls": len(calls), "missing": len(missing)}, [e.seq for e in (missing or calls)[:3]])


@check
def sdk_channels_alike(history: History, *, after: float | None = None, secure: bool | None = None) -> Verdict:
    """Every SDK-owned channel created after ``after`` was built with the same channel arguments and the
    same transport security as the first (and, with ``secure`` given, with that security): a recreated
    channel keeps the options and the secure flag it was configured with (CLIENT-4)."""
    check = "recreated channels keep the channel options and the secure flag"
    made = sdk_channels_created(history, after=after)
    if len(made) < 2:
        return Verdict(check, False, f"{len(made)} SDK-owned channel(s): no recreation to compare",
                       {"channels": len(made)}, [e.seq for e in made])
    first = made[0]
    want_secure = first.get("secure") if secure is None else secure
    odd = [e for e in made if e.get("options") != first.get("options") or bool(e.get("secure")) != bool(want_secure)]
    return Verdict(check, not odd,
                   f"{len(made)} channels, {len(odd)} differ from the first (options {first.get('options')}, "
                   f"secure={first.get('secure')})"
                   + (f"; channel {odd[0].get('channel_id')}: options {odd[0].get('options')}, "
                      f"secure={odd[0].get('secure')}" if odd else ""),
                   {"channels": len(made), "different": len(odd)}, [e.seq for e in (odd or made)[:3]])


# -- retiring channels -----------------------------------------------------------------------------------
@check
def sdk_channels_closed_by(history: History, *, after: float | None, by: float, what: str) -> Verdict:
    """Every SDK-owned channel created after ``after`` was closed (driver ``channel_closed``) no later than
    ``by``: retired channels included, none left for a timer to close later."""
    check = f"every SDK-owned channel closed {what}"
    made = sdk_channels_created(history, after=after)
    if not made:
        return Verdict(check, False, "no SDK-owned channel was created (setup)")
    closed = {e.get("channel_id"): e for e in history.select(DRIVER, "channel_closed")}
    late = [e for e in made if e.get("channel_id") not in closed or closed[e.get("channel_id")].t > by]
    desc = ", ".join(f"{e.get('channel_id')}@" + (_t(history, closed[e.get("channel_id")].t)
                                                 if e.get("channel_id") in closed else "never") for e in made)
    return Verdict(check, not late, f"{len(made)} channel(s) closed at {desc}; bound {_t(history, by)}",
                   {"channels": len(made), "late_or_open": len(late)},
                   [e.seq for e in late[:3]] + [closed[e.get("channel_id")].seq for e in made[:3]
                                                if e.get("channel_id") in closed])


@check
def channel_closed_after_completions(history: History, *, channel_id: int | None, min_completions: int) -> Verdict:
    """SDK-owned channel ``channel_id`` carried at least ``min_completions`` completion RPCs (the work
    that came in on it answered on it), all OK, and was closed only after every one of them had ended
    (the driver's ``rpc_done``): it was retired after the drain, not under it. Too few completions
    fail: a channel closed before anything was sent on it has drained nothing."""
    check = "the channel is closed only after its completions ended"
    if channel_id is None:
        return Verdict(check, False, "no channel to judge (setup)")
    closed = history.first(source=DRIVER, kind="channel_closed", channel_id=channel_id)
    done = history.select(DRIVER, "rpc_done", channel_id=channel_id,
                          where=lambda e: e.get("method") in COMPLETION_METHODS)
    if closed is None:
        return Verdict(check, False, f"channel {channel_id} was never closed", {"completions": len(done)})
    after = [e for e in done if e.t > closed.t]
    failed = [e for e in done if e.get("code") != "OK"]
    return Verdict(check, len(done) >= min_completions and not after and not failed,
                   f"channel {channel_id} closed at {_t(history, closed.t)}; {len(done)} completion RPC(s) on it "
                   f"(expected >= {min_completions}), "
                   f"{len(after)} ended after the close, {len(failed)} not OK"
                   + (f" (first: {failed[0].get('code')} {failed[0].get('details')!r})" if failed else ""),
                   {"completions": len(done), "after_close": len(after), "failed": len(failed)},
                   [closed.seq] + [e.seq for e in (after or failed or done)[:3]])


# -- draining across stop() --------------------------------------------------------------------------------
def _runs(history: History, kind: str, inp: str) -> list[Event]:
    return history.select(DRIVER, kind, where=lambda e: e.get("input") == inp)


@check
def work_state_at(history: History, *, inp: str, t: float, state: str) -> Verdict:
    """Control: at ``t`` the activity run with input ``inp`` was ``state``: "running" (started, not
    finished) or "queued" (received but not started)."""
    check = f"control: the work item {inp!r} was {state} when stop() was called"
    started, finished = _runs(history, "activity_started", inp), _runs(history, "activity_finished", inp)
    s0 = started[0].t if started else None
    f0 = finished[0].t if finished else None
    if state == "running":
        ok = s0 is not None and s0 <= t and (f0 is None or f0 > t)
    else:
        ok = s0 is None or s0 > t
    return Verdict(check, ok, f"started {_t(history, s0)}, finished {_t(history, f0)}, stop at {_t(history, t)}",
                   {}, [e.seq for e in (started[:1] + finished[:1])])


@check
def completed_after_stop(history: History, *, tokens: list[str], stop_t: float) -> Verdict:
    """Every work item in ``tokens`` (in flight or queued when stop() was called at ``stop_t``) was
    accepted by the server, once, by a completion that arrived after ``stop_t``: completions keep
    draining across stop()."""
    check = "in-flight and queued completions keep draining across stop()"
    missing, dup, early = [], [], []
    evidence = []
    for token in tokens:
        done = history.select(FAKE, "work_item_completed", completion_token=token)
        evidence += [e.seq for e in done[:1]]
        fresh = [e for e in done if not e.get("duplicate")]
        if not fresh:
            missing.append(token)
        elif len(done) > 1:
            dup.append(token)
        elif fresh[0].t < stop_t:
            early.append(token)
    ok = not missing and not dup and not early
    return Verdict(check, ok,
                   f"{len(tokens) - len(missing)}/{len(tokens)} accepted after stop(); {len(missing)} never "
                   f"completed, {len(dup)} completed more than once, {len(early)} completed before stop()",
                   {"items": len(tokens), "missing": len(missing), "duplicates": len(dup), "before_stop": len(early)},
                   evidence)
