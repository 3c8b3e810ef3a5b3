"""The checks issue 10 added to scenario files (connect_rate_at_most, backoff_within, hello_deadline,
stop_within, new_peer_after_recreation, client_calls_succeeded) and the client_calls workload action: each judged on hand-made histories through the kinds table
(expect.evaluate), passing on a conforming history and failing on a broken one; then, where root and
Toxiproxy are available, each shown to FAIL on a real broken build of the Python SDK
(harness/drivers/python/mutants/) and to PASS on the unpatched one
(tests/repro/scenarios/*.toml; the real runs are in real_runs.py)."""

from __future__ import annotations

import textwrap
import threading
from types import SimpleNamespace

import pytest

from harness.checks.field import densest_window
from harness.checks.windows import STOP_LATENCY_S
from harness.history import DRIVER, FAKE, SCENARIO, History
from harness.repro import steps
from harness.repro.expect import evaluate
from harness.repro.schema import parse_scenario
from tests.repro import real_runs

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

TOL = 0.05
BASE = """
title = "t"
source = ["x#1"]
expected = "pass"
scale = 1
duration = 10
[worker_options]
hello_timeout_seconds = 1.0
silent_disconnect_timeout_seconds = 2.0
channel_recreate_failure_threshold = 1
reconnect_backoff_base_seconds = 0.2
reconnect_backoff_cap_seconds = 1.0
"""


def _sc(text: str):
    return parse_scenario(tomllib.loads(textwrap.dedent(BASE) + textwrap.dedent(text)))


def _history() -> History:
    h = History("t")
    h.t0 = 0.0
    h.record(SCENARIO, "scenario_start", t=0.0)
    return h


def _step(h: History, index: int, t: float, phase: str = "start") -> None:
    h.record(SCENARIO, "step", t=t, step=index, phase=phase)


def _hello(h: History, t: float, call_id: int, *, peer: str = "p1", deadline: float | None = 1.0,
           code: str | None = None, fault: str = "Abort") -> None:
    h.record(FAKE, "rpc_start", t=t, call_id=call_id, method="Hello", peer=peer, deadline=deadline)
    if code is not None and code != "OK":
        h.record(FAKE, "server_fault", t=t, call_id=call_id, method="Hello", fault=fault)
        h.record(DRIVER, "rpc_done", t=t + 0.001, method="Hello", code=code)
    if code is not None:
        h.record(FAKE, "rpc_end", t=t + 0.001, call_id=call_id, method="Hello", code=code)


def _results(sc, h: History) -> list[tuple[bool, str]]:
    return [(v.ok, v.summary) for v in evaluate(sc, h, TOL)]


# -- connect_rate_at_most ---------------------------------------------------------------------------
def test_densest_window_slides_over_every_start():
    assert densest_window([], 1.0) == (0, 0.0)
    assert densest_window([0.0, 0.5, 0.99, 1.0, 1.2, 1.3], 1.0) == (5, 0.5)  # [0.5, 1.5) holds five
    assert densest_window([0.0, 2.0, 4.0], 1.0)[0] == 1


RATE = """
[[step]]
at = 1
action = "mark"
[[expect]]
check = "connect_rate_at_most"
after = "step 1"
window_s = 1.0
at_most = 3
"""


def test_connect_rate_at_most_counts_the_densest_window_after_the_ref():
    sc = _sc(RATE)
    h = _history()
    for i, t in enumerate((0.1, 0.2, 0.3, 0.4)):  # before the ref: not counted
        _hello(h, t, i, code="UNAVAILABLE")
    _step(h, 1, 1.0)
    for i, t in enumerate((1.1, 1.6, 2.3, 2.4, 3.5)):
        _hello(h, t, 10 + i, code="UNAVAILABLE")
    [(ok, summary)] = _results(sc, h)
    assert ok and "densest 1.000s: 3 Hello attempts" in summary
    _hello(h, 2.5, 20, code="UNAVAILABLE")  # 1.6, 2.3, 2.4, 2.5 within one second
    [(ok, summary)] = _results(sc, h)
    assert not ok and "4 Hello attempts" in summary


def test_connect_rate_bound_derived_from_the_backoff_base_when_at_most_is_0():
    sc = _sc(RATE.replace("at_most = 3", "at_most = 0"))  # 4 * 1.0 / 0.2 + 1 = 21
    h = _history()
    _step(h, 1, 1.0)
    for i in range(21):
        _hello(h, 1.1 + i * 0.04, i, code="UNAVAILABLE")
    assert _results(sc, h)[0][0]
    _hello(h, 1.95, 99, code="UNAVAILABLE")
    ok, summary = _results(sc, h)[0]
    assert not ok and "22 Hello attempts" in summary


def test_connect_rate_with_no_attempt_fails_as_not_taking_effect():
    sc = _sc(RATE)
    h = _history()
    _step(h, 1, 1.0)
    ok, summary = _results(sc, h)[0]
    assert not ok and "did not take effect" in summary


# -- backoff_within ---------------------------------------------------------------------------------
BACKOFF = """
[[expect]]
check = "backoff_within"
"""


def _failed_run(h: History, delays: list[float], start: float = 1.0) -> None:
    """A successful Hello, then consecutive refused Hellos separated by ``delays``, then a good one."""
    _hello(h, 0.0, 0, code="OK")
    t = start
    for i, d in enumerate(delays):
        _hello(h, t, i + 1, code="UNAVAILABLE")
        t += 0.001 + d
    _hello(h, t, len(delays) + 1, code="OK")


def test_backoff_within_passes_delays_inside_their_growing_windows():
    sc = _sc(BACKOFF)  # windows (first_attempt 1): 0.4, 0.8, 1.0, 1.0
    h = _history()
    _failed_run(h, [0.39, 0.7, 0.95, 0.1])
    ok, summary = _results(sc, h)[0]
    assert ok and "0/4 delays above their window" in summary


def test_backoff_within_fails_a_delay_above_its_window():
    sc = _sc(BACKOFF)
    h = _history()
    _failed_run(h, [0.39, 0.9, 0.5])  # j=1: 0.9 > 0.8 + 0.05
    ok, summary = _results(sc, h)[0]
    assert not ok and "attempt j=1 0.900s" in summary


def test_backoff_within_first_attempt_shifts_the_windows():
    h = _history()
    _failed_run(h, [0.7])  # above 0.4 (attempt 1), inside 0.8 (attempt 2)
    assert not _results(_sc(BACKOFF), h)[0][0]
    assert _results(_sc(BACKOFF + "first_attempt = 2\n"), h)[0][0]


def test_backoff_within_without_failures_does_not_take_effect():
    h = _history()
    _hello(h, 0.0, 0, code="OK")
    ok, summary = _results(_sc(BACKOFF), h)[0]
    assert not ok and "did not take effect" in summary


# -- hello_deadline ---------------------------------------------------------------------------------
HELLO = """
[[expect]]
check = "hello_deadline"
"""


def _hung_hello(h: History, start: float, life: float, deadline: float) -> None:
    h.record(FAKE, "rpc_start", t=start, call_id=1, method="Hello", peer="p1", deadline=deadline)
    h.record(FAKE, "server_fault", t=start, call_id=1, method="Hello", fault="Hang")
    h.record(FAKE, "rpc_end", t=start + life, call_id=1, method="Hello", code="DEADLINE_EXCEEDED")


def test_hello_deadline_judges_the_deadline_and_the_hung_hellos_lifetime():
    h = _history()
    _hung_hello(h, 0.1, 1.01, deadline=0.998)
    _hello(h, 1.3, 2, deadline=0.999, code="OK")
    assert [ok for ok, _ in _results(_sc(HELLO), h)] == [True, True]
    late = _history()
    _hung_hello(late, 0.1, 2.0, deadline=1.998)  # twice the Hello timeout
    _hello(late, 2.3, 2, deadline=1.999, code="OK")
    (ok1, s1), (ok2, s2) = _results(_sc(HELLO), late)
    assert not ok1 and "2/2 Hello(s) without a deadline" in s1
    assert not ok2 and "ended after 2.000s" in s2


def test_hello_deadline_fails_a_hello_without_a_deadline():
    h = _history()
    _hung_hello(h, 0.1, 1.0, deadline=None)
    ok, summary = _results(_sc(HELLO), h)[0]
    assert not ok and "deadlines seen: none" in summary


# -- stop_within ------------------------------------------------------------------------------------
STOP = """
[[step]]
at = 1
action = "stop_worker"
[[expect]]
check = "stop_within"
"""


def test_stop_within_is_bounded_by_the_stop_latency_bound_not_the_tolerance():
    h = _history()
    h.record(DRIVER, "worker_stopped", t=1.02, elapsed=STOP_LATENCY_S * 0.5)
    ok, summary = _results(_sc(STOP), h)[0]
    assert ok and f"bound {STOP_LATENCY_S:.3f}s" in summary
    h.record(DRIVER, "worker_stopped", t=3.0, elapsed=STOP_LATENCY_S + 0.5)  # the slowest stop counts
    ok, summary = _results(_sc(STOP), h)[0]
    assert not ok and "slowest of 2 stops" in summary


def test_stop_within_fails_when_the_worker_never_stopped():
    ok, summary = _results(_sc(STOP), _history())[0]
    assert not ok and "never reported stopped" in summary


# -- new_peer_after_recreation ----------------------------------------------------------------------
PEER = """
[[step]]
at = 1
fault = "conn_blackhole"
for = 2
[[expect]]
check = "new_peer_after_recreation"
after = "step 1"
"""


def _recreation(h: History, new_peer: str) -> None:
    h.record(DRIVER, "channel_created", t=0.0, channel_id=1, owner="sdk", role="worker")
    _hello(h, 0.01, 1, peer="p1", code="OK")
    _step(h, 1, 1.0)
    _hello(h, 2.0, 2, peer="p1")  # a Hello on the old connection before the recreation
    h.record(DRIVER, "channel_created", t=2.5, channel_id=2, owner="sdk", role="worker")
    _hello(h, 2.6, 3, peer=new_peer, code="OK")


def test_new_peer_after_recreation_compares_the_hellos_either_side_of_it():
    h = _history()
    _recreation(h, "p2")
    ok, summary = _results(_sc(PEER), h)[0]
    assert ok and "from p1, first call after from p2" in summary
    same = _history()
    _recreation(same, "p1")  # "recreated", but over the same TCP connection
    assert not _results(_sc(PEER), same)[0][0]


def test_new_peer_after_recreation_without_a_recreation_cannot_pass():
    h = _history()
    h.record(DRIVER, "channel_created", t=0.0, channel_id=1, owner="sdk", role="worker")
    _hello(h, 0.01, 1, peer="p1", code="OK")
    _step(h, 1, 1.0)
    _hello(h, 4.0, 2, peer="p2", code="OK")  # a new connection, but no channel was built for it
    (peer_ok, peer), (rec_ok, rec) = _results(_sc(PEER), h)
    assert peer_ok and "from p1, first call after from p2" in peer
    assert not rec_ok and "0 SDK-owned channel(s) created in the window" in rec


# -- client_calls (action) and client_calls_succeeded ----------------------------------------------
CALLS = """
[[step]]
at = 1
action = "client_calls"
op = "wait_completion"
count = 2
metadata = ["x-tenant=acme"]
timeout_s = 0.5
every = 1
repeat = 2
[[expect]]
check = "client_calls_succeeded"
step = 1
"""


def test_client_calls_creates_one_client_schedules_once_and_calls_in_the_background():
    sc = _sc(CALLS)
    st = sc.steps[0]
    requests: list[tuple] = []

    def call(cid, op, **args):
        requests.append((cid, op, args))
        return {"outcome": "ok", "value": "inst-1"}
    h = _history()
    threads: list = []
    run = SimpleNamespace(history=h, sc=sc, stopping=threading.Event(),
                          link=SimpleNamespace(address="127.0.0.1:1"),
                          driver=SimpleNamespace(create_client=lambda cid, **kw: requests.append((cid, "create", kw)),
                                                 call=call),
                          background=lambda name, fn: threads.append(threading.Thread(target=fn)) or threads[-1].start())
    for occ in range(2):
        steps.client_calls(run, st, occ)
        threads[-1].join(5)
    assert requests[0] == ("step1", "create", {"kind": "sync", "address": "127.0.0.1:1", "channel": "sdk",
                                               "resiliency": None, "metadata": [["x-tenant", "acme"]]})
    assert requests[1] == ("step1", "schedule", {"name": "orchestration_step1", "input": None})
    assert requests[2:] == [("step1", "wait_completion", {"instance_id": "inst-1", "timeout": 0.5})] * 4


def test_client_calls_succeeded_counts_every_repetition_and_fails_an_exception():
    sc = _sc(CALLS)
    h = _history()
    for i in range(4):
        h.record(DRIVER, "client_call_done", t=1 + i, client_id="step1", op="wait_completion", outcome="ok")
    assert _results(sc, h)[0][0]
    h.record(DRIVER, "client_call_done", t=6, client_id="step1", op="wait_completion", outcome="error",
             exc_type="TimeoutError", grpc_code=None, message="timed out", elapsed=0.5)
    ok, summary = _results(sc, h)[0]
    assert not ok and "5/4 calls finished, 1 with an exception: TimeoutError" in summary


def test_client_calls_succeeded_after_judges_only_the_calls_that_started_after_the_outage():
    from harness.checks.field import client_calls_succeeded
    h = _history()
    t0 = h.t0
    for i in range(3):  # during the outage: failures, not judged
        h.record(DRIVER, "client_call_done", t=t0 + 1 + i, client_id="c", op="get_state", outcome="error",
                 exc_type="_InactiveRpcError", grpc_code="UNAVAILABLE", message="refused", elapsed=0.001)
    assert not client_calls_succeeded(h, client_id="c", op="get_state", count=3, after=t0 + 5).ok  # none after
    h.record(DRIVER, "client_call_done", t=t0 + 6, client_id="c", op="get_state", outcome="ok", elapsed=0.01)
    assert client_calls_succeeded(h, client_id="c", op="get_state", count=4, after=t0 + 5).ok
    # a call that STARTED after the bound and failed fails the check (one that started before it does not)
    h.record(DRIVER, "client_call_done", t=t0 + 7, client_id="c", op="get_state", outcome="error",
             exc_type="_InactiveRpcError", grpc_code="UNAVAILABLE", message="refused", elapsed=0.5)
    v = client_calls_succeeded(h, client_id="c", op="get_state", count=5, after=t0 + 5)
    assert not v.ok and "2 call(s) started after it, 1 with an exception" in v.summary
    # the failed call started at 6.5 s: a bound after it leaves no call at all, which fails too
    assert not client_calls_succeeded(h, client_id="c", op="get_state", count=5, after=t0 + 6.6).ok


# -- on a real SDK build: each check fails on a broken variant, passes on the release ----------------
REAL_CASES = [
    # (scenario file, mutant or None, the check that must fail (None: every check passes))
    ("conn_reset_storm.toml", "worker_backoff_zero", "connect_rate_at_most"),
    ("conn_reset_storm.toml", "worker_reconnect_twice_window", "backoff_within"),
    ("hello_deadline.toml", None, None),
    ("hello_deadline.toml", "worker_hello_deadline_late", "hello_deadline"),
    ("stop_in_backoff.toml", None, None),
    ("stop_in_backoff.toml", "worker_stop_waits_backoff", "stop_within"),
    ("client_calls.toml", None, None),
]


@pytest.mark.slow
@pytest.mark.parametrize("scenario,mutant,must_fail", REAL_CASES,
                         ids=[f"{s[:-5]}-{m or 'release'}" for s, m, _ in REAL_CASES])
def test_real_run(scenario, mutant, must_fail, tmp_path):
    real_runs.assert_verdicts(scenario, mutant, must_fail, tmp_path)
