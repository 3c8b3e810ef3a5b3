"""The worker handshake / stream-health / backoff / shutdown scenarios FAIL on SDK builds that
break them, for the right reason (a failed verdict of the broken requirement, read as data).

Same method as tests/conformance/test_broken_variants.py: each case runs one scenario in its own pytest
process against durabletask 1.12.0 patched with a mutant from harness/drivers/python/mutants/.

Checks that durabletask 1.12.0 itself fails (findings F-2, F-10, F-11 in docs/FINDINGS.md) are
pinned in tests/conformance/reference_verdicts.json; REFERENCE_FAILURES checks they fail for the finding.
Expectations name how the check of a failed verdict starts (``Verdict.check``).
"""

from __future__ import annotations

import pytest

from tests.conformance.test_broken_variants import (
    assert_failed_verdict,
    assert_fails_for_the_right_reason,
    run_suite,
)

H = "conformance/test_worker_handshake.py"
S = "conformance/test_worker_stream_health.py"
B = "conformance/test_worker_backoff.py"
D = "conformance/test_worker_shutdown.py"

# (mutant, target, how the check of a failed verdict starts)
CASES = [
    # handshake
    ("worker_hello_no_deadline.py", H, "Hello carries the Hello-timeout deadline"),
    ("worker_hello_no_deadline.py", H, "unanswered Hello abandoned at the Hello timeout"),
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
    ("worker_stop_waits_backoff.py", f"{D}::test_stop_is_prompt_and_final[in-backoff]",
     "stop() returns within"),
    ("worker_connect_after_stop.py", f"{D}::test_stop_is_prompt_and_final[in-backoff]",
     "no request (Hello, GetWorkItems) reaches the server"),
]

# Verdicts of the unpatched reference release for the worker scenarios.
# The verdicts of the unpatched release on these files are pinned with the whole suite's in
# tests/conformance/reference_verdicts.json (tests/conformance/test_broken_variants.py::test_reference_release_verdicts).

# Where 1.12.0 fails, the failure must be the finding's verdict.
REFERENCE_FAILURES = [
    (f"{S}::test_immediate_close_loop", "no tight reconnect loop"),
    (f"{D}::test_stop_is_prompt_and_final[in-hello]", "stop() returns within"),
    (f"{D}::test_stop_is_prompt_and_final[in-stream]", "stop() returns within"),
]


def _id(m: str, t: str, exp: str) -> str:
    return f"{m[:-3]}-{t.split('/')[-1].split('::')[-1][5:]}-{exp[:23].replace(' ', '_')}"


@pytest.mark.parametrize("mutant, target, expected", CASES, ids=[_id(*c) for c in CASES])
def test_worker_suite_fails_on_broken_variant(tmp_path, mutant, target, expected):
    assert_fails_for_the_right_reason(tmp_path, mutant, target, expected)


@pytest.mark.parametrize("target, expected", REFERENCE_FAILURES, ids=[t.split("::")[-1] for t, _ in REFERENCE_FAILURES])
def test_reference_release_fails_for_the_finding(tmp_path, target, expected):
    run = run_suite(tmp_path, target)
    assert run.code == 1, run.out[-6000:]
    assert_failed_verdict(run, expected)
