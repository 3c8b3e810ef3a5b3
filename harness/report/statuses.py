"""The statuses a release manager reads, per test and per requirement, and the rules that decide them.

Statuses (Autobahn's testsuite is the model: a failed SHOULD is NON-STRICT, not FAILED):

    PASS             every verdict held.
    FAIL             a MUST verdict failed (or the test errored: no verdict can vouch for it).
    NOT IMPLEMENTED  a MUST behaviour the build does not have: the test ran at the SDK's defaults
                     because the build lacks the option that shortens them, and a MUST verdict or a
                     control failed there (what a control needs at the defaults, e.g. a recreation,
                     is the behaviour such a build lacks); or the build lacks the option and a run
                     at the defaults is infeasible (harness/drivers/capabilities.py). Fails the gate.
    NON-STRICT       only SHOULD verdicts failed. Fails the gate only with ``--strict``.
    INCONCLUSIVE     the harness could not observe what the verdicts need: a control failed, a
                     harness-level requirement (SPEC level "harness") failed, the setup did not take
                     effect, the tolerance is too coarse, or the driver cannot observe the build
                     (``Inconclusive``, harness/checks/verdict.py). Fails the gate, is shown apart, and is
                     never charged to the requirement under test.
    NOT APPLICABLE   the build lacks a capability the spec marks optional; the reason names it.
    NOT RUN          skipped for any other reason (e.g. left out by ``--skip-at-defaults``), or no test
                     of the requirement ran. Fails the gate when a test of the run was skipped.

A test's facts come from its reports' ``user_properties`` (harness/plugin.py writes them;
harness/report/attach.py the verdicts), so the same rules run on an xdist worker, on the controller
and over a junit file. A test that cites several requirements is judged per requirement by the
requirements its failed verdicts name (``Verdict.requirement``); an untagged failed verdict, or a
failure without one, counts against every requirement the test cites.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

PASS, FAIL, NON_STRICT, NOT_IMPLEMENTED = "PASS", "FAIL", "NON-STRICT", "NOT IMPLEMENTED"
NOT_APPLICABLE, INCONCLUSIVE, NOT_RUN = "NOT APPLICABLE", "INCONCLUSIVE", "NOT RUN"
STATUSES = (PASS, FAIL, NOT_IMPLEMENTED, INCONCLUSIVE, NON_STRICT, NOT_APPLICABLE, NOT_RUN)

# Skip reasons start with these words (the plugin's skips; anything else is NOT RUN).
NOT_APPLICABLE_PREFIX = "NOT APPLICABLE"
LEFT_OUT_PREFIX = "NOT RUN: left out"

# user_properties keys for a test's facts (set by harness/plugin.py, read here)
PROP_STATUS = "status"  # the status the plugin computed (for --junitxml readers)
PROP_INCONCLUSIVE = "inconclusive"  # why the harness could not observe
PROP_NOT_IMPLEMENTED = "not_implemented"  # why the build is NOT IMPLEMENTED without running
PROP_AT_DEFAULTS = "at_defaults"  # the test ran at the SDK's defaults, and why

# Requirement levels (SPEC.md's Level column: "MUST", "MUST (P)", "SHOULD (N)", "harness").
MUST, SHOULD, HARNESS = "MUST", "SHOULD", "harness"

# Worst first: the status of a requirement with several tests, and of a test with several requirements.
_REQUIREMENT_ORDER = (FAIL, NOT_IMPLEMENTED, INCONCLUSIVE, NOT_RUN, NON_STRICT, PASS, NOT_APPLICABLE)


def level_kind(level: str) -> str:
    """MUST, SHOULD or harness; an unknown or missing level counts as MUST (never lets a failure off)."""
    text = (level or "").strip().lower()
    if text.startswith("should"):
        return SHOULD
    if text.startswith("harness"):
        return HARNESS
    return MUST


def _failed_verdicts(r: Any) -> list[Any]:
    return [v for v in (r.verdicts or []) if not v.ok]


def _harness_requirement_failed(r: Any, levels: Mapping[str, str]) -> bool:
    return any(v.requirement and level_kind(levels.get(v.requirement, "")) == HARNESS for v in _failed_verdicts(r))


def _control_failed(r: Any) -> bool:
    return any(v.control for v in _failed_verdicts(r))


def _harness_failed(r: Any, levels: Mapping[str, str]) -> bool:
    """A failed control, or a failed verdict of a harness-level requirement: the observation itself
    failed, so no other verdict of the test means anything."""
    return _control_failed(r) or _harness_requirement_failed(r, levels)


def _lacks_at_defaults(r: Any, levels: Mapping[str, str]) -> bool:
    """A control failed in a run at the SDK's defaults (the build lacks the option): what the control
    needed to see (a recreation, a give-up) is the behaviour the build does not have, so the test is NOT
    IMPLEMENTED, not INCONCLUSIVE. A failed harness-level requirement stays INCONCLUSIVE."""
    return bool(r.at_defaults) and _control_failed(r) and not _harness_requirement_failed(r, levels)


def charged(r: Any) -> set[str] | None:
    """The cited requirements a failed test's failed verdicts name; None when a failed verdict names
    none, none failed, or they name only requirements the test does not cite: then the failure counts
    against every requirement the test cites."""
    failed = _failed_verdicts(r)
    if not failed or any(not v.requirement for v in failed):
        return None
    named = {str(v.requirement) for v in failed} & set(r.requirements)
    return named or None


def requirement_outcome(r: Any, requirement_id: str, levels: Mapping[str, str]) -> str:
    """What test ``r`` says about one requirement it cites."""
    if r.outcome == "skipped":
        return NOT_APPLICABLE if r.message.strip().upper().startswith(NOT_APPLICABLE_PREFIX) else NOT_RUN
    if r.outcome != "failed":
        return PASS
    if _lacks_at_defaults(r, levels):
        return NOT_IMPLEMENTED
    if r.inconclusive or _harness_failed(r, levels):
        return INCONCLUSIVE
    if r.not_implemented:
        return NOT_IMPLEMENTED
    if r.phase != "call":  # the harness or the SDK errored around the test: nothing vouches for it
        return FAIL
    hit = charged(r)
    if hit is not None and requirement_id not in hit:
        return PASS
    kind = level_kind(levels.get(requirement_id, ""))
    if kind == HARNESS:
        return INCONCLUSIVE
    if kind == SHOULD:
        return NON_STRICT
    return NOT_IMPLEMENTED if r.at_defaults else FAIL


def status_of(r: Any, levels: Mapping[str, str]) -> str:
    """A test's status: the worst of what it says about each requirement it cites (a failed test that
    cites none is FAIL, or NOT IMPLEMENTED at the defaults)."""
    if r.outcome != "failed" or r.inconclusive or r.not_implemented or _harness_failed(r, levels):
        return requirement_outcome(r, "", levels)
    if not r.requirements:
        return requirement_outcome(r, "", levels) if r.phase != "call" else (
            NOT_IMPLEMENTED if r.at_defaults else FAIL)
    # charged() names at least one cited requirement, so some outcome is not PASS
    return worst_of({requirement_outcome(r, rid, levels) for rid in r.requirements} - {PASS})




def worst_of(statuses: Iterable[str]) -> str:
    """The worst status, in the order FAIL, NOT IMPLEMENTED, INCONCLUSIVE, NOT RUN, NON-STRICT, PASS,
    NOT APPLICABLE; NOT RUN when there is none."""
    have = set(statuses)
    return next((s for s in _REQUIREMENT_ORDER if s in have), NOT_RUN)


def requirement_status(outcomes: Iterable[str]) -> str:
    """A requirement's status from its tests' outcomes on it: the worst; NOT RUN when no test ran.

    PASS needs a passing test and nothing worse; NOT APPLICABLE only when every test is; a test left
    out or skipped makes the requirement NOT RUN unless one of its tests failed outright."""
    return worst_of(outcomes)
