"""Worker checkers on synthetic histories: each passes on a conforming history and fails on a
breaking one."""

import random

import pytest

from harness.checks import worker as cw
from harness.history import DRIVER, FAKE, SCENARIO, History

T0 = 1000.0


def hello(h, cid, t, *, deadline=1.0, end=None, code="OK", fault=None, ended_by="server"):
    h.record(FAKE, "rpc_start", t=t, method="Hello", call_id=cid, deadline=deadline)
    if fault:
        h.record(FAKE, "server_fault", t=t if fault == "Hang" else (end or t), method="Hello", call_id=cid,
                 fault=fault)
    if end is not None:
        h.record(FAKE, "rpc_end", t=end, method="Hello", call_id=cid, code=code, ended_by=ended_by)
        h.record(DRIVER, "rpc_done", t=end + 0.001, method="Hello", code=code)


def stream(h, cid, t, msgs=(), end=None, code="CANCELLED"):
    h.record(FAKE, "rpc_start", t=t, method="GetWorkItems", call_id=cid)
    for i, m in enumerate(msgs):
        h.record(FAKE, "message_sent", t=m, call_id=cid, item="healthPing", seq=i)
    if end is not None:
        h.record(FAKE, "rpc_end", t=end, method="GetWorkItems", call_id=cid, code=code)


def handshake(hung_life=1.0, retry=0.1, deadline=1.0, stream_after_fail=False):
    h = History()
    hello(h, 1, T0, deadline=deadline, end=T0 + hung_life, code="DEADLINE_EXCEEDED", fault="Hang", ended_by="client")
    if stream_after_fail:
        stream(h, 2, T0 + hung_life + 0.01)
    t = T0 + hung_life + retry
    hello(h, 3, t, deadline=deadline, end=t + 0.002)
    stream(h, 4, t + 0.003)
    return h


def test_hello_deadline():
    assert cw.hello_deadline(handshake(), hello_timeout=1.0, tolerance=0.25).ok
    assert not cw.hello_deadline(handshake(deadline=None), hello_timeout=1.0, tolerance=0.25).ok
    assert not cw.hello_deadline(handshake(deadline=30.0), hello_timeout=1.0, tolerance=0.25).ok
    # the wire may round a deadline up by 1 % (grpc-timeout's three significant figures), no more
    assert cw.hello_deadline(handshake(deadline=1.0099), hello_timeout=1.0, tolerance=0.25).ok
    assert not cw.hello_deadline(handshake(deadline=1.02), hello_timeout=1.0, tolerance=0.25).ok
    assert not cw.hello_deadline(History(), hello_timeout=1.0, tolerance=0.25).ok


@pytest.mark.parametrize("life, ok", [(1.0, True), (1.2, True), (0.5, False), (2.0, False)])
def test_hung_hellos_abandoned(life, ok):
    assert cw.hung_hellos_abandoned(handshake(hung_life=life), hello_timeout=1.0, tolerance=0.25).ok is ok


def test_hung_hello_never_abandoned():
    h = History()
    hello(h, 1, T0, fault="Hang")
    v = cw.hung_hellos_abandoned(h, hello_timeout=1.0, tolerance=0.25)
    assert not v.ok and "never abandoned" in v.summary


@pytest.mark.parametrize("retry, ok", [(0.1, True), (0.44, True), (1.0, False)])
def test_hello_retried_with_backoff(retry, ok):
    assert cw.hello_retried_with_backoff(handshake(retry=retry), base=0.1, cap=1.0, tolerance=0.25).ok is ok


def test_no_stream_on_failed_hello():
    assert cw.no_stream_on_failed_hello(handshake()).ok
    assert not cw.no_stream_on_failed_hello(handshake(stream_after_fail=True)).ok


def pinged(drop_at=None, extra_hello=None):
    h = History()
    stream(h, 1, T0, msgs=[T0 + 0.5 * i for i in range(1, 10)],
           end=T0 + drop_at if drop_at else None)
    if drop_at:
        h.record(DRIVER, "rpc_done", t=T0 + drop_at, method="GetWorkItems", code="CANCELLED")
    if extra_hello:
        hello(h, 2, T0 + extra_hello, end=T0 + extra_hello + 0.01)
    return h


def test_stream_kept_alive():
    assert cw.stream_kept_alive(pinged(), call_id=1, until=T0 + 5).ok
    assert not cw.stream_kept_alive(pinged(drop_at=2.0), call_id=1, until=T0 + 5).ok
    assert not cw.stream_kept_alive(pinged(extra_hello=3.0), call_id=1, until=T0 + 5).ok
    assert cw.stream_kept_alive(pinged(drop_at=6.0), call_id=1, until=T0 + 5).ok  # after the window


def storm(rate, window=2.0):
    h = History()
    n = int(rate * window)
    for i in range(n):
        t = T0 + i / rate
        hello(h, 2 * i, t, end=t + 0.001)
        stream(h, 2 * i + 1, t + 0.002, end=t + 0.003, code="OK")
    return h


def test_attempts_bounded():
    assert cw.max_attempt_rate_bound(base=0.1, window=2.0) == 81
    assert cw.attempts_bounded(storm(10), after=T0, before=T0 + 2, base=0.1).ok
    assert cw.attempts_bounded(storm(40), after=T0, before=T0 + 2, base=0.1).ok
    assert not cw.attempts_bounded(storm(100), after=T0, before=T0 + 2, base=0.1).ok
    assert not cw.attempts_bounded(History(), after=T0, before=T0 + 2, base=0.1).ok


def backoff_history(draw, n=44, base=0.03, cap=0.24, latency=0.002):
    """n consecutive Hello aborts; the delay before attempt i+1 is draw(i)."""
    h = History()
    t = T0
    for i in range(n):
        h.record(FAKE, "rpc_start", t=t, method="Hello", call_id=i)
        h.record(FAKE, "server_fault", t=t + 0.001, method="Hello", call_id=i, fault="Abort")
        h.record(FAKE, "rpc_end", t=t + 0.002, method="Hello", call_id=i, code="UNAVAILABLE")
        h.record(DRIVER, "rpc_done", t=t + 0.002, method="Hello", code="UNAVAILABLE")
        t = t + 0.002 + draw(i) + latency
    h.record(FAKE, "rpc_start", t=t, method="Hello", call_id=n)
    return h


def jitter(rng, base=0.03, cap=0.24):
    return lambda i: rng.random() * min(cap, base * 2 ** (i + 1))


def test_backoff_distribution_passes_full_jitter_over_many_seeds():
    # The DKW bound promises <= 1e-3 false failures; 100 seeds must all pass.
    for seed in range(100):
        h = backoff_history(jitter(random.Random(seed)))
        v = cw.backoff_distribution(h, base=0.03, cap=0.24, tolerance=0.25)
        assert v.ok, (seed, v.summary)


_NEVER_GROWS_RNG = random.Random(1)


@pytest.mark.parametrize("name, draw", [
    ("always 0", lambda i: 0.0),
    ("always the cap", lambda i: 0.24),
    ("fixed cap/2", lambda i: 0.12),
    ("never grows", lambda i, r=_NEVER_GROWS_RNG: r.random() * 0.06),
])
def test_backoff_distribution_fails_broken_backoff(name, draw):
    v = cw.backoff_distribution(backoff_history(draw), base=0.03, cap=0.24, tolerance=0.25)
    assert not v.ok, (name, v.summary)


def test_backoff_distribution_needs_enough_samples():
    v = cw.backoff_distribution(backoff_history(jitter(random.Random(0)), n=10),
                                base=0.03, cap=0.24, tolerance=0.25)
    assert not v.ok and "capped regime" in v.summary


def test_backoff_distribution_flags_a_delay_above_its_window():
    rng = random.Random(3)
    j = jitter(rng)
    v = cw.backoff_distribution(backoff_history(lambda i: 0.6 if i == 0 else j(i)),
                                base=0.03, cap=0.24, tolerance=0.25)
    assert not v.ok and "1 delay(s) above" in v.summary


def with_ramps(h, draw, ramps=24, base=0.03, latency=0.002):
    """Append ``ramps`` fresh runs to a storm history: an answered Hello, a stream that delivers one
    message and is aborted (attempt j=0), an aborted Hello (j=1); the delay after attempt j is
    draw(j). A final answered Hello ends the last run."""
    t = h.events[-1].t
    cid = 10_000
    for _ in range(ramps):
        hello(h, cid, t, end=t + 0.001)
        h.record(FAKE, "rpc_start", t=t + 0.002, method="GetWorkItems", call_id=cid + 1)
        h.record(FAKE, "message_sent", t=t + 0.003, call_id=cid + 1, item="healthPing", seq=0)
        h.record(FAKE, "server_fault", t=t + 0.004, method="GetWorkItems", call_id=cid + 1, fault="Abort")
        h.record(FAKE, "rpc_end", t=t + 0.005, method="GetWorkItems", call_id=cid + 1, code="UNAVAILABLE")
        h.record(DRIVER, "rpc_done", t=t + 0.005, method="GetWorkItems", code="UNAVAILABLE")
        t = t + 0.005 + draw(0) + latency
        h.record(FAKE, "rpc_start", t=t, method="Hello", call_id=cid + 2)
        h.record(FAKE, "server_fault", t=t + 0.001, method="Hello", call_id=cid + 2, fault="Abort")
        h.record(FAKE, "rpc_end", t=t + 0.002, method="Hello", call_id=cid + 2, code="UNAVAILABLE")
        h.record(DRIVER, "rpc_done", t=t + 0.002, method="Hello", code="UNAVAILABLE")
        t = t + 0.002 + draw(1) + latency
        cid += 3
    hello(h, cid, t, end=t + 0.001)
    return h


def ramp_draw(rng, base=0.03, cap=0.24, design="P"):
    """Full jitter for attempt j of a run: P draws with k = j + 1, N with k = j."""
    k = 1 if design == "P" else 0
    return lambda j: rng.random() * min(cap, base * 2 ** (j + k))


def test_failure_runs_number_attempts_from_each_successful_hello():
    h = with_ramps(backoff_history(lambda i: 0.01, n=6), lambda j: 0.01, ramps=3)
    assert [j for j, _, _ in cw.failure_runs(h)] == [0, 1, 2, 3, 4, 5, 0, 1, 0, 1, 0, 1]
    assert cw.ramp_windows(0.03, 0.24) == [0.06, 0.12]


@pytest.mark.parametrize("design", ["P", "N"])
def test_backoff_ramp_passes_full_jitter_over_many_seeds(design):
    # One-sided DKW at alpha 5e-4: 100 seeds of a conforming build (either numbering) must all pass.
    for seed in range(100):
        rng = random.Random(seed)
        h = with_ramps(backoff_history(jitter(rng)), ramp_draw(rng, design=design))
        v = cw.backoff_ramp(h, base=0.03, cap=0.24, tolerance=0.03, min_samples=50)
        assert v.ok, (design, seed, v.summary)
        assert cw.backoff_distribution(h, base=0.03, cap=0.24, tolerance=0.03).ok, (design, seed)


@pytest.mark.parametrize("tolerance", [0.03, 0.25])
def test_backoff_ramp_fails_jitter_without_a_ramp(tolerance):
    # U[0, cap) from the first attempt: the capped KS test passes it, the ramp test must not, at the
    # default tolerance and at the old 0.25 s one (where the per-delay bound + tolerance passed it too).
    for seed in range(20):
        rng = random.Random(seed)
        no_ramp = lambda _j, r=rng: r.random() * 0.24  # noqa: E731
        h = with_ramps(backoff_history(lambda _i, r=rng: r.random() * 0.24), no_ramp)
        v = cw.backoff_ramp(h, base=0.03, cap=0.24, tolerance=tolerance, min_samples=50)
        assert not v.ok, (seed, v.summary)
    assert cw.backoff_distribution(h, base=0.03, cap=0.24, tolerance=0.25).ok  # why the ramp test exists


def test_backoff_ramp_needs_enough_early_samples():
    h = with_ramps(backoff_history(jitter(random.Random(0))), ramp_draw(random.Random(0)), ramps=5)
    v = cw.backoff_ramp(h, base=0.03, cap=0.24, tolerance=0.03, min_samples=50)
    assert not v.ok and "only 12" in v.summary
    assert not cw.backoff_ramp(h, base=0.24, cap=0.24, tolerance=0.03).ok  # no attempt below the cap


def gwi_aborts(draw, n=8):
    h = History()
    t = T0
    for i in range(n):
        hello(h, 2 * i, t, end=t + 0.001)
        h.record(FAKE, "rpc_start", t=t + 0.002, method="GetWorkItems", call_id=2 * i + 1)
        h.record(FAKE, "server_fault", t=t + 0.003, method="GetWorkItems", call_id=2 * i + 1, fault="Abort")
        h.record(FAKE, "rpc_end", t=t + 0.004, method="GetWorkItems", call_id=2 * i + 1, code="UNAVAILABLE")
        h.record(DRIVER, "rpc_done", t=t + 0.004, method="GetWorkItems", code="UNAVAILABLE")
        t = t + 0.004 + draw(i)
    hello(h, 2 * n, t, end=t + 0.001)
    return h


def test_delays_within_first_window():
    rng = random.Random(5)
    ok = gwi_aborts(lambda i: rng.random() * 0.1)
    grows = gwi_aborts(lambda i: min(2.0, 0.05 * 2 ** (i + 1)) * 0.9)
    assert cw.delays_within_first_window(ok, method="GetWorkItems", base=0.05, cap=2.0, tolerance=0.25,
                                         min_samples=8).ok
    assert not cw.delays_within_first_window(grows, method="GetWorkItems", base=0.05, cap=2.0, tolerance=0.25,
                                             min_samples=8).ok
    assert not cw.delays_within_first_window(gwi_aborts(lambda i: 0.01, n=3), method="GetWorkItems", base=0.05,
                                             cap=2.0, tolerance=0.25, min_samples=8).ok


def test_stop_prompt():
    h = History()
    h.record(SCENARIO, "mark", t=T0, label="stop requested")
    h.record(DRIVER, "worker_stopped", t=T0 + 0.05, elapsed=0.05)
    assert cw.stop_prompt(h, within=0.25).ok
    h2 = History()
    h2.record(SCENARIO, "mark", t=T0, label="stop requested")
    h2.record(DRIVER, "worker_stopped", t=T0 + 3, elapsed=3.0)
    assert not cw.stop_prompt(h2, within=0.25).ok
    h3 = History()
    h3.record(SCENARIO, "mark", t=T0, label="stop requested")
    assert not cw.stop_prompt(h3, within=0.25).ok
    h2.record(DRIVER, "worker_stopped", t=T0 + 4, elapsed=0.01)
    assert not cw.stop_prompt(h2, within=0.25).ok  # the slowest stop counts


def test_pending_wait_bound_covers_what_a_stop_ignoring_worker_waits_for():
    from harness.checks.windows import WorkerOptions

    opts = WorkerOptions(hello_timeout_seconds=3.0, silent_disconnect_timeout_seconds=2.0,
                         reconnect_backoff_base_seconds=5.0, reconnect_backoff_cap_seconds=10.0)
    assert cw.pending_wait_bound(opts, "backoff") == 10.0  # the first window, min(cap, 2*base)
    assert cw.pending_wait_bound(opts, "hello") == 13.0  # the Hello deadline, then that sleep
    assert cw.pending_wait_bound(opts, "stream") == 12.0  # the silent timer, then that sleep
    with pytest.raises(ValueError):
        cw.pending_wait_bound(opts, "elsewhere")
