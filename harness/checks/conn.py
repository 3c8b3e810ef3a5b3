"""Checkers for channel recreation on a dead connection, in-flight drain and connection leaks.

Pure functions of a History returning ``Verdict`` (harness/checks/). Event vocabulary read here,
in addition to checkers.py's:
- network ``fault_start`` / ``fault_end`` with ``scope="connection"`` (harness/net/conn.py)
- fake ``rpc_start`` ``peer`` ("ipv4:127.0.0.1:PORT"): the TCP connection a call came on
- fake ``work_item_completed`` / ``work_item_redelivered`` / ``server_fault``
- driver ``channel_created`` / ``channel_closed`` (channel_id, owner), ``rpc_start`` / ``rpc_done``
  (method, code, channel_id), ``activity_started`` / ``activity_finished`` (instance_id)
- scenario ``tcp_connections`` {count, connections}: samples of the SDK process's own sockets

Windows derive from the options a scenario configures (``recreate_bound``) plus the one tolerance.
"""

from __future__ import annotations

from harness.checks.queries import call_end
from harness.checks.verdict import Verdict, check
from harness.checks.windows import WorkerOptions, backoff_upper
from harness.history import DRIVER, FAKE, NETWORK, History


# -- windows -------------------------------------------------------------------------------------
def recreate_bound(opts: WorkerOptions) -> float:
    """Longest allowed time from the last message a black-holed stream delivered to the first Hello
    on a NEW connection, for threshold N = ``channel_recreate_failure_threshold``:

    silent timeout T (failure 1) + for each further failure k = 2..N one Hello that times out on the
    dead connection (hello_timeout) + before every attempt k = 1..N one backoff sleep of at most
    min(cap, base * 2^k) (the looser, Python numbering; windows.first_reconnect_bound). The N-th
    failure recreates the channel; the attempt after the N-th sleep is the new connection's Hello."""
    n = max(1, int(opts.channel_recreate_failure_threshold))
    sleeps = sum(backoff_upper(k, opts.reconnect_backoff_base_seconds, opts.reconnect_backoff_cap_seconds)
                 for k in range(1, n + 1))
    return opts.silent_disconnect_timeout_seconds + (n - 1) * opts.hello_timeout_seconds + sleeps


def peer_port(peer: str | None) -> int | None:
    try:
        return int(str(peer).rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None


# -- RECREATE ------------------------------------------------------------------------------------
@check
def hellos_failed_on_dead_connection(history: History, *, after: float, before: float | None,
                                     expected: int) -> Verdict:
    """Between the give-up and the recreation the worker tried ``expected`` Hellos on the old channel
    and each failed as a transport failure (DEADLINE_EXCEEDED or UNAVAILABLE): the failures that count
    toward the recreate threshold."""
    check = f"{expected} Hello attempt(s) failed on the dead connection before recreation"
    done = history.select(DRIVER, "rpc_done", after=after, before=before, method="Hello")
    failed = [e for e in done if e.get("code") in ("DEADLINE_EXCEEDED", "UNAVAILABLE")]
    return Verdict(check, len(failed) == expected,
                   f"{len(failed)} failed Hello(s) ({', '.join(str(e.get('code')) for e in failed) or 'none'}), "
                   f"{len(done) - len(failed)} other(s) in the window",
                   {"failed_hellos": len(failed), "expected": expected}, [e.seq for e in done[:6]])


@check
def hello_from_new_connection_within(history: History, *, old_peer: str, since: float, after: float,
                                     within: float) -> Verdict:
    """A Hello reaches the server from a DIFFERENT TCP connection (fake ``peer``) than ``old_peer``
    no later than ``within`` s after ``since`` (only Hellos after ``after`` are considered)."""
    check = f"Hello from a new TCP connection within {within:.3f}s"
    hellos = history.select(FAKE, "rpc_start", after=after, method="Hello")
    fresh = [e for e in hellos if e.get("peer") != old_peer]
    if not fresh:
        return Verdict(check, False, f"no Hello from a connection other than {old_peer} after the fault "
                       f"({len(hellos)} Hello(s) arrived, all on the black-holed connection)" if hellos else
                       f"no Hello from a connection other than {old_peer} after the fault (none arrived)",
                       {"hellos": len(hellos)}, [e.seq for e in hellos[:4]])
    first = fresh[0]
    delay = first.t - since
    return Verdict(check, delay <= within,
                   f"first Hello from {first.get('peer')} (old {old_peer}) {delay:.3f}s after the last "
                   f"message on the old connection (bound {within:.3f}s)",
                   {"new_connection_delay_s": delay, "bound_s": within}, [first.seq])


# -- DRAIN ---------------------------------------------------------------------------------------
@check
def completion_delivered_once(history: History, *, token: str, before: float | None = None) -> Verdict:
    """The work item ``token`` was accepted by the server exactly once: one non-duplicate completion,
    by the run that started before the fault (its completion got through) or, if the server
    redelivered the item (``work_item_redelivered``), by whichever run finished first. Duplicates
    are allowed only after a redelivery (the server's at-least-once), never without one."""
    check = "in-flight completion delivered exactly once"
    done = history.select(FAKE, "work_item_completed", before=before, completion_token=token)
    fresh = [e for e in done if not e.get("duplicate")]
    redelivered = history.select(FAKE, "work_item_redelivered", before=before, completion_token=token)
    how = f" (item redelivered {len(redelivered)}x)" if redelivered else ""
    if not done:
        return Verdict(check, False, f"work item {token} was never completed at the server{how}",
                       {"completions": 0, "redeliveries": len(redelivered)}, [e.seq for e in redelivered[:3]])
    # A duplicate is the SDK's fault only when the server never redelivered the item; after a
    # redelivery the second run's completion is the server's own at-least-once doing.
    return Verdict(check, len(fresh) == 1 and (len(done) == 1 or bool(redelivered)),
                   f"{len(done)} completion(s), {len(done) - len(fresh)} duplicate(s){how}; first on "
                   f"{done[0].get('peer')}",
                   {"completions": len(done), "redeliveries": len(redelivered)}, [e.seq for e in done[:4]])


@check
def channel_closed_after_work(history: History, *, channel_id: int, instance_id: str,
                              until: float | None = None) -> Verdict:
    """The SDK-owned channel ``channel_id`` (replaced by a reconnect) was closed, and only AFTER the
    in-flight work (activity ``instance_id``) had finished and its completion RPC on that channel had
    ended (RETIRE-1: the old channel drains, then it is closed)."""
    check = "old channel closed only after the in-flight work finished"
    closed = history.first(source=DRIVER, kind="channel_closed", channel_id=channel_id, before=until)
    finished = history.first(source=DRIVER, kind="activity_finished", instance_id=instance_id)
    completes = history.select(DRIVER, "rpc_done", before=until, channel_id=channel_id,
                               where=lambda e: str(e.get("method", "")).startswith("Complete"))
    if finished is None:
        return Verdict(check, False, f"the activity {instance_id} never finished (setup or wedge)",
                       {}, [closed.seq] if closed else [])
    if closed is None:
        return Verdict(check, False, f"channel {channel_id} was never closed (retired channel leaked); "
                       f"activity finished at {finished.t - history.t0:.3f}s", {}, [finished.seq])
    last_complete = max((e.t for e in completes), default=None)
    gap = closed.t - finished.t
    # No completion RPC ended on the channel: the order this check exists for was never observed (the
    # completion was dropped, or the channel was closed under it before grpc could even start the call).
    ok = closed.t >= finished.t and last_complete is not None and closed.t >= last_complete
    return Verdict(check, ok,
                   f"channel {channel_id} closed {gap:+.3f}s relative to the activity's end"
                   + (f", {closed.t - last_complete:+.3f}s relative to its completion RPC's end"
                      if last_complete is not None else
                      ", but no completion RPC ended on it: the in-flight work's completion was never seen there"),
                   {"close_minus_finish_s": gap}, [finished.seq, closed.seq] + [e.seq for e in completes[:2]])


@check
def activity_in_flight_at(history: History, *, instance_id: str, t: float) -> Verdict:
    """Control: the activity had started and not yet finished at ``t`` (the fault hit in-flight work)."""
    check = "the activity was in flight when the fault hit"
    started = history.first(source=DRIVER, kind="activity_started", instance_id=instance_id)
    finished = history.first(source=DRIVER, kind="activity_finished", instance_id=instance_id)
    ok = started is not None and started.t <= t and (finished is None or finished.t > t)
    return Verdict(check, ok, ("started before the fault and finished after it" if ok else
                               f"started={started.t - history.t0 if started else None}, "
                               f"finished={finished.t - history.t0 if finished else None}, "
                               f"fault at {t - history.t0:.3f}s"),
                   {}, [e.seq for e in (started, finished) if e is not None])


@check
def stream_lost_during_run(history: History, *, instance_id: str) -> Verdict:
    """Control: the SDK's GetWorkItems call ended (driver ``rpc_done``) while the activity ``instance_id``
    ran (between its first ``activity_started`` and ``activity_finished``): the in-flight work's stream
    was lost from the SDK's own point of view, whatever the server knew."""
    check = "the SDK lost its stream while the activity ran"
    started = history.first(source=DRIVER, kind="activity_started", instance_id=instance_id)
    finished = history.first(source=DRIVER, kind="activity_finished", instance_id=instance_id)
    if started is None or finished is None:
        return Verdict(check, False, f"the activity {instance_id} never "
                       + ("started" if started is None else "finished"))
    ended = history.select(DRIVER, "rpc_done", after=started.t, before=finished.t, method="GetWorkItems")
    return Verdict(check, bool(ended),
                   f"GetWorkItems ended {ended[0].t - started.t:.3f}s into the run ({ended[0].get('code')})"
                   if ended else "no GetWorkItems call ended while the activity ran",
                   {}, [started.seq, finished.seq] + [e.seq for e in ended[:1]])


@check
def peer_heard_after(history: History, *, peer: str, after: float) -> Verdict:
    """Control: the server heard from connection ``peer`` (fake ``peer``) again after ``after``: a call
    started, ended or completed work from it. After a black hole on it is lifted, TCP resumes the old
    connection at its next retransmission (harness/net/conn.py); this shows it did."""
    check = "the old connection was heard from after the black hole"
    heard = history.select(FAKE, after=after, where=lambda e: e.get("peer") == peer
                           and e.kind in ("rpc_start", "rpc_end", "work_item_completed"))
    return Verdict(check, bool(heard),
                   f"first {heard[0].kind} from {peer} {heard[0].t - after:.3f}s after the black hole"
                   if heard else f"nothing from {peer} after the black hole", {}, [e.seq for e in heard[:2]])


@check
def server_fault_fired(history: History, *, method: str) -> Verdict:
    """Control: the fake really faulted ``method`` (the scenario's fault took effect)."""
    check = f"the server faulted {method}"
    f = history.select(FAKE, "server_fault", method=method)
    return Verdict(check, bool(f), f"{len(f)} faulted {method} call(s)", {"faults": len(f)}, [e.seq for e in f[:2]])


# -- LEAK ----------------------------------------------------------------------------------------
@check
def max_open_sdk_channels(history: History, *, at_most: int, samples: list[float]) -> Verdict:
    """At each sample time, SDK-owned channels created and not yet closed (driver events) <= ``at_most``.

    Counts channel OBJECTS, which a TCP count cannot see: grpc's global subchannel pool lets a leaked
    channel share the new channel's TCP connection (grpc-mechanics.md §3)."""
    check = f"at most {at_most} SDK-owned channel(s) open"
    if not samples:
        return Verdict(check, False, "no sample times given")
    worst_n, worst_t, worst_ids = -1, samples[0], []
    for t in samples:
        created = history.select(DRIVER, "channel_created", before=t, owner="sdk")
        closed = {e.get("channel_id") for e in history.select(DRIVER, "channel_closed", before=t)}
        open_ids = [e.get("channel_id") for e in created if e.get("channel_id") not in closed]
        if len(open_ids) > worst_n:
            worst_n, worst_t, worst_ids = len(open_ids), t, open_ids
    return Verdict(check, worst_n <= at_most,
                   f"peak {worst_n} open SDK-owned channel(s) {worst_ids} at {worst_t - history.t0:.3f}s over "
                   f"{len(samples)} samples (bound {at_most})", {"peak_open_channels": worst_n})


@check
def stream_ended_by_server(history: History, *, call_id: int) -> Verdict:
    """Control: the server ended stream ``call_id`` (graceful close really happened)."""
    check = "the server ended the stream"
    end = call_end(history, call_id)
    ok = end is not None and end.get("ended_by") == "server"
    return Verdict(check, ok, f"rpc_end ended_by={end.get('ended_by') if end else None} "
                   f"code={end.get('code') if end else None}", {}, [end.seq] if end else [])


@check
def inflight_run_completion_delivered(history: History, *, token: str, instance_id: str) -> Verdict:
    """The run that was in flight when its stream was lost got ITS OWN completion to the server, and the
    server took it as the item's result (P: in-flight completions keep draining across stream resets).

    Runs are told apart by time, which is all the server sees (a redelivered run sends the same token):
    the in-flight run is the first ``activity_started`` of ``instance_id`` and ends at the first
    ``activity_finished``; any later run (a redelivery) cannot complete before it has itself finished
    (the driver records ``activity_finished`` before the SDK sends the completion). So the first
    accepted (non-duplicate) completion of ``token`` must arrive after the in-flight run finished and
    before any later run finished. FAILS when no completion was accepted at all, and when the first
    accepted one came after a later run finished: the in-flight run's completion was dropped, or only
    late (then it shows up as a duplicate), and the server's redelivery did the work."""
    check = "the in-flight run's own completion was delivered"
    starts = history.select(DRIVER, "activity_started", instance_id=instance_id)
    ends = history.select(DRIVER, "activity_finished", instance_id=instance_id)
    done = history.select(FAKE, "work_item_completed", completion_token=token)
    accepted = [e for e in done if not e.get("duplicate")]
    redelivered = history.select(FAKE, "work_item_redelivered", completion_token=token)
    measured: dict[str, object] = {"runs": len(starts), "redeliveries": len(redelivered),
                                   "completions": len(done), "duplicates": len(done) - len(accepted)}
    if not starts or not ends:
        return Verdict(check, False, f"the activity {instance_id} never "
                       + ("started" if not starts else "finished"), measured, [e.seq for e in starts[:2]])
    own = ends[0]
    if not accepted:
        return Verdict(check, False, f"no completion of {token} was ever accepted by the server "
                       f"({len(starts)} run(s), {len(redelivered)} redelivery(ies), {len(done)} duplicate(s)): "
                       "the in-flight run's result was lost", measured, [own.seq] + [e.seq for e in redelivered[:2]])
    first = accepted[0]
    later = ends[1] if len(ends) > 1 else None
    measured["own_completion_delay_s"] = first.t - own.t
    ok = first.t >= own.t and (later is None or first.t < later.t)
    if ok:
        summary = (f"first accepted completion {first.t - own.t:+.3f}s after the in-flight run ended"
                   + (f", {later.t - first.t:.3f}s before the redelivered run ended" if later else
                      f"; {len(starts)} run(s)"))
    elif first.t < own.t:
        summary = (f"a completion was accepted {own.t - first.t:.3f}s BEFORE the in-flight run ended: "
                   "not that run's result")
    else:
        assert later is not None
        dup = next((e for e in done if e.get("duplicate") and e.t > first.t), None)
        summary = (f"the first accepted completion came {first.t - later.t:+.3f}s after the REDELIVERED run "
                   f"ended ({first.t - own.t:.3f}s after the in-flight run ended): the server took a redelivered "
                   "run's result; the in-flight run's completion "
                   + (f"arrived only {dup.t - first.t:.3f}s later, as a duplicate" if dup is not None
                      else "never arrived"))
    return Verdict(check, ok, summary, measured,
                   [own.seq, first.seq] + ([later.seq] if later is not None else []))


# -- checks the scenarios and the field files share ---------------------------------------------
@check
def rst_reached_client(history: History, *, client_port: int) -> Verdict:
    """A TCP segment with RST set was delivered to the SDK's socket (packet evidence)."""
    check = "a real TCP RST reached the client"
    rsts = history.select(NETWORK, "tcp_rst_seen", where=lambda e: e.get("dst_port") == client_port)
    return Verdict(check, bool(rsts),
                   f"{len(rsts)} RST segment(s) to client port {client_port}" if rsts
                   else f"no RST segment to client port {client_port} was seen on loopback",
                   {"rst_segments": len(rsts)}, [e.seq for e in rsts[:3]])


@check
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


@check
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
