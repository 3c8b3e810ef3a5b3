"""The per-connection, recreation, drain and leak checks FAIL on broken SDK variants, for the right reason.

Each case runs one conformance test in a separate pytest process against durabletask 1.12.0 patched with
a mutant from harness/drivers/python/mutants/ (conn_*.py, drain_*.py) and asserts exit 1 and a failed verdict (by how
its check starts) of the requirement the mutant breaks. Needs root and iptables for the recreate test (see harness/net/conn.py).
"""

from __future__ import annotations

import pytest

from tests.conformance.test_broken_variants import assert_fails_for_the_right_reason

REC = "conformance/test_recreate_dead_connection.py::test_recreated_channel_escapes_dead_connection"
DRAIN = "conformance/test_inflight_drain.py::test_inflight_drain_on_graceful_close[activity-ok]"
WEDGE = "conformance/test_inflight_drain.py::test_failed_completion_does_not_wedge_worker[UNAVAILABLE]"
LEAK = "conformance/test_connection_leak.py::test_no_connection_leak_after_fault_cycles[graceful]"

CASES = [
    ("conn_reuse_channel.py", REC, "Hello from a new TCP connection within"),
    ("drain_close_at_once.py", DRAIN, "old channel closed only after the in-flight work finished"),
    ("drain_drop_completion.py", DRAIN, "the in-flight run's own completion was delivered"),
    ("conn_never_close.py", LEAK, "at most 1 SDK-owned channel(s) open"),
    ("conn_never_close.py", DRAIN, "old channel closed only after the in-flight work finished"),
    ("drain_wedge_on_failed_completion.py", WEDGE, "work item completed on the recovered stream"),
]


@pytest.mark.parametrize("mutant, target, expected", CASES,
                         ids=[f"{m[:-3]}-{t.split('/')[-1].split('::')[0][5:-3]}" for m, t, _ in CASES])
def test_suite_fails_on_broken_variant(tmp_path, mutant, target, expected):
    assert_fails_for_the_right_reason(tmp_path, mutant, target, expected)
