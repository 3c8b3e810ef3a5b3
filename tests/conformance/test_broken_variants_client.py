"""Client resiliency and channel ownership checks FAIL on SDK builds that break them.

Same method as tests/conformance/test_broken_variants.py (whose ``run_suite`` runs a conformance target in a
separate pytest process against durabletask 1.12.0 patched with ``harness/drivers/python/mutants/<file>``): each
case asserts exit 1 AND a failed verdict (by how its check starts) of the requirement the mutant breaks. Mutants patch both
clients where that is meaningful, but the cases target the sync client: on 1.12.0 the async
client never recreates (finding F-1), so its cases FAIL (CLI-STATUS-001/002, CLI-RECREATE-001/003) or
are INCONCLUSIVE (a recreation is their control) without any mutant.

``client_fix_local_subchannel.py`` is the opposite: a FIXED variant, showing that the one sync
check 1.12.0 fails (CLI-RECREATE-004, finding F-20) passes once recreation really opens a new
connection; the variants that must kill CLI-RECREATE-004 are therefore run ON TOP of that fix
(``FIXED_CASES``: several patches, exec'd in order), or 1.12.0's own defect would kill it for them.

Besides the extremes (never, always), each requirement has "late, not never" variants where one is
meaningful: a recreation one failure late (threshold N+1), a recreation that comes at the right
failure but 0.6 s after it, an interval enforced twice as long as configured, retired channels that
close() leaves to their grace timer or closes 0.6 s after returning, a stub swap that takes effect
one call late, a long-poll DEADLINE_EXCEEDED counted as half a failure (the recreation comes at the end of
the polls). The killing verdict must be a verdict of the requirement, not a control: a failed control
makes a run INCONCLUSIVE, which proves nothing about the requirement (``assert_killed``).
"""

from __future__ import annotations

import pytest

from tests.conformance.test_broken_variants import assert_killed, run_suite

REC = "conformance/test_client_recreate.py::"
STA = "conformance/test_client_status.py::"
OWN = "conformance/test_channel_ownership.py::"
LPD = "conformance/test_long_poll_deadline.py::test_long_poll_deadline_is_not_a_transport_failure"
FIX = "client_fix_local_subchannel.py"

CASES = [
    ("client_ignores_threshold.py", REC + "test_recreate_after_exactly_threshold[sync]",
     "no channel recreation (2 failures, a success, 2 failures with threshold 3)"),
    ("client_never_counts.py", STA + "test_transport_status_counts[UNAVAILABLE-sync]",
     "a fresh SDK-owned channel (two UNAVAILABLE on GetInstance with threshold 2)"),
    ("client_deadline_not_counted.py", STA + "test_transport_status_counts[DEADLINE_EXCEEDED-sync]",
     "a fresh SDK-owned channel (two DEADLINE_EXCEEDED on GetInstance with threshold 2)"),
    ("client_counts_app_errors.py", STA + "test_application_error_not_counted_and_resets[NOT_FOUND-sync]",
     "no channel recreation (three NOT_FOUND: not counted)"),
    ("client_counts_app_errors.py", STA + "test_application_error_not_counted_and_resets[UNAUTHENTICATED-sync]",
     "no channel recreation (three UNAUTHENTICATED: not counted)"),
    ("client_app_error_no_reset.py", STA + "test_application_error_not_counted_and_resets[FAILED_PRECONDITION-sync]",
     "no channel recreation (UNAVAILABLE, FAILED_PRECONDITION, UNAVAILABLE: FAILED_PRECONDITION "
     "resets the counter)"),
    ("client_no_interval.py", REC + "test_min_recreate_interval[sync]",
     "no channel recreation (a second burst within min_recreate_interval_seconds=2.0)"),
    ("client_first_blocked.py", REC + "test_first_recreation_not_blocked[sync]",
     "a fresh SDK-owned channel (the first recreation is not blocked by the interval (N))"),
    ("client_no_single_flight.py", REC + "test_single_flight[sync]",
     "exactly 1 channel recreation(s) (8 concurrent failing calls)"),
    ("client_retries_failing_call.py", REC + "test_failing_call_surfaces_error_and_later_calls_work[sync]",
     "each failing get_state call surfaces its own UNAVAILABLE"),
    ("client_stub_not_swapped.py", REC + "test_failing_call_surfaces_error_and_later_calls_work[sync]",
     "later get_state calls work on channel"),
    ("client_close_old_at_once.py", REC + "test_long_poll_survives_recreation[sync]",
     "long poll in flight across a recreation completes normally"),
    ("chan_client_replaces_caller.py", OWN + "test_client_never_replaces_or_closes_caller_channel[sync]",
     "no channel recreation (caller-owned channel, 3 UNAVAILABLE)"),
    ("chan_worker_replaces_caller.py", OWN + "test_worker_keeps_caller_channel_through_outage",
     "no channel recreation (caller-owned worker channel)"),
    ("chan_worker_replaces_caller.py", OWN + "test_worker_keeps_caller_channel_through_outage",
     "the SDK never closes the caller's channel"),
    ("chan_drops_metadata.py", OWN + "test_client_metadata_survives_recreation[sync]",
     "metadata x-auth=token-1 on every call"),
    ("chan_drops_metadata.py", OWN + "test_worker_metadata_survives_recreation",
     "metadata x-auth=token-1 on every call"),
    # -- late, not never ------------------------------------------------------------------------------
    ("client_threshold_one_late.py", REC + "test_recreate_after_exactly_threshold[sync]",
     "exactly 1 channel recreation(s) (the 3-th consecutive failure)"),
    ("client_threshold_one_late.py", STA + "test_transport_status_counts[UNAVAILABLE-sync]",
     "a fresh SDK-owned channel (two UNAVAILABLE on GetInstance with threshold 2)"),
    ("client_recreate_late.py", REC + "test_recreate_after_exactly_threshold[sync]",
     "recreation follows the failure that made it due within the tolerance"),
    ("client_interval_doubled.py", REC + "test_min_recreate_interval[sync]",
     "a fresh SDK-owned channel (the first threshold crossing after the interval has passed)"),
    ("client_close_keeps_retired.py", REC + "test_long_poll_survives_recreation[sync]",
     "close() closes every channel the client built"),
    ("client_close_retired_late.py", REC + "test_long_poll_survives_recreation[sync]",
     "close() closes every channel the client built"),
    ("client_stub_swap_one_call_late.py", REC + "test_failing_call_surfaces_error_and_later_calls_work[sync]",
     "later get_state calls work on channel"),
    ("chan_client_closes_caller_on_close.py", OWN + "test_client_never_replaces_or_closes_caller_channel[sync]",
     "the SDK never closes the caller's channel"),
    ("chan_client_replaces_caller_late.py", OWN + "test_client_never_replaces_or_closes_caller_channel[sync]",
     "the SDK never closes the caller's channel"),
    ("long_poll_counts_half.py", LPD + "[sync]",
     "no channel recreation (during repeated long-poll DEADLINE_EXCEEDED)"),
]

# CLI-RECREATE-004 fails on unpatched 1.12.0 (F-20), so its killers run on the FIXED build: the fix first,
# then the break (patches are exec'd in this order).
FIXED_CASES = [
    ((FIX, "client_stub_not_swapped.py"), REC + "test_recreation_opens_a_new_connection[sync]",
     "recreation yields a new TCP connection"),
    ((FIX, "client_stub_swap_one_call_late.py"), REC + "test_recreation_opens_a_new_connection[sync]",
     "recreation yields a new TCP connection"),
]

# Verdicts of the unpatched 1.12.0 release for the four files: the async client never counts a failure
# (F-1), so its tests FAIL where the recreation is the requirement (CLI-STATUS-001/002, CLI-RECREATE-001;
# CLI-RECREATE-003 is a SHOULD: NON-STRICT) and are INCONCLUSIVE where it is a control. The one sync
# failure: F-20 (a recreated client channel reuses the old TCP connection, CLI-RECREATE-004).
# The verdicts of the unpatched release on these files are pinned with the whole suite's in
# tests/conformance/reference_verdicts.json (tests/conformance/test_broken_variants.py::test_reference_release_verdicts).


@pytest.mark.parametrize("mutant, target, expected", CASES,
                         ids=[f"{m[:-3]}-{t.split('::')[-1]}" for m, t, _ in CASES])
def test_suite_fails_on_broken_client_variant(tmp_path, mutant, target, expected):
    assert_killed(tmp_path, (mutant,), target, expected)


@pytest.mark.parametrize("patches, target, expected", FIXED_CASES,
                         ids=["+".join(p[:-3] for p in ps) for ps, _, _ in FIXED_CASES])
def test_fixed_build_with_broken_variant_fails(tmp_path, patches, target, expected):
    assert_killed(tmp_path, patches, target, expected)


def test_fixed_variant_passes_new_connection_check(tmp_path):
    code, out, outcomes, *_ = run_suite(tmp_path, REC + "test_recreation_opens_a_new_connection[sync]",
                                       "client_fix_local_subchannel.py")
    assert code == 0 and set(outcomes.values()) == {"passed"}, out[-6000:]
