"""The kinds table (harness/repro/kinds.py) is the one place a fault, action or check is declared:
validation, the runner, the checks and --vocabulary all read it. Nothing here starts a process."""

from __future__ import annotations

import textwrap
from types import SimpleNamespace

import pytest

from harness.history import DRIVER, FAKE, NETWORK, SCENARIO, History
from harness.repro import kinds, schema, steps
from harness.repro.expect import evaluate, ref_times
from harness.repro.model import F, Kind
from harness.repro.runner import ScenarioRun
from harness.repro.schema import parse_scenario

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


def _raw(text: str) -> dict:
    return tomllib.loads(textwrap.dedent(text))


BASE = """
title = "t"
source = ["x#1"]
expected = "pass"
"""


def test_every_kind_has_its_behaviour():
    for k in kinds.STEP_KINDS.values():
        assert callable(k.apply) and k.evaluate is None, k.name
    for k in kinds.CHECKS.values():
        assert callable(k.evaluate) and k.apply is None, k.name
    assert set(kinds.FAULTS) | set(kinds.ACTION_NAMES) == set(kinds.STEP_KINDS)
    with pytest.raises(TypeError):
        Kind("x", "check", "doc", {})  # a check without evaluate
    with pytest.raises(TypeError):
        Kind("x", "action", "doc", {}, evaluate=lambda j, e: [])  # an action without apply


def test_schema_reads_the_same_table():
    assert schema.STEP_KINDS is kinds.STEP_KINDS and schema.CHECKS is kinds.CHECKS
    assert schema.FAULTS is kinds.FAULTS and schema.ACTION_NAMES is kinds.ACTION_NAMES


class _Run(ScenarioRun):
    """A ScenarioRun whose parts are stubs: steps run, nothing is started."""

    def __init__(self, sc, history):
        super().__init__(sc, sdk=None, history=history, log_dir=".")
        self.fake = SimpleNamespace(calls=[], open_streams=lambda: [(7, "peer-a"), (9, "peer-b")])
        self.fake.end_stream = lambda cid, code, msg, **kw: self.fake.calls.append((cid, code, msg, kw))


def test_a_new_kind_is_validated_run_and_listed_from_its_one_declaration(monkeypatch):
    seen = []
    kind = Kind("wave", "action", "the app waves `times` times.", {"times": F("int", "how many", default=2)},
                apply=lambda run, st, occ: seen.append((st.index, occ, st.params["times"])))
    monkeypatch.setitem(kinds.STEP_KINDS, "wave", kind)
    monkeypatch.setattr(kinds, "ACTIONS", kinds.ACTIONS + [kind])
    monkeypatch.setattr(kinds, "ACTION_NAMES", kinds.ACTION_NAMES + ["wave"])
    monkeypatch.setattr(schema, "ACTIONS", kinds.ACTIONS)
    monkeypatch.setattr(schema, "ACTION_NAMES", kinds.ACTION_NAMES)
    sc = parse_scenario(_raw(BASE + """
        [[step]]
        at = 1
        action = "wave"
        times = 3
        [[expect]]
        check = "no_request_after"
        after = "step 1 end"
        """))
    assert "  wave: the app waves `times` times." in schema.vocabulary()
    with pytest.raises(schema.ScenarioError, match="field 'times': expected a whole number"):
        parse_scenario(_raw(BASE + '[[step]]\nat = 1\naction = "wave"\ntimes = "x"\n'
                            '[[expect]]\ncheck = "exactly_once"\n'))
    h = History("t")
    run = _Run(sc, h)
    run._step_start(sc.steps[0], 0)
    assert seen == [(1, 0, 3)]
    assert [e.get("phase") for e in h.select(SCENARIO, "step")] == ["start", "end"]


def test_server_stream_faults_end_every_open_stream_through_the_fakes_hook():
    sc = parse_scenario(_raw(BASE + """
        [[step]]
        at = 0
        fault = "abort_stream"
        code = "UNAVAILABLE"
        message = "stream timeout"
        [[expect]]
        check = "reconnected_within"
        after = "server_close"
        within = 1
        """))
    run = _Run(sc, History("t"))
    run._step_start(sc.steps[0], 0)
    assert run.fake.calls == [(cid, "UNAVAILABLE", "stream timeout", {"fault": "AbortStream", "step": 1})
                              for cid in (7, 9)]


def test_frame_faults_put_the_h2_proxy_in_the_path_and_reset_the_streams_there():
    sc = parse_scenario(_raw(BASE + """
        [[step]]
        at = 0
        fault = "rst_stream"
        error_code = "NO_ERROR"
        [[expect]]
        check = "reconnected_within"
        after = "server_close"
        within = 1
        """))
    run = _Run(sc, History("t"))
    assert run.needs_h2proxy and not _Run(parse_scenario(_raw(BASE + """
        [[step]]
        at = 0
        action = "mark"
        [[expect]]
        check = "no_request_after"
        after = "step 1"
        """)), History("u")).needs_h2proxy
    resets = []
    run.h2 = SimpleNamespace(rst_stream=lambda path, code, **kw: resets.append((path, code, kw)))
    run.background = lambda name, fn: fn()  # synchronously, for the test
    run._step_start(sc.steps[0], 0)
    assert resets == [("/TaskHubSidecarService/GetWorkItems", "NO_ERROR",
                       {"after_response_headers": True, "timeout": 5.0})]
    assert run.fake.calls == []  # no approximation through the fake any more


def test_server_close_is_when_the_real_rst_stream_frame_left_for_the_sdk():
    h = History("t")
    t0 = h.t0
    h.record(FAKE, "server_fault", t=t0 + 1.0, method="GetWorkItems", call_id=1)  # a server abort
    # the proxy's RST_STREAM on a GetWorkItems stream: the frame (sent first), then the fault's record
    h.record(NETWORK, "h2_frame", t=t0 + 2.0, type="RST_STREAM", hop="proxy->sdk", conn=1, stream_id=3)
    h.record(NETWORK, "h2_fault", t=t0 + 2.01, fault="rst_stream", conn=1, down_stream_id=3,
             attributes={"method": "/TaskHubSidecarService/GetWorkItems"})
    h.record(NETWORK, "h2_fault", t=t0 + 3.0, fault="rst_stream", conn=1, down_stream_id=5,
             attributes={"method": "/TaskHubSidecarService/WaitForInstanceCompletion"})  # not a stream end
    assert ref_times(h, "server_close", each=True) == [t0 + 1.0, t0 + 2.0]
    assert ref_times(h, "server_close") == [t0 + 2.0]


def test_checks_are_evaluated_through_the_table():
    sc = parse_scenario(_raw(BASE + """
        [[step]]
        at = 0
        action = "mark"
        [[expect]]
        check = "no_request_after"
        after = "step 1"
        [[expect]]
        check = "reconnected_within"
        after = "server_close"
        within = 1
        """))
    h = History("t")
    h.record(SCENARIO, "scenario_start")
    h.record(SCENARIO, "step", step=1, phase="start")
    h.record(FAKE, "rpc_start", call_id=1, method="Hello")
    v1, v2 = evaluate(sc, h, 0.25)
    assert v1.check.startswith("expect 1 (no_request_after): ") and not v1.ok
    assert v2.check.startswith("expect 2 (reconnected_within): ") and not v2.ok
    assert "cannot evaluate: the server never ended a GetWorkItems stream" in v2.summary


def test_own_completion_delivered_reads_the_workload_activity():
    sc = parse_scenario(_raw(BASE + """
        [workload.activity]
        duration_s = 30
        [[expect]]
        check = "own_completion_delivered"
        """))
    h = History("t")
    h.record(SCENARIO, "activity_queued", completion_token="a-1", instance_id="standalone-a-1")
    h.record(DRIVER, "activity_started", instance_id="standalone-a-1")
    h.record(FAKE, "work_item_redelivered", completion_token="a-1")
    h.record(DRIVER, "activity_started", instance_id="standalone-a-1")
    h.record(DRIVER, "activity_finished", instance_id="standalone-a-1")
    (v,) = evaluate(sc, h, 0.25)  # no completion seen at all: a lost result
    assert v.check.startswith("expect 1 (own_completion_delivered): ") and not v.ok
    h.record(DRIVER, "activity_finished", instance_id="standalone-a-1")  # the redelivered run's
    h.record(FAKE, "work_item_completed", completion_token="a-1", duplicate=False)
    (v,) = evaluate(sc, h, 0.25)  # its result, not the in-flight run's
    assert not v.ok and "never arrived" in v.summary


def test_idle_cutoff_rules_come_and_go():
    run = SimpleNamespace(started=[])
    run.background = lambda name, fn: run.started.append(name)
    cuts = steps.IdleCutoffs(run)
    off1 = cuts.add(1, {"after_s": 1})
    off2 = cuts.add(2, {"after_s": 2})
    assert run.started == ["idle-cutoff"]  # one monitor for every rule in force
    off1()
    off2()
    cuts.add(3, {"after_s": 1})
    assert run.started == ["idle-cutoff", "idle-cutoff"]


def test_per_connection_faults_and_issue_10_checks_are_validated_from_the_table():
    sc = parse_scenario(_raw(BASE + """
        [[step]]
        at = 1
        fault = "conn_blackhole"
        for = 2
        [[step]]
        at = 4
        fault = "conn_reset"
        side = "client"
        [[expect]]
        check = "connect_rate_at_most"
        after = "step 2"
        window_s = 1
        [[expect]]
        check = "backoff_within"
        first_attempt = 2
        [[expect]]
        check = "new_peer_after_recreation"
        after = "step 1"
        """))
    assert sc.steps[0].params == {"stream": "both"} and sc.steps[0].for_ == 2
    assert sc.steps[1].params == {"side": "client"}
    assert [e.params for e in sc.expects] == [
        {"after": "step 2", "window_s": 1, "at_most": 0},
        {"after": "start", "first_attempt": 2},
        {"after": "step 1"}]
    with pytest.raises(schema.ScenarioError, match="side"):
        parse_scenario(_raw(BASE + '[[step]]\nat = 1\nfault = "conn_reset"\nside = "both"\n'
                            '[[expect]]\ncheck = "stop_within"\n'))
    with pytest.raises(schema.ScenarioError, match="window_s"):
        parse_scenario(_raw(BASE + '[[expect]]\ncheck = "connect_rate_at_most"\n'))
