//go:build !dapr

package main

// Everything that names the Microsoft Go SDK (github.com/microsoft/durabletask-go): its client,
// its worker loop, its task registry and the constants the harness declares as its defaults.
// A build with another fork of the SDK swaps this file for its own (build tag).

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"time"
	_ "unsafe" // go:linkname

	"github.com/cenkalti/backoff/v4"
	"github.com/microsoft/durabletask-go/api"
	"github.com/microsoft/durabletask-go/client"
	"github.com/microsoft/durabletask-go/task"
)

const (
	sdkName   = "go"
	sdkModule = "github.com/microsoft/durabletask-go"
)

// The backoff the worker reconnects with, as the SDK itself constructs it (client.newInfiniteRetries,
// unexported: a fresh one per outage). Reading it from the build, never from our notes, is what makes
// the declared defaults this build's.
//
//go:linkname sdkNewInfiniteRetries github.com/microsoft/durabletask-go/client.newInfiniteRetries
func sdkNewInfiniteRetries() *backoff.ExponentialBackOff

func sdkReconnectBackoff() *backoff.ExponentialBackOff { return sdkNewInfiniteRetries() }

type sdkClient struct{ c *client.TaskHubGrpcClient }

func newSDKClient(oc *observedConn, lg *sdkLogger) *sdkClient {
	return &sdkClient{client.NewTaskHubGrpcClient(oc.conn, lg)}
}

// taskIDOf reads the task id of a running activity: the SDK's ActivityContext has it as an
// exported field of an unexported type, not through the interface.
func taskIDOf(actx task.ActivityContext) int64 {
	v := reflect.ValueOf(actx)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		if f := v.FieldByName("TaskID"); f.IsValid() && f.CanInt() {
			return f.Int()
		}
	}
	return -1
}

func makeActivity(spec activitySpec, ids *activityInstances) task.Activity {
	return func(actx task.ActivityContext) (any, error) {
		var raw json.RawMessage
		if err := actx.GetInput(&raw); err != nil {
			return nil, err
		}
		iid := ids.take(spec.Name, taskIDOf(actx), string(raw))
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

func makeOrchestration(spec orchestrationSpec) task.Orchestrator {
	return func(ctx *task.OrchestrationContext) (any, error) {
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

// startListener registers the work and runs the SDK's StartWorkItemListener, which returns once
// the first Hello and GetWorkItems succeeded (or with their error: the SDK does not retry a first
// connect) and then runs until ctx is cancelled, the SDK's only way to stop it.
func startListener(ctx context.Context, c *sdkClient, w workSpec, ids *activityInstances) error {
	r := task.NewTaskRegistry()
	for _, a := range w.Activities {
		if err := r.AddActivityN(a.Name, makeActivity(a, ids)); err != nil {
			return failure("RegistryError", "activity %s: %v", a.Name, err)
		}
	}
	for _, o := range w.Orchestrations {
		if err := r.AddOrchestratorN(o.Name, makeOrchestration(o)); err != nil {
			return failure("RegistryError", "orchestration %s: %v", o.Name, err)
		}
	}
	return c.c.StartWorkItemListener(ctx, r)
}

// errNotFound is how the SDK answers for an instance that does not exist (the protocol's null state).
var errNotFound = api.ErrInstanceNotFound

func stateOf(m *api.OrchestrationMetadata) map[string]any {
	if m == nil {
		return nil
	}
	return map[string]any{"instance_id": string(m.InstanceID), "name": m.Name,
		"runtime_status": runtimeStatus(m.RuntimeStatus.String()), "serialized_output": nullable(m.SerializedOutput)}
}

// clientOp runs one protocol client op; value is what the protocol says the op returns.
func (c *sdkClient) clientOp(ctx context.Context, op string, a opArgs) (any, error) {
	iid := api.InstanceID(a.InstanceID)
	switch op {
	case "schedule":
		opts := []api.NewOrchestrationOptions{api.WithInput(a.Input)}
		if a.InstanceID != "" {
			opts = append(opts, api.WithInstanceID(iid))
		}
		id, err := c.c.ScheduleNewOrchestration(ctx, a.Name, opts...)
		return string(id), err
	case "get_state":
		return stateOrNull(c.c.FetchOrchestrationMetadata(ctx, iid, api.WithFetchPayloads(true)))
	case "wait_start":
		return stateOrNull(c.c.WaitForOrchestrationStart(ctx, iid, api.WithFetchPayloads(true)))
	case "wait_completion":
		return stateOrNull(c.c.WaitForOrchestrationCompletion(ctx, iid, api.WithFetchPayloads(true)))
	case "raise_event":
		return nil, c.c.RaiseEvent(ctx, iid, a.Name, api.WithEventPayload(a.Data))
	case "terminate":
		return nil, c.c.TerminateOrchestration(ctx, iid, api.WithOutput(a.Output))
	case "purge":
		// The SDK does not return the count: nil means it was not zero, ErrInstanceNotFound that it was.
		err := c.c.PurgeOrchestrationState(ctx, iid)
		if errors.Is(err, errNotFound) {
			return map[string]any{"deleted_instance_count": 0}, nil
		}
		if err != nil {
			return nil, err
		}
		return map[string]any{"deleted_instance_count": nil, "deleted": true}, nil
	case "get_history":
		return nil, unsupported("StreamInstanceHistory (client op get_history)", "history_stream")
	}
	return nil, failure("UnknownOp", "unknown client op %q", op)
}

func stateOrNull(m *api.OrchestrationMetadata, err error) (any, error) {
	if errors.Is(err, errNotFound) {
		return nil, nil // the SDK's "no such instance": the protocol's null state
	}
	if err != nil {
		return nil, err
	}
	return stateOf(m), nil
}
