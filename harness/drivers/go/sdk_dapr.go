//go:build dapr

package main

// Everything that names dapr's fork of the Go SDK (github.com/dapr/durabletask-go, --sdk=dapr-go):
// the same shape as sdk_microsoft.go, in the fork's vocabulary (workflows for orchestrations). It
// speaks dapr's forked proto, so the harness starts the fake with the dapr schema for it.

import (
	"context"
	"encoding/json"
	"errors"
	"time"
	_ "unsafe" // go:linkname

	"github.com/cenkalti/backoff/v4"
	"github.com/dapr/durabletask-go/api"
	"github.com/dapr/durabletask-go/backend"
	"github.com/dapr/durabletask-go/client"
	"github.com/dapr/durabletask-go/task"
)

const (
	sdkName   = "dapr-go"
	sdkModule = "github.com/dapr/durabletask-go"
)

// The backoff the worker reconnects with, as the SDK constructs it (see sdk_microsoft.go).
//
//go:linkname sdkNewInfiniteRetries github.com/dapr/durabletask-go/client.newInfiniteRetries
func sdkNewInfiniteRetries() *backoff.ExponentialBackOff

func sdkReconnectBackoff() *backoff.ExponentialBackOff { return sdkNewInfiniteRetries() }

type sdkClient struct{ c *client.TaskHubGrpcClient }

func newSDKClient(oc *observedConn, lg *sdkLogger) *sdkClient {
	return &sdkClient{client.NewTaskHubGrpcClient(oc.conn, lg)}
}

func makeActivity(spec activitySpec, ids *activityInstances) task.Activity {
	return func(actx task.ActivityContext) (any, error) {
		var raw json.RawMessage
		if err := actx.GetInput(&raw); err != nil {
			return nil, err
		}
		iid := ids.take(spec.Name, int64(actx.GetTaskID()), string(raw))
		input := decodeJSON(raw)
		emit("activity_started", map[string]any{"name": spec.Name, "input": input, "instance_id": iid})
		if spec.SleepSeconds > 0 {
			time.Sleep(time.Duration(spec.SleepSeconds * float64(time.Second)))
		}
		out := input
		if spec.Result != nil {
			out = spec.Result
		}
		emit("activity_finished", map[string]any{"name": spec.Name, "input": input, "instance_id": iid})
		return out, nil
	}
}

func makeOrchestration(spec orchestrationSpec) task.Workflow {
	return func(ctx *task.WorkflowContext) (any, error) {
		emit("orchestration_run", map[string]any{"name": spec.Name, "instance_id": string(ctx.ID),
			"is_replaying": ctx.IsReplaying})
		var input any
		if err := ctx.GetInput(&input); err != nil {
			return nil, err
		}
		var out any
		err := ctx.CallActivity(spec.Activity, task.WithActivityInput(input)).Await(&out)
		return out, err
	}
}

func startListener(ctx context.Context, c *sdkClient, w workSpec, ids *activityInstances) error {
	r := task.NewTaskRegistry()
	for _, a := range w.Activities {
		if err := r.AddActivityN(a.Name, makeActivity(a, ids)); err != nil {
			return failure("RegistryError", "activity %s: %v", a.Name, err)
		}
	}
	for _, o := range w.Orchestrations {
		if err := r.AddWorkflowN(o.Name, makeOrchestration(o)); err != nil {
			return failure("RegistryError", "workflow %s: %v", o.Name, err)
		}
	}
	return c.c.StartWorkItemListener(ctx, r)
}

var errNotFound = api.ErrInstanceNotFound

func stateOf(m *backend.WorkflowMetadata) map[string]any {
	if m == nil {
		return nil
	}
	return map[string]any{"instance_id": m.GetInstanceId(), "name": m.GetName(),
		"runtime_status": runtimeStatus(m.GetRuntimeStatus().String()), "serialized_output": nullable(m.GetOutput().GetValue())}
}

func stateOrNull(m *backend.WorkflowMetadata, err error) (any, error) {
	if errors.Is(err, errNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return stateOf(m), nil
}

func (c *sdkClient) clientOp(ctx context.Context, op string, a opArgs) (any, error) {
	iid := api.InstanceID(a.InstanceID)
	switch op {
	case "schedule":
		opts := []api.NewWorkflowOptions{api.WithInput(a.Input)}
		if a.InstanceID != "" {
			opts = append(opts, api.WithInstanceID(iid))
		}
		id, err := c.c.ScheduleNewWorkflow(ctx, a.Name, opts...)
		return string(id), err
	case "get_state":
		return stateOrNull(c.c.FetchWorkflowMetadata(ctx, iid, api.WithFetchPayloads(true)))
	case "wait_start":
		return stateOrNull(c.c.WaitForWorkflowStart(ctx, iid, api.WithFetchPayloads(true)))
	case "wait_completion":
		return stateOrNull(c.c.WaitForWorkflowCompletion(ctx, iid, api.WithFetchPayloads(true)))
	case "raise_event":
		return nil, c.c.RaiseEvent(ctx, iid, a.Name, api.WithEventPayload(a.Data))
	case "terminate":
		return nil, c.c.TerminateWorkflow(ctx, iid, api.WithOutput(a.Output))
	case "purge":
		err := c.c.PurgeWorkflowState(ctx, iid)
		if errors.Is(err, errNotFound) {
			return map[string]any{"deleted_instance_count": 0}, nil
		}
		if err != nil {
			return nil, err
		}
		return map[string]any{"deleted_instance_count": nil, "deleted": true}, nil
	case "get_history":
		// The fork reads history with the unary GetInstanceHistory, not the server stream.
		return nil, unsupported("StreamInstanceHistory (client op get_history)", "history_stream")
	}
	return nil, failure("UnknownOp", "unknown client op %q", op)
}
