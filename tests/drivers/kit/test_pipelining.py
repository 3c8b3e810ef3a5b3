"""Pipelined requests (PROTOCOL.md §1): several requests in one write before any answer is read; every
one answered exactly once, matched by id, and a long-running ``client_call`` does not hold up the
quick commands written after it."""

from __future__ import annotations

from fakes.sidecar import FakeSidecar
from harness.drivers.process import Driver
from tests.drivers.kit.conftest import ANSWER_S, worker_channel
from tests.drivers.kit.wire import pipeline

# The long poll the quick commands must overtake: long enough that 5 ms polling and a busy machine
# cannot blur the order, short enough to keep the kit fast.
LONG_POLL_S = 1.5


def test_pipelined_requests_are_all_answered_by_id(driver: Driver) -> None:
    reqs = [("hello", {}), ("connections", {}), ("defaults_in_force", {}), ("kit_no_such_command", {}),
            ("hello", {}), ("connections", {})]
    answers = pipeline(driver, reqs, ANSWER_S)
    for (cmd, _), (req_id, msg, _) in zip(reqs, answers, strict=True):
        assert msg["id"] == req_id
        if cmd == "kit_no_such_command":
            assert msg["ok"] is False and msg["error"]["type"] == "UnknownCommand", msg
        else:
            assert msg["ok"] is True, (cmd, msg)
    assert answers[0][1]["result"]["sdk"] == answers[4][1]["result"]["sdk"]
    assert "connections" in answers[1][1]["result"] and "worker" in answers[2][1]["result"]
    assert not driver.garbage, f"unmatched or non-protocol lines: {driver.garbage[:5]}"


def test_long_client_call_does_not_block_later_commands(driver: Driver, fake: FakeSidecar) -> None:
    driver.create_client("pipe", address=fake.address, channel=worker_channel(driver.info))
    try:
        iid = driver.call("pipe", "schedule", name="kit_pipe_never_runs", input=None)["value"]
        reqs = [("client_call", {"id": "pipe", "op": "wait_completion", "instance_id": iid, "timeout": LONG_POLL_S}),
                ("hello", {}), ("connections", {}), ("defaults_in_force", {})]
        answers = pipeline(driver, reqs, ANSWER_S + LONG_POLL_S)
    finally:
        driver.close_client("pipe")
    poll_seen = answers[0][2]
    poll = answers[0][1]
    assert poll["ok"] and poll["result"]["outcome"] == "error" and poll["result"]["exc_type"] == "TimeoutError", poll
    for (cmd, _), (_, msg, seen) in zip(reqs[1:], answers[1:], strict=True):
        assert msg["ok"], (cmd, msg)
        assert seen < poll_seen, f"{cmd} (written after a {LONG_POLL_S}s long poll) was answered after it"
    assert not driver.garbage, f"unmatched or non-protocol lines: {driver.garbage[:5]}"
