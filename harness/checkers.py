"""Checkers: functions that read a History and return a Verdict.

This is where a verdict is decided. Scenarios only drive the SDK and the faults
and then call these; they never sleep-and-assert on their own. Each checker is a
pure function of the recorded events, so the same history file gives the same
verdict when re-checked later (``python -m harness check HISTORY.json`` uses them too).

Event vocabulary read here (written by fakes/sidecar.py, harness/netfaults.py,
harness/driver.py; see harness/history.py):
- fake ``rpc_start`` / ``rpc_end`` (call_id, method, peer, code, ended_by, server_gen)
- fake ``message_sent`` (call_id, item, completion_token)
- fake ``work_item_completed`` (completion_token, duplicate)
- network ``fault_start`` / ``fault_end`` / ``tcp_reset`` / ``tcp_rst_seen``
- driver ``channel_created`` / ``channel_closed`` (owner), ``rpc_done`` (method, code, details),
  ``client_call_done``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.history import DRIVER, FAKE, NETWORK, Event, History


@dataclass
class Verdict:
    """The outcome of one check: what was required, what was measured, and the evidence."""

    check: str
    ok: bool
    summary: str
    measured: dict[str, Any] = field(default_factory=dict)
    evidence: list[int] = field(default_factory=list)  # event seq numbers
    requirement: str | None = None  # the SPEC.md ID this verdict decides, when a test cites several

    def __bool__(self) -> bool:
        return self.ok

    def explain(self, history: History | None = None) -> str:
        lines = [f"[{'PASS' if self.ok else 'FAIL'}] {self.check}: {self.summary}"]
        if self.requirement:
            lines.append(f"  requirement: {self.requirement}")
        if self.measured:
            lines.append("  measured: " + ", ".join(f"{k}={_fmt(v)}" for k, v in self.measured.items()))
        if history is not None and self.evidence:
            by_seq = {e.seq: e for e in history.events}
            for s in self.evidence:
                ev = by_seq.get(s)
                if ev is not None:
                    lines.append(f"  evidence: t={ev.t - history.t0:.3f}s {ev.source} {ev.kind} "
                                 + " ".join(f"{k}={_fmt(v)}" for k, v in ev.data.items()
                                            if k not in ("request", "metadata")))
        return "\n".join(lines)


def for_requirement(requirement_id: str, *verdicts: Verdict) -> list[Verdict]:
    """Tag verdicts with the requirement they decide.

    A test that cites several requirements fails as a whole, but the conformance matrix then
    marks FAIL only the requirements whose verdicts failed (untagged failures still fail all)."""
    for v in verdicts:
        v.requirement = requirement_id
    return list(verdicts)


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def require(*verdicts: Verdict, history: History | None = None) -> None:
    """Assert that every verdict passed; the failure message explains all of them."""
    if not all(v.ok for v in verdicts):
        raise AssertionError("\n".join(v.explain(history) for v in verdicts))


# -- small queries -------------------------------------------------------------------
def streams(history: History, after: float | None = None) -> list[Event]:
    """GetWorkItems calls seen by the fake (rpc_start events)."""
    return history.select(FAKE, "rpc_start", after=after, method="GetWorkItems")


def call_end(history: History, call_id: int) -> Event | None:
    return history.first(source=FAKE, kind="rpc_end", call_id=call_id)


def server_close_time(history: History, call_id: int) -> float | None:
    """When the fake decided to end a stream: its ``server_fault`` or the ``goaway`` that drained it.

    The fake writes ``rpc_end`` when grpc reports the call finished, which can come after the
    client has already seen the trailers and acted on them; a window that starts at the close
    must start at the decision, or a fast client's reaction would fall before it."""
    start = history.first(source=FAKE, kind="rpc_start", call_id=call_id)
    end = call_end(history, call_id)
    if start is None or end is None:
        return None
    marks = [e.t for e in history.select(FAKE, "server_fault", call_id=call_id)]
    marks += [e.t for e in history.select(FAKE, "goaway", after=start.t, before=end.t + 1e-9)
              if e.get("server_gen") == start.get("server_gen")]
    return min(marks + [end.t])


def last_message_before(history: History, call_id: int, before: float) -> Event | None:
    return history.last(source=FAKE, kind="message_sent", call_id=call_id, before=before)


def sdk_channels_created(history: History, after: float | None = None,
                         before: float | None = None) -> list[Event]:
    return history.select(DRIVER, "channel_created", after=after, before=before, owner="sdk")


# -- checks ------------------------------------------------------------------------------
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


def hello_within(history: History, *, after: float, within: float) -> Verdict:
    """The next connect attempt (Hello) reaches the fake within ``within`` s of ``after``."""
    check = f"next Hello within {within:.3f}s"
    hellos = history.select(FAKE, "rpc_start", after=after, method="Hello")
    if not hellos:
        return Verdict(check, False, f"no Hello after {after - history.t0:.3f}s")
    delay = hellos[0].t - after
    return Verdict(check, delay <= within, f"first Hello {delay:.3f}s after the failure (bound {within:.3f}s)",
                   {"reconnect_delay_s": delay, "bound_s": within}, [hellos[0].seq])


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


def exactly_once(history: History, *, token: str) -> Verdict:
    check = "completion delivered exactly once"
    done = history.select(FAKE, "work_item_completed", completion_token=token)
    dup = [e for e in done if e.get("duplicate")]
    return Verdict(check, len(done) == 1, f"{len(done)} completion(s), {len(dup)} duplicate(s)",
                   {"completions": len(done)}, [e.seq for e in done])


def rst_reached_client(history: History, *, client_port: int) -> Verdict:
    """A TCP segment with RST set was delivered to the SDK's socket (packet evidence)."""
    check = "a real TCP RST reached the client"
    rsts = history.select(NETWORK, "tcp_rst_seen", where=lambda e: e.get("dst_port") == client_port)
    return Verdict(check, bool(rsts),
                   f"{len(rsts)} RST segment(s) to client port {client_port}" if rsts
                   else f"no RST segment to client port {client_port} was seen on loopback",
                   {"rst_segments": len(rsts)}, [e.seq for e in rsts[:3]])


def client_saw_reset(history: History, *, after: float) -> Verdict:
    """The SDK's GetWorkItems call failed with a connection reset, not a clean close."""
    check = "the SDK saw a connection reset (not a clean close)"
    done = history.select(DRIVER, "rpc_done", after=after, method="GetWorkItems")
    if not done:
        return Verdict(check, False, "the driver reported no end of the GetWorkItems call")
    ev = done[0]
    details = str(ev.get("details", "")).lower()
    ok = ev.get("code") == "UNAVAILABLE" and "reset" in details
    return Verdict(check, ok, f"stream ended with {ev.get('code')} {ev.get('details')!r}",
                   {"code": ev.get("code")}, [ev.seq])


def no_sdk_channel_created(history: History, *, after: float, before: float | None = None,
                           why: str = "") -> Verdict:
    check = "no channel recreation" + (f" ({why})" if why else "")
    created = sdk_channels_created(history, after=after, before=before)
    return Verdict(check, not created,
                   f"{len(created)} SDK-owned channel(s) created in the window" if created
                   else "no SDK-owned channel was created in the window",
                   {"channels_created": len(created)}, [e.seq for e in created])


def sdk_channel_created(history: History, *, after: float, before: float | None = None,
                        why: str = "") -> Verdict:
    check = "a fresh SDK-owned channel" + (f" ({why})" if why else "")
    created = sdk_channels_created(history, after=after, before=before)
    return Verdict(check, bool(created),
                   f"{len(created)} SDK-owned channel(s) created in the window",
                   {"channels_created": len(created)}, [e.seq for e in created])


def client_calls(history: History, *, client_id: str, op: str) -> list[Event]:
    return history.select(DRIVER, "client_call_done", client_id=client_id, op=op)


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


# -- checks used by field-report scenario files (scenarios/, harness/repro/) ----------------------------
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


def max_open_connections(history: History, *, at_most: int) -> Verdict:
    """At every sample of the SDK process's sockets (scenario ``tcp_connections`` events, taken from the
    driver's ``connections`` command) at most ``at_most`` TCP connections to the server were open."""
    check = f"at most {at_most} TCP connection(s) open"
    samples = history.select(kind="tcp_connections")
    if not samples:
        return Verdict(check, False, "no connection samples in the history")
    worst = max(samples, key=lambda e: int(e.get("count", 0)))
    n = int(worst.get("count", 0))
    return Verdict(check, n <= at_most, f"peak {n} open connection(s) at {worst.t - history.t0:.3f}s over "
                   f"{len(samples)} samples (bound {at_most})", {"peak_connections": n, "samples": len(samples)},
                   [worst.seq])


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


def stream_lasted_at_least(history: History, *, min_s: float) -> Verdict:
    """The first GetWorkItems stream was not ended (by either side) before ``min_s`` after it began."""
    check = f"the first stream stays open at least {min_s:.3f}s"
    first = history.first(source=FAKE, kind="rpc_start", method="GetWorkItems")
    if first is None:
        return Verdict(check, False, "no GetWorkItems stream reached the server")
    end = call_end(history, first.get("call_id"))
    gave_up = history.first(source=DRIVER, kind="rpc_done", method="GetWorkItems", after=first.t)
    ends = [e for e in (end, gave_up) if e is not None]
    if not ends:
        return Verdict(check, True, "the stream never ended", {"lifetime_s": None}, [first.seq])
    e = min(ends, key=lambda x: x.t)
    life = e.t - first.t
    return Verdict(check, life >= min_s, f"stream ended after {life:.3f}s ({e.source} {e.kind} "
                   f"code={e.get('code')} {e.get('details')!r})", {"lifetime_s": life}, [first.seq, e.seq])


def activity_runs_at_most(history: History, *, instance_ids: list[str], at_most: int) -> Verdict:
    """The app ran each activity (identified by its instance id) at most ``at_most`` times."""
    check = f"each activity ran at most {at_most} time(s)"
    runs = {iid: history.select(DRIVER, "activity_started", instance_id=iid) for iid in instance_ids}
    worst = max(runs.items(), key=lambda kv: len(kv[1])) if runs else ("", [])
    ok = all(len(v) <= at_most for v in runs.values())
    return Verdict(check, ok, "runs per activity: " + ", ".join(f"{k}={len(v)}" for k, v in runs.items()),
                   {"max_runs": len(worst[1])}, [e.seq for e in worst[1][:4]])


def client_calls_succeeded(history: History, *, client_id: str, op: str, count: int) -> Verdict:
    """``count`` calls of ``op`` by client ``client_id`` all returned a result (no exception)."""
    check = f"{count} {op} call(s) returned a result"
    calls = client_calls(history, client_id=client_id, op=op)
    bad = [c for c in calls if c.get("outcome") != "ok"]
    return Verdict(check, len(calls) == count and not bad,
                   f"{len(calls)}/{count} calls finished, {len(bad)} with an exception"
                   + (f": {bad[0].get('exc_type')} {bad[0].get('grpc_code')} {bad[0].get('message')!r} "
                      f"after {float(bad[0].get('elapsed', 0)):.3f}s" if bad else ""),
                   {"calls": len(calls), "failed": len(bad)}, [c.seq for c in (bad or calls)[:4]])
