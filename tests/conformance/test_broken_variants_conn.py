"""The per-connection, recreation, drain and leak checks FAIL on broken SDK variants, for the right reason.

Each case runs one conformance test in a separate pytest process against durabletask 1.12.0 patched with
a mutant from harness/drivers/python/mutants/ (conn_*.py, drain_*.py) and asserts exit 1 and a failed verdict (by how
its check starts) of the requirement the mutant breaks; a field-report scenario file is a target like a test (its
checks start with "expect N (kind): "). Needs root and iptables for the recreate test and DRAIN-001's black-hole
case (see harness/net/conn.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.test_broken_variants import assert_fails_for_the_right_reason, run_suite

REC = "conformance/test_recreate_dead_connection.py::test_recreated_channel_escapes_dead_connection"
DRAIN_FILE = "conformance/test_inflight_drain.py"
DRAIN = f"{DRAIN_FILE}::test_inflight_drain_on_graceful_close[activity-ok]"
FIELD_900 = "scenarios/field/dapr_python_900_sidecar_killed_mid_activity.toml"
OWN = "the in-flight run's own completion was delivered"
# Every DRAIN-001 case of test_inflight_drain.py (the black-hole one needs root and iptables).
DRAIN_001_TESTS = [f"conformance.test_inflight_drain::test_inflight_drain_on_graceful_close[{w}-{c}]"
                   for c in ("ok", "goaway") for w in ("activity", "orchestration")] + \
                  ["conformance.test_inflight_drain::test_inflight_drain_across_black_hole"]
WEDGE = "conformance/test_inflight_drain.py::test_failed_completion_does_not_wedge_worker[UNAVAILABLE]"
LEAK = "conformance/test_connection_leak.py::test_no_connection_leak_after_fault_cycles[graceful]"

CASES = [
    ("conn_reuse_channel.py", REC, "Hello from a new TCP connection within"),
    ("drain_close_at_once.py", DRAIN, "old channel closed only after the in-flight work finished"),
    ("drain_drop_completion.py", DRAIN, OWN),
    ("drain_drop_completion.py", FIELD_900, f"expect 3 (own_completion_delivered): {OWN}"),
    ("drain_late_completion.py", FIELD_900, f"expect 3 (own_completion_delivered): {OWN}"),
    ("conn_never_close.py", LEAK, "at most 1 SDK-owned channel(s) open"),
    ("conn_never_close.py", DRAIN, "old channel closed only after the in-flight work finished"),
    ("drain_wedge_on_failed_completion.py", WEDGE, "work item completed on the recovered stream"),
]


@pytest.mark.parametrize("mutant, target, expected", CASES,
                         ids=[f"{m[:-3]}-{Path(t.split('::')[0]).stem.removeprefix('test_')}" for m, t, _ in CASES])
def test_suite_fails_on_broken_variant(tmp_path, mutant, target, expected):
    assert_fails_for_the_right_reason(tmp_path, mutant, target, expected)


@pytest.mark.parametrize("mutant", ["drain_drop_completion.py", "drain_late_completion.py"])
def test_every_drain_001_case_kills_a_lost_own_completion(tmp_path, mutant):
    """One run of the whole file per mutant (the server redelivers at once, lease mode ``at_once``): every
    DRAIN-001 case (graceful close and GOAWAY, standalone and orchestration activity, a black hole that
    heals) fails with a failed verdict of the own-completion check, a dropped completion and a late one
    (sent only after the redelivered run's) alike; DRAIN-003 is untouched by these mutants and passes."""
    run = run_suite(tmp_path, DRAIN_FILE, mutant)
    assert run.code == 1, f"expected the suite to FAIL with {mutant} (exit 1), got {run.code}:\n{run.out[-4000:]}"
    for test in DRAIN_001_TESTS:
        failed = [v.check for v in run.verdicts.get(test, []) if not v.ok]
        assert run.outcomes.get(test) == "failed" and OWN in failed, \
            f"{test} with {mutant}: outcome {run.outcomes.get(test)}, failed checks {failed}\n{run.out[-3000:]}"
        # a FAIL of the requirement, not an INCONCLUSIVE run (its controls held)
        assert run.statuses.get(test, "FAIL") == "FAIL", (test, run.statuses.get(test))
    wedge = [t for t in run.outcomes if "test_failed_completion_does_not_wedge_worker" in t]
    assert wedge and all(run.outcomes[t] == "passed" for t in wedge), {t: run.outcomes[t] for t in wedge}
