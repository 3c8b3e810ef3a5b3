"""The checks of SPEC.md section 6 (promises covered in the second pass) FAIL on SDK builds that break
them, for the right reason.

Same method as tests/conformance/test_broken_variants.py (``run_suite``: one conformance test id in a
separate, strict pytest process against durabletask 1.12.0 patched with
``harness/drivers/python/mutants/<file>``): each case asserts exit 1 AND a failed verdict of the broken
requirement, by how its check starts, that is not a control (a failed control makes a run
INCONCLUSIVE, which proves nothing about the requirement). Client cases target the sync client: on
1.12.0 the async client never recreates (finding F-1), so its cases are INCONCLUSIVE without a mutant.

Where meaningful a requirement also has a "late, not never" variant: the first-message gap allowed
twice the timeout, a start poll sent with twice the caller's timeout, a one-cap pause before the first
Hello on a recreated channel, retired worker channels closed 1 s after their work released them.

WRK-RECREATE-001 is failed by 1.12.0 itself (finding F-40, NON-STRICT: a SHOULD): the reference case
pins that it fails for the finding's check; the repaired case shows that the check passes once the
count restarts (``worker_fix_counter_reset.py``) and fails again with an off-by-one restart stacked on
the repair. CLI-RETIRE-001's case waits out the build's 30 s grace and the poll's own deadline (~35 s).
"""

from __future__ import annotations

import pytest

from tests.conformance.test_broken_variants import assert_failed_verdict, assert_killed, run_suite

DEF = "conformance/test_defaults.py::"
TIM = "conformance/test_stream_timer.py::"
PNG = "conformance/test_health_pings.py::test_health_pings_are_not_work"
STA = "conformance/test_status_handling.py::test_non_transport_status_retried_uncounted"
LPS = "conformance/test_long_poll_start.py::test_start_poll_deadline_is_not_a_transport_failure[sync]"
CNT = "conformance/test_client_counting.py::"
CFG = "conformance/test_channel_config.py::"
WRC = "conformance/test_worker_recreate.py::"
RET = "conformance/test_retire.py::test_long_poll_outliving_the_grace[sync]"
DRN = "conformance/test_shutdown_drain.py::"
ABANDON = "stream abandoned after the silent-disconnect timeout"
KEEP = "recreated channels keep the channel options and the secure flag"
DRAINED = "in-flight and queued completions keep draining across stop()"
CLOSED = "every SDK-owned channel closed when stop() returns"

# (mutant, target test id, how the check of the killing verdict starts)
CASES = [
    # DEFAULTS-001/002
    ("defaults_silent_off.py", DEF + "test_declared_defaults_are_documented", "the build's defaults are the documented"),
    ("worker_hello_no_deadline.py", DEF + "test_default_hello_deadline_on_the_wire",
     "Hello carries the Hello-timeout deadline"),
    # WRK-TIMER-001/002, WRK-PING-001
    ("worker_silent_after_first_message.py", TIM + "test_timer_armed_before_first_message", ABANDON),
    ("worker_silent_first_gap_doubled.py", TIM + "test_timer_armed_before_first_message", ABANDON),
    ("worker_silent_zero_literal.py", TIM + "test_zero_switches_the_timer_off", "a pinged quiet stream is kept"),
    ("worker_dispatches_pings.py", PNG, "health pings are never dispatched as work"),
    # WRK-STATUS-001/002
    ("worker_counts_peer_statuses.py", STA + "[Hello-CANCELLED]", "no channel recreation (3 x CANCELLED on Hello"),
    ("worker_counts_peer_statuses.py", STA + "[GetWorkItems-UNAUTHENTICATED]",
     "no channel recreation (3 x UNAUTHENTICATED on GetWorkItems"),
    ("worker_exits_on_peer_cancel.py", STA + "[GetWorkItems-CANCELLED]", "reconnected within"),
    # CLI-LONGPOLL-003/004
    ("long_poll_start_counts.py", LPS, "no channel recreation (during repeated WaitForInstanceStart"),
    ("long_poll_start_ignores_timeout.py", LPS, "wait_start long polls end at the caller's timeout"),
    # CLI-STREAM-001, CLI-COUNTER-001
    ("client_counts_streams.py", CNT + "test_streaming_failures_not_counted[sync]",
     "no channel recreation (3 failed StreamInstanceHistory calls"),
    ("client_counter_not_reset.py", CNT + "test_counter_restarts_after_recreation[sync]",
     "no channel recreation (1 failures after a recreation"),
    # CHAN-CONFIG-001
    ("recreate_plain_channel.py", CFG + "test_options_and_interceptors_survive_recreation[sync]",
     "every call carries x-conformance-interceptor"),
    ("recreate_plain_channel.py", CFG + "test_options_and_interceptors_survive_recreation[worker]",
     "every call carries user-agent"),
    ("recreate_plain_channel.py", CFG + "test_secure_flag_survives_recreation[sync]", KEEP),
    # WRK-RECREATE-002
    ("worker_recreate_waits.py", WRC + "test_recreation_adds_no_wait", "failed Hello retried within the backoff window"),
    # CLI-RETIRE-001
    ("client_retired_never_closed.py", RET, "a long poll outliving its retired channel's grace"),
    # WRK-DRAIN-001, WRK-RETIRE-001
    ("shutdown_drops_queued.py", DRN + "test_completions_drain_across_stop", DRAINED),
    ("drain_close_at_once.py", DRN + "test_completions_drain_across_stop", DRAINED),
    ("worker_retired_close_late.py", DRN + "test_final_shutdown_closes_retired_channels", CLOSED),
    ("conn_never_close.py", DRN + "test_final_shutdown_closes_retired_channels", CLOSED),
]

# Requirements 1.12.0 itself fails: (repair, variant stacked on it, target, killing check).
REPAIRED_CASES = [
    ("worker_fix_counter_reset.py", "worker_counter_reset_to_one.py", WRC + "test_counter_restarts_after_recreation",
     "exactly 1 channel recreation(s)"),
]

# Where 1.12.0 fails, the failure must be the finding's verdict.
REFERENCE_FAILURES = [
    (WRC + "test_counter_restarts_after_recreation", "exactly 1 channel recreation(s)"),  # F-40
]


def _id(m: str, t: str) -> str:
    return f"{m[:-3]}-{t.split('::')[-1]}"


@pytest.mark.parametrize("mutant, target, expected", CASES, ids=[_id(m, t) for m, t, _ in CASES])
def test_promises_suite_fails_on_broken_variant(tmp_path, mutant, target, expected):
    assert_killed(tmp_path, (mutant,), target, expected)


@pytest.mark.parametrize("repair, variant, target, expected", REPAIRED_CASES,
                         ids=[_id(v, t) for _, v, t, _ in REPAIRED_CASES])
def test_repaired_build_passes_and_its_broken_variant_fails(tmp_path, repair, variant, target, expected):
    fixed = run_suite(tmp_path / "repair", target, repair)
    assert fixed.code == 0 and set(fixed.outcomes.values()) == {"passed"}, \
        f"the repair {repair} alone must pass {target}: {fixed.outcomes}\n{fixed.out[-4000:]}"
    assert_killed(tmp_path / "variant", (repair, variant), target, expected)


@pytest.mark.parametrize("target, expected", REFERENCE_FAILURES, ids=[t.split("::")[-1] for t, _ in REFERENCE_FAILURES])
def test_reference_release_fails_for_the_finding(tmp_path, target, expected):
    run = run_suite(tmp_path, target)
    assert run.code == 1, run.out[-6000:]
    assert_failed_verdict(run, expected)
