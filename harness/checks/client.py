"""Checkers for client resiliency and channel ownership (CLI-STATUS-*, CLI-RECREATE-*, CHAN-OWN-*).

Same contract as harness/checks/: pure functions of a History returning a Verdict. Event
vocabulary read here: driver ``channel_created`` {channel_id, owner, role}, ``channel_closed``
{channel_id, role}, ``client_closed`` {client_id, elapsed}, ``rpc_done`` {method, role, channel_id,
code} (worker and sync clients only), ``client_call_done`` {client_id, op, outcome, grpc_code,
elapsed}; fake ``rpc_start`` {call_id, method, peer, metadata}, ``rpc_end`` {call_id, code}.

Recreations are attributed by owner: ``role`` ("worker", "client:<id>") names the worker or client
a channel belongs to, so a check about client ``c`` never counts the channels of a control client
or of the worker running alongside it. A channel the driver could not attribute (``role`` null,
or a history recorded before drivers named it) counts AGAINST a "no recreation" verdict of any
role (it may have been that role's) and never FOR a "there was a recreation" verdict.
"""

from __future__ import annotations

from harness.checks.queries import client_calls, sdk_channels_created
from harness.checks.verdict import Verdict, check
from harness.history import DRIVER, FAKE, Event, History


def _t(history: History, t: float | None) -> str:
    return "-" if t is None else f"{t - history.t0:.3f}s"


def client_role(client_id: str) -> str:
    """The driver's ``role`` for client ``client_id`` (as in ``rpc_done``)."""
    return f"client:{client_id}"


def _created(history: History, role: str | None, after: float | None,
             before: float | None = None) -> tuple[list[Event], list[Event]]:
    """SDK-owned channels created in [after, before): (those of ``role``, unattributed ones). With no
    ``role``: every SDK-owned channel, none unattributed (the check is about the whole process)."""
    created = sdk_channels_created(history, after=after, before=before)
    if role is None:
        return created, []
    return ([e for e in created if e.get("role") == role],
            [e for e in created if e.get("role") is None])


def _of(role: str | None) -> str:
    return f" of {role}" if role else ""


def _calls_after(history: History, *, client_id: str, after: float | None) -> list[Event]:
    """Every call of client ``client_id`` that returned after ``after`` (any op), in order."""
    return history.select(DRIVER, "client_call_done", after=after, client_id=client_id)


# -- recreation counts ----------------------------------------------------------------------------
@check
def recreations_exactly(history: History, *, after: float, before: float | None, count: int,
                        why: str, role: str | None = None) -> Verdict:
    """Exactly ``count`` SDK-owned channels (of ``role``) were created in [after, before); an
    unattributed one makes the count uncertain, so it fails the verdict."""
    check = f"exactly {count} channel recreation(s) ({why})"
    created, unknown = _created(history, role, after, before)
    return Verdict(check, len(created) == count and not unknown,
                   f"{len(created)} SDK-owned channel(s){_of(role)} created between {_t(history, after)} and "
                   f"{_t(history, before)}" + (f", {len(unknown)} not attributed to any owner" if unknown else ""),
                   {"channels_created": len(created), "unattributed": len(unknown)},
                   [e.seq for e in (created + unknown)[:6]])


@check
def recreations_spaced(history: History, *, after: float, interval: float, tolerance: float,
                       role: str | None = None) -> Verdict:
    """No two SDK-owned channel creations (of ``role``, or unattributed) after ``after`` are closer
    than ``interval`` (minus the tolerance): ``min_recreate_interval_seconds`` is honoured."""
    check = f"recreations at least {interval:.3f}s apart (min_recreate_interval_seconds)"
    mine, unknown = _created(history, role, after)
    created = sorted(mine + unknown, key=lambda e: (e.t, e.seq))
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
                           why: str = "", role: str | None = None) -> Verdict:
    """No SDK-owned channel (of ``role``, or unattributed) was created in [after, before)."""
    check = "no channel recreation" + (f" ({why})" if why else "")
    mine, unknown = _created(history, role, after, before)
    created = mine + unknown
    return Verdict(check, not created,
                   f"{len(mine)} SDK-owned channel(s){_of(role)} created in the window"
                   + (f", {len(unknown)} not attributed to any owner" if unknown else "") if created
                   else f"no SDK-owned channel{_of(role)} was created in the window",
                   {"channels_created": len(mine), "unattributed": len(unknown)}, [e.seq for e in created])


@check
def sdk_channel_created(history: History, *, after: float, before: float | None = None,
                        why: str = "", role: str | None = None) -> Verdict:
    """At least one SDK-owned channel (of ``role``) was created in [after, before)."""
    check = "a fresh SDK-owned channel" + (f" ({why})" if why else "")
    created, _ = _created(history, role, after, before)
    return Verdict(check, bool(created),
                   f"{len(created)} SDK-owned channel(s){_of(role)} created in the window",
                   {"channels_created": len(created)}, [e.seq for e in created])


@check
def recreated_promptly(history: History, *, client_id: str, after: float, tolerance: float) -> Verdict:
    """The first recreation of client ``client_id``'s channel after ``after`` followed the failed call
    that made it due (the client's first failed call after ``after``) within the tolerance: the client
    acts on the N-th failure at once (no option configures a delay), so the recreated channel is in
    place for the calls that follow, and a phase's own work is over one tolerance after its last
    call (which is what lets a scenario close a phase there)."""
    check = "recreation follows the failure that made it due within the tolerance"
    role = client_role(client_id)
    failed = [c for c in _calls_after(history, client_id=client_id, after=after) if c.get("outcome") != "ok"]
    created, _ = _created(history, role, after)
    if not failed or not created:
        return Verdict(check, False, f"{len(failed)} failed call(s) and {len(created)} recreation(s) of {role} "
                       f"after {_t(history, after)}: nothing to time", {"failed_calls": len(failed),
                                                                       "recreations": len(created)},
                       [e.seq for e in (failed + created)[:3]])
    trigger, rec = failed[0], created[0]
    delay = rec.t - trigger.t
    # The SDK may finish the recreation before the driver reports the call's return (a negative delay),
    # but not before the call began: that recreation was caused by something earlier.
    started = trigger.t - float(trigger.get("elapsed") or 0.0)
    ok = started <= rec.t and delay <= tolerance
    return Verdict(check, ok,
                   f"channel {rec.get('channel_id')} created {delay:.3f}s after the failed {trigger.get('op')} "
                   f"returned (bound: tolerance {tolerance:.3f}s)"
                   + ("" if started <= rec.t else "; before that call even began: not its doing"),
                   {"delay_s": delay, "bound_s": tolerance}, [trigger.seq, rec.seq])


@check
def channels_closed_at_close(history: History, *, client_id: str, tolerance: float) -> Verdict:
    """RETIRE-2: when ``close()`` of client ``client_id`` returns (driver ``client_closed``), every
    SDK-owned channel the client built, the current one and every retired one still in its grace, is
    closed, within the tolerance (P: close() "closes any previously retired SDK-owned gRPC channels
    immediately instead of waiting for the delayed cleanup timer")."""
    check = "close() closes every channel the client built, retired ones included"
    role = client_role(client_id)
    closed_ev = history.first(source=DRIVER, kind="client_closed", client_id=client_id)
    if closed_ev is None:
        return Verdict(check, False, f"client {client_id} was never closed (setup)")
    built, _ = _created(history, role, None, closed_ev.t)
    deadline = closed_ev.t + tolerance
    open_ = [e for e in built if history.first(source=DRIVER, kind="channel_closed", before=deadline,
                                                 channel_id=e.get("channel_id")) is None]
    return Verdict(check, bool(built) and not open_,
                   f"{len(built)} SDK-owned channel(s) of {role}; {len(open_)} still open "
                   f"{tolerance:.3f}s after close() returned at {_t(history, closed_ev.t)}"
                   + (f" (channel {open_[0].get('channel_id')})" if open_ else ""),
                   {"channels": len(built), "open": len(open_)}, [closed_ev.seq] + [e.seq for e in open_[:3]])


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
