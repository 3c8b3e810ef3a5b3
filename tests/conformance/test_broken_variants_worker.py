"""The worker and connection scenarios FAIL on SDK builds that break them, for the right reason (a failed
verdict of the broken requirement, read as data, and not a control: a failed control alone makes a run
INCONCLUSIVE, which proves nothing about the requirement).

Same method as tests/conformance/test_broken_variants.py: each case runs ONE test id in its own pytest
process against durabletask 1.12.0 patched with mutants from harness/drivers/python/mutants/ (exec'd in
order, so a variant can be stacked on a repair).

Besides the extremes (never, always zero, always the cap), every requirement here has a "late, not
never" variant where one is meaningful: a silent timer at 2*T, a Hello deadline at 2x the Hello
timeout, every reconnect at twice its window, jitter without the exponential ramp, a backoff far too
short (the near miss of a rate bound), a stop() that returns but connects after its sleep, a stop()
with a fixed half-second grace, a stop() 0.15 s late (inside the old 0.25 s tolerance, outside its own
derived bound), a recreation one failure late, a retired channel closed one retirement
late, a reconnect three backoff caps after a silent disconnect.

Where 1.12.0 itself fails a requirement (findings F-2, F-10, F-11 in docs/FINDINGS.md; pinned in
tests/conformance/reference_verdicts.json, REFERENCE_FAILURES checks they fail for the finding), a
broken variant on 1.12.0 alone would "kill" it for free. Those variants run on top of a REPAIR
(``worker_fix_*.py``), and the repair alone is shown to pass the same test (REPAIRED_CASES).
WRK-SHUT-003 is a SHOULD: a failing SHOULD fails the gate only with pytest's ``--strict``, so its runs
pass ``--strict`` (through PYTEST_ADDOPTS, which the run's subprocess inherits).
"""

from __future__ import annotations

import pytest

from tests.conformance.test_broken_variants import assert_failed_verdict, assert_killed, run_suite

H = "conformance/test_worker_handshake.py::test_half_open_handshake"
S = "conformance/test_worker_stream_health.py"
B = "conformance/test_worker_backoff.py"
D = "conformance/test_worker_shutdown.py::test_stop_is_prompt_and_final"
STALL = "conformance/test_silent_stall.py::test_silent_stall_blackhole"
RST = "conformance/test_tcp_reset.py::test_tcp_reset_on_established_stream[configured]"
OK_CLOSE = "conformance/test_graceful_close.py::test_ok_close[ok-before-first]"
REC = "conformance/test_recreate_dead_connection.py::test_recreated_channel_escapes_dead_connection"
LEAK = "conformance/test_connection_leak.py::test_no_connection_leak_after_fault_cycles[graceful]"
STRICT = "--strict"  # a failing SHOULD fails the gate only under pytest's --strict

# (mutant, target, how the check of a failed verdict starts; a tuple: one run must kill each of them)
CASES: list[tuple[str, str, str | tuple[str, ...]]] = [
    # handshake
    ("worker_hello_no_deadline.py", H, ("Hello carries the Hello-timeout deadline",
                                        "unanswered Hello abandoned at the Hello timeout")),
    ("no_backoff_growth.py", H, "failed Hello retried within the backoff window"),
    ("worker_stream_after_failed_hello.py", H, "no GetWorkItems after a failed Hello"),
    # stream health
    ("worker_silent_from_stream_start.py", f"{S}::test_silence_after_pings",
     "stream abandoned after the silent-disconnect timeout"),
    ("worker_silent_from_stream_start.py", f"{S}::test_pings_keep_stream_alive",
     "a pinged quiet stream is kept"),
    # backoff
    ("worker_backoff_zero.py", f"{B}::test_backoff_distribution",
     "reconnect delays follow full jitter"),
    ("no_backoff_growth.py", f"{B}::test_backoff_distribution",
     "reconnect delays follow full jitter"),
    ("worker_backoff_no_growth.py", f"{B}::test_backoff_distribution",
     "reconnect delays follow full jitter"),
    ("worker_attempts_never_reset.py", f"{B}::test_hello_success_resets_attempts",
     "attempt counter reset by a successful Hello"),
    ("worker_backoff_zero.py", f"{B}::test_error_storm[UNAVAILABLE-Hello]",
     "no tight reconnect loop"),
    ("worker_backoff_zero.py", f"{B}::test_error_storm[UNKNOWN-GetWorkItems]",
     "no tight reconnect loop"),
    # shutdown
    ("worker_stop_waits_backoff.py", f"{D}[in-backoff]", "stop() returns within"),
    ("worker_connect_after_stop.py", f"{D}[in-backoff]",
     "no request (Hello, GetWorkItems) reaches the server"),
    # -- late, not never --------------------------------------------------------------------------------
    ("worker_hello_deadline_late.py", H, ("Hello carries the Hello-timeout deadline",
                                          "unanswered Hello abandoned at the Hello timeout")),
    ("worker_reconnect_twice_window.py", H, "failed Hello retried within the backoff window"),
    ("worker_silent_timeout_late.py", STALL, "stream abandoned after the silent-disconnect timeout"),
    ("worker_silent_reconnect_late.py", STALL, "reconnected within"),
    ("worker_silent_timeout_late.py", f"{S}::test_silence_after_pings",
     "stream abandoned after the silent-disconnect timeout"),
    ("worker_reconnect_twice_window.py", RST, "next connect attempt within"),
    ("worker_reconnect_twice_window.py", OK_CLOSE, "next connect attempt within"),
    ("worker_jitter_no_ramp.py", f"{B}::test_backoff_distribution",
     "early reconnect delays stay within their own windows"),
    ("worker_reconnect_twice_window.py", f"{B}::test_hello_success_resets_attempts",
     "attempt counter reset by a successful Hello"),
    ("worker_backoff_short.py", f"{B}::test_error_storm[UNAVAILABLE-Hello]", "no tight reconnect loop"),
    ("worker_reconnect_after_sleep.py", f"{D}[in-backoff]",
     "no request (Hello, GetWorkItems) reaches the server"),
    ("worker_stop_late_within_old_bound.py", f"{D}[in-backoff]", "stop() returns within"),
    ("conn_recreate_one_late.py", REC, ("1 Hello attempt(s) failed on the dead connection before recreation",
                                        "Hello from a new TCP connection within")),
    ("conn_close_one_late.py", LEAK, "at most 1 SDK-owned channel(s) open"),
]

# Requirements 1.12.0 itself fails: (repair, variant stacked on it, target, killing check, extra pytest args).
REPAIRED_CASES = [
    ("worker_fix_graceful_backoff.py", "worker_backoff_short.py", f"{S}::test_immediate_close_loop",
     "no tight reconnect loop", ""),
    ("worker_fix_stop_poll.py", "worker_stop_fixed_grace.py", f"{D}[in-stream]", "stop() returns within", STRICT),
]

# Where 1.12.0 fails, the failure must be the finding's verdict.
REFERENCE_FAILURES = [
    (f"{S}::test_immediate_close_loop", "no tight reconnect loop", ""),
    (f"{D}[in-hello]", "stop() returns within", ""),
    (f"{D}[in-stream]", "stop() returns within", STRICT),
]


def _id(m: str, t: str, exp: str | tuple[str, ...]) -> str:
    first = exp if isinstance(exp, str) else exp[0]
    return f"{m[:-3]}-{t.split('/')[-1].split('::')[-1][5:]}-{first[:23].replace(' ', '_')}"


@pytest.mark.parametrize("mutant, target, expected", CASES, ids=[_id(*c) for c in CASES])
def test_worker_suite_fails_on_broken_variant(tmp_path, mutant, target, expected):
    assert_killed(tmp_path, (mutant,), target, expected)


@pytest.mark.parametrize("repair, variant, target, expected, addopts", REPAIRED_CASES,
                         ids=[_id(v, t, e) for _, v, t, e, _ in REPAIRED_CASES])
def test_repaired_build_passes_and_its_broken_variant_fails(tmp_path, monkeypatch, repair, variant, target,
                                                            expected, addopts):
    monkeypatch.setenv("PYTEST_ADDOPTS", addopts)
    fixed = run_suite(tmp_path / "repair", target, repair)
    assert fixed.code == 0 and set(fixed.outcomes.values()) == {"passed"}, \
        f"the repair {repair} alone must pass {target}: {fixed.outcomes}\n{fixed.out[-4000:]}"
    assert_killed(tmp_path / "variant", (repair, variant), target, expected)


@pytest.mark.parametrize("target, expected, addopts", REFERENCE_FAILURES,
                         ids=[t.split("::")[-1] for t, _, _ in REFERENCE_FAILURES])
def test_reference_release_fails_for_the_finding(tmp_path, monkeypatch, target, expected, addopts):
    monkeypatch.setenv("PYTEST_ADDOPTS", addopts)
    run = run_suite(tmp_path, target)
    assert run.code == 1, run.out[-6000:]
    assert_failed_verdict(run, expected)
