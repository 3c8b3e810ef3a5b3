"""Carrying messages between the microsoft and dapr schemas by field number (fakes/transcode.py)."""

from __future__ import annotations

from fakes import pb
from fakes.engine import _event
from fakes.schemas import DAPR, MICROSOFT
from fakes.transcode import Transcoder
from fakes.wire import fields

OUT = Transcoder(MICROSOFT, DAPR)
IN = Transcoder(DAPR, MICROSOFT)


def _work_item():
    """An orchestrator work item as the engine builds one (engine.py conventions)."""
    started = _event(executionStarted=pb.ExecutionStartedEvent(
        name="wf", input=pb.sv('"x"'), orchestrationInstance=pb.OrchestrationInstance(instanceId="i1")))
    req = pb.OrchestratorRequest(
        instanceId="i1", pastEvents=[_event(orchestratorStarted=pb.OrchestratorStartedEvent()), started,
                                     _event(1, taskScheduled=pb.TaskScheduledEvent(name="act", input=pb.sv("1")))],
        newEvents=[_event(orchestratorStarted=pb.OrchestratorStartedEvent()),
                   _event(taskFailed=pb.TaskFailedEvent(taskScheduledId=1, failureDetails=pb.TaskFailureDetails(
                       errorType="E", errorMessage="boom"))),
                   _event(eventRaised=pb.EventRaisedEvent(name="go", input=pb.sv("2")))])
    return pb.WorkItem(completionToken="o-1", orchestratorRequest=req)


def test_engine_work_items_reach_dapr_whole_and_come_back_unchanged() -> None:
    item = _work_item()
    dapr, dropped = OUT.message(item, "WorkItem")
    assert dropped == []
    req = dapr.workflowRequest
    assert [e.WhichOneof("eventType") for e in req.pastEvents] == ["workflowStarted", "executionStarted", "taskScheduled"]
    assert req.pastEvents[1].executionStarted.workflowInstance.instanceId == "i1"
    assert req.newEvents[1].taskFailed.failureDetails.errorMessage == "boom"
    back, dropped = IN.message(dapr, "WorkItem")
    assert dropped == [] and back == item


def test_instance_state_reaches_dapr_as_workflow_state() -> None:
    resp = pb.GetInstanceResponse(exists=True, orchestrationState=pb.OrchestrationState(
        instanceId="i", name="wf", orchestrationStatus=pb.ORCHESTRATION_STATUS_FAILED,
        failureDetails=pb.TaskFailureDetails(errorType="E", errorMessage="boom")))
    dapr, dropped = OUT.message(resp, "GetInstanceResponse")
    assert dropped == []
    assert (dapr.workflowState.workflowStatus, dapr.workflowState.failureDetails.errorMessage) == (
        pb.ORCHESTRATION_STATUS_FAILED, "boom")


def test_a_field_only_one_schema_has_is_carried_as_an_unknown_field() -> None:
    dapr, dropped = OUT.message(pb.WorkItem(completionToken="p", healthPing=pb.HealthPing()), "WorkItem")
    assert dropped == [] and dapr.WhichOneof("request") is None
    sent = {f.number: f.raw for f in fields(dapr.SerializeToString())}
    assert sent[4] == b"\x22\x00"  # the ping's bytes went through untouched
    # the other way a field the source schema does not know is never guessed at: dropped, and said so
    back, dropped = IN.message(dapr, "WorkItem")
    assert back.WhichOneof("request") is None and back.completionToken == "p"
    assert [(d.path, d.reason) for d in dropped] == [
        ("WorkItem.4", "unknown to the dapr schema; the microsoft schema has healthPing (HealthPing message) there")]


def test_fields_the_schemas_disagree_on_are_dropped_never_misread() -> None:
    """dapr's WorkflowAction.router (9, TaskRouter) sits where microsoft has rewindOrchestration: a
    by-number copy would turn a routed activity into a rewind. It is dropped, and so is the string
    taskExecutionId that microsoft reads as a TraceContext."""
    action = DAPR.msg("WorkflowAction")(
        id=3, scheduleTask=DAPR.msg("ScheduleTaskAction")(name="act", taskExecutionId="e-1"),
        router=DAPR.msg("TaskRouter")(sourceAppID="a", targetAppID="b"))
    neutral, dropped = IN.message(DAPR.msg("WorkflowResponse")(instanceId="i", actions=[action]), "OrchestratorResponse")
    (a,) = neutral.actions
    assert a.WhichOneof("orchestratorActionType") == "scheduleTask" and (a.id, a.scheduleTask.name) == (3, "act")
    assert not a.HasField("rewindOrchestration") and not a.scheduleTask.HasField("parentTraceContext")
    assert sorted(d.path for d in dropped) == ["WorkflowResponse.actions.router",
                                               "WorkflowResponse.actions.scheduleTask.taskExecutionId"]
    reasons = {d.path: d.reason for d in dropped}
    assert reasons["WorkflowResponse.actions.scheduleTask.taskExecutionId"] == (
        "dapr taskExecutionId (string) is parentTraceContext (TraceContext message) in the microsoft schema")
