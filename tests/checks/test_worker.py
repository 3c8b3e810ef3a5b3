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
        v = cw.backoff_distribution(h, method="Hello", base=0.03, cap=0.24, tolerance=0.25)
        assert v.ok, (seed, v.summary)


_NEVER_GROWS_RNG = random.Random(1)


@pytest.mark.parametrize("name, draw", [
    ("always 0", lambda i: 0.0),
    ("always the cap", lambda i: 0.24),
    ("fixed cap/2", lambda i: 0.12),
    ("never grows", lambda i, r=_NEVER_GROWS_RNG: r.random() * 0.06),
])
def test_backoff_distribution_fails_broken_backoff(name, draw):
    v = cw.backoff_distribution(backoff_history(draw), method="Hello", base=0.03, cap=0.24, tolerance=0.25)
    assert not v.ok, (name, v.summary)


def test_backoff_distribution_needs_enough_samples():
    v = cw.backoff_distribution(backoff_history(jitter(random.Random(0)), n=10), method="Hello",
                                base=0.03, cap=0.24, tolerance=0.25)
    assert not v.ok and "capped regime" in v.summary


def test_backoff_distribution_flags_a_delay_above_its_window():
    rng = random.Random(3)
    j = jitter(rng)
    v = cw.backoff_distribution(backoff_history(lambda i: 0.6 if i == 0 else j(i)), method="Hello",
                                base=0.03, cap=0.24, tolerance=0.25)
    assert not v.ok and "1 delay(s) above" in v.summary


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
