"""Checkers for client resiliency and channel ownership (CLI-STATUS-*, CLI-RECREATE-*, CHAN-OWN-*).

Same contract as harness/checks/: pure functions of a History returning a Verdict. Event
vocabulary read here: driver ``channel_created`` {channel_id, owner}, ``channel_closed``
{channel_id}, ``rpc_done`` {method, role, channel_id, code} (worker and sync clients only),
``client_call_done`` {client_id, op, outcome, grpc_code}; fake ``rpc_start`` {call_id, method,
peer, metadata}, ``rpc_end`` {call_id, code}.
"""

from __future__ import annotations

from harness.checks.queries import client_calls, sdk_channels_created
from harness.checks.verdict import Verdict, check
from harness.history import DRIVER, FAKE, History


def _t(history: History, t: float | None) -> str:
    return "-" if t is None else f"{t - history.t0:.3f}s"


# -- recreation counts ----------------------------------------------------------------------------
@check
def recreations_exactly(history: History, *, after: float, before: float | None, count: int,
                        why: str) -> Verdict:
    """Exactly ``count`` SDK-owned channels were created in (after, before)."""
    check = f"exactly {count} channel recreation(s) ({why})"
    created = sdk_channels_created(history, after=after, before=before)
    return Verdict(check, len(created) == count,
                   f"{len(created)} SDK-owned channel(s) created between {_t(history, after)} and "
                   f"{_t(history, before)}", {"channels_created": len(created)}, [e.seq for e in created[:6]])


@check
def recreations_spaced(history: History, *, after: float, interval: float, tolerance: float) -> Verdict:
    """No two SDK-owned channel creations after ``after`` are closer than ``interval`` (minus the
    tolerance): ``min_recreate_interval_seconds`` is honoured."""
    check = f"recreations at least {interval:.3f}s apart (min_recreate_interval_seconds)"
    created = sdk_channels_created(history, after=after)
    gaps = [(b.t - a.t, a, b) for a, b in zip(created, created[1:], strict=False)]
    if not gaps:
        return Verdict(check, True, f"{len(created)} recreation(s): nothing to space",
                       {"recreations": len(created)}, [e.seq for e in created])
    gap, a, b = min(gaps, key=lambda g: g[0])
    return Verdict(check, gap >= interval - tolerance,
                   f"{len(created)} recreations, closest two {gap:.3f}s apart (bound {interval:.3f}s "
                   f"- tolerance {tolerance:.3f}s)", {"min_gap_s": gap, "recreations": len(created)},
                   [a.seq, b.seq])


# -- calls ---------------------------------------------------------------------------------------
@check
def calls_failed_with(history: History, *, client_id: str, op: str, code: str, count: int,
                      after: float, before: float | None = None) -> Verdict:
    """The ``count`` calls made in the window each surfaced their own gRPC error ``code`` to the
    caller (not swallowed, not retried into a success)."""
    check = f"each failing {op} call surfaces its own {code}"
    calls = [c for c in client_calls(history, client_id=client_id, op=op)
             if c.t > after and (before is None or c.t < before)]
    bad = [c for c in calls if c.get("outcome") != "error" or c.get("grpc_code") != code]
    return Verdict(check, len(calls) == count and not bad,
                   f"{len(calls)}/{count} call(s), {len(bad)} did not end with {code}"
                   + (f": first was {bad[0].get('outcome')} {bad[0].get('grpc_code')}" if bad else ""),
                   {"calls": len(calls), "wrong": len(bad)}, [c.seq for c in (bad or calls)[:4]])


@check
def server_saw_calls(history: History, *, method: str, count: int, after: float,
                     before: float | None = None) -> Verdict:
    """The fake saw exactly ``count`` calls of ``method`` in the window (no hidden retry)."""
    check = f"{method} reached the server exactly {count} time(s) (no hidden retry)"
    seen = history.select(FAKE, "rpc_start", after=after, before=before, method=method)
    return Verdict(check, len(seen) == count, f"{len(seen)} {method} call(s) in the window",
                   {"calls": len(seen)}, [e.seq for e in seen[:6]])


@check
def later_calls_work(history: History, *, client_id: str, op: str, after: float, count: int,
                     on_channel: int | None = None) -> Verdict:
    """Calls made after ``after`` succeed; when ``on_channel`` is given (sync client: the driver's
    ``rpc_done`` carries the channel id) they ran on that channel."""
    check = f"later {op} calls work" + (f" on channel {on_channel}" if on_channel is not None else "")
    calls = [c for c in client_calls(history, client_id=client_id, op=op) if c.t > after]
    bad = [c for c in calls if c.get("outcome") != "ok"]
    ok = len(calls) >= count and not bad
    summary = f"{len(calls)} call(s) after the recreation, {len(bad)} failed"
    evidence = [c.seq for c in (bad or calls)[:4]]
    if on_channel is not None:
        done = history.select(DRIVER, "rpc_done", after=after, role=f"client:{client_id}")
        elsewhere = [d for d in done if d.get("channel_id") != on_channel]
        ok = ok and bool(done) and not elsewhere
        summary += f"; {len(done)} rpc(s) observed, {len(elsewhere)} on another channel" + (
            f" (channel {elsewhere[0].get('channel_id')})" if elsewhere else "")
        evidence += [d.seq for d in elsewhere[:2]]
    return Verdict(check, ok, summary, {"calls": len(calls), "failed": len(bad)}, evidence)


@check
def long_poll_completed(history: History, *, client_id: str, started_after: float, timeout: float) -> Verdict:
    """A long poll (wait_completion) that was in flight during a recreation returned the
    instance's final state before its own timeout: it was not cut short."""
    check = "long poll in flight across a recreation completes normally"
    polls = [c for c in client_calls(history, client_id=client_id, op="wait_completion") if c.t > started_after]
    if not polls:
        return Verdict(check, False, "the long poll never returned")
    p = polls[0]
    ended = history.select(FAKE, "rpc_end", after=started_after, method="WaitForInstanceCompletion")
    fake_code = ended[0].get("code") if ended else None
    ok = p.get("outcome") == "ok" and fake_code == "OK" and float(p.get("elapsed", 0)) < timeout
    return Verdict(check, ok,
                   f"long poll ended {p.get('outcome')} {p.get('exc_type') or ''} {p.get('grpc_code') or ''} "
                   f"after {float(p.get('elapsed', 0)):.3f}s (its timeout {timeout}s); the server ended it {fake_code}",
                   {"elapsed_s": float(p.get("elapsed", 0)), "server_code": fake_code},
                   [p.seq] + [e.seq for e in ended[:1]])


# -- connections ----------------------------------------------------------------------------------
@check
def new_peer_after(history: History, *, before_t: float, after_t: float, method: str = "GetInstance") -> Verdict:
    """The first ``method`` call after ``after_t`` (after the recreation) reaches the server from a
    different TCP connection (peer address) than the last call before ``before_t``."""
    check = "recreation yields a new TCP connection (new peer at the server)"
    old = history.last(source=FAKE, kind="rpc_start", before=before_t, method=method)
    new = history.first(source=FAKE, kind="rpc_start", after=after_t, method=method)
    if old is None or new is None:
        return Verdict(check, False, f"missing calls: before={old is not None}, after={new is not None}")
    return Verdict(check, old.get("peer") != new.get("peer"),
                   f"last call before the recreation from {old.get('peer')}, first call after from "
                   f"{new.get('peer')}", {"old_peer": old.get("peer"), "new_peer": new.get("peer")},
                   [old.seq, new.seq])


# -- ownership ---------------------------------------------------------------------------------------
@check
def channel_not_closed(history: History, *, channel_id: int | None, before: float | None = None,
                       what: str = "the caller's channel") -> Verdict:
    check = f"the SDK never closes {what}"
    if channel_id is None:
        return Verdict(check, False, f"{what} was never created (setup)")
    closed = history.select(DRIVER, "channel_closed", before=before, channel_id=channel_id)
    return Verdict(check, not closed,
                   f"channel {channel_id} closed at {_t(history, closed[0].t)}" if closed
                   else f"channel {channel_id} was not closed", {"closed": len(closed)},
                   [e.seq for e in closed[:1]])


@check
def channel_not_closed_before(history: History, *, channel_id: int | None, until: float,
                              what: str = "the replaced channel") -> Verdict:
    """A replaced channel is still open at ``until`` (it is retired after a grace, not at once)."""
    return channel_not_closed(history, channel_id=channel_id, before=until, what=what + " before the grace")


@check
def rpcs_only_on(history: History, *, role: str, channel_id: int | None, after: float,
                 min_calls: int = 1) -> Verdict:
    """Every RPC of ``role`` after ``after`` ran on ``channel_id`` (driver ``rpc_done``)."""
    check = f"{role} keeps using the same channel"
    done = history.select(DRIVER, "rpc_done", after=after, role=role)
    other = [d for d in done if d.get("channel_id") != channel_id]
    return Verdict(check, len(done) >= min_calls and not other,
                   f"{len(done)} rpc(s), {len(other)} on a channel other than {channel_id}"
                   + (f" (first on {other[0].get('channel_id')})" if other else ""),
                   {"rpcs": len(done), "elsewhere": len(other)}, [d.seq for d in (other or done)[:3]])


@check
def counted_failures_seen(history: History, *, role: str, method: str, codes: tuple[str, ...],
                          at_least: int, after: float, before: float | None = None) -> Verdict:
    """Control: the SDK really saw at least ``at_least`` counted failures (so a recreation would
    have been due on an SDK-owned channel)."""
    check = f"control: at least {at_least} counted {method} failure(s) seen by {role}"
    done = history.select(DRIVER, "rpc_done", after=after, before=before, role=role, method=method,
                          where=lambda e: e.get("code") in codes)
    return Verdict(check, len(done) >= at_least, f"{len(done)} {method} call(s) ended with {'/'.join(codes)}",
                   {"failures": len(done)}, [d.seq for d in done[:3]])


@check
def metadata_on_every_call(history: History, *, key: str, value: str, after: float,
                           before: float | None = None, min_calls: int = 1) -> Verdict:
    """Every call the fake saw in the window carried the metadata pair ``key: value``."""
    check = f"metadata {key}={value} on every call"
    calls = history.select(FAKE, "rpc_start", after=after, before=before)
    missing = [e for e in calls if [key, value] not in [list(kv) for kv in (e.get("metadata") or [])]]
    return Verdict(check, len(calls) >= min_calls and not missing,
                   f"{len(calls)} call(s), {len(missing)} without it"
                   + (f" (first: {missing[0].get('method')} at {_t(history, missing[0].t)})" if missing else ""),
                   {"calls": len(calls), "missing": len(missing)}, [e.seq for e in (missing or calls)[:3]])


# -- checks the scenarios and the field files share ---------------------------------------------
@check
def no_sdk_channel_created(history: History, *, after: float, before: float | None = None,
                           why: str = "") -> Verdict:
    check = "no channel recreation" + (f" ({why})" if why else "")
    created = sdk_channels_created(history, after=after, before=before)
    return Verdict(check, not created,
                   f"{len(created)} SDK-owned channel(s) created in the window" if created
                   else "no SDK-owned channel was created in the window",
                   {"channels_created": len(created)}, [e.seq for e in created])


@check
def sdk_channel_created(history: History, *, after: float, before: float | None = None,
                        why: str = "") -> Verdict:
    check = "a fresh SDK-owned channel" + (f" ({why})" if why else "")
    created = sdk_channels_created(history, after=after, before=before)
    return Verdict(check, bool(created),
                   f"{len(created)} SDK-owned channel(s) created in the window",
                   {"channels_created": len(created)}, [e.seq for e in created])


@check
def long_polls_timed_out(history: History, *, client_id: str, timeout: float, count: int,
                         tolerance: float) -> Verdict:
    """Each long poll ended with the caller's timeout (TimeoutError) after ~``timeout`` seconds,
    and the fake saw the caller's deadline on the call."""
    check = "long polls end at the caller's timeout"
    calls = client_calls(history, client_id=client_id, op="wait_completion")
    fake_calls = history.select(FAKE, "rpc_start", method="WaitForInstanceCompletion")
    bad = [c for c in calls if c.get("exc_type") != "TimeoutError"
           or abs(float(c.get("elapsed", 0)) - timeout) > tolerance]
    bad_deadline = [c for c in fake_calls if c.get("deadline") is None
                    or abs(float(c.get("deadline")) - timeout) > tolerance]
    ok = len(calls) == count and not bad and len(fake_calls) == count and not bad_deadline
    return Verdict(check, ok,
                   f"{len(calls)}/{count} calls, {len(bad)} not a TimeoutError at ~{timeout}s, "
                   f"{len(fake_calls)} reached the fake, {len(bad_deadline)} without the caller's deadline",
                   {"calls": len(calls)}, [c.seq for c in (bad or calls)[:4]] + [c.seq for c in bad_deadline[:2]])
