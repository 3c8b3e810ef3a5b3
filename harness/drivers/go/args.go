package main

// The commands' arguments (PROTOCOL.md §2), decoded from the request's `args` object.

import (
	"encoding/json"
	"strings"
)

type activitySpec struct {
	Name         string  `json:"name"`
	SleepSeconds float64 `json:"sleep_seconds"`
	Result       any     `json:"result"` // null/absent: the activity echoes its input
}

type orchestrationSpec struct {
	Name     string `json:"name"`
	Activity string `json:"activity"`
}

type workSpec struct {
	Activities     []activitySpec      `json:"activities"`
	Orchestrations []orchestrationSpec `json:"orchestrations"`
}

// connArgs are what start_worker and create_client share: where to connect and how.
type connArgs struct {
	Address             string          `json:"address"`
	Channel             string          `json:"channel"`
	Resiliency          json.RawMessage `json:"resiliency"`
	ChannelOptions      json.RawMessage `json:"channel_options"`
	Metadata            [][]string      `json:"metadata"`
	Secure              bool            `json:"secure"`
	InterceptorMetadata [][]string      `json:"interceptor_metadata"`
}

type startWorkerArgs struct {
	connArgs
	workSpec
	Concurrency map[string]any `json:"concurrency"`
}

type createClientArgs struct {
	connArgs
	ID   string `json:"id"`
	Kind string `json:"kind"`
}

type opArgs struct {
	ID         string   `json:"id"`
	Op         string   `json:"op"`
	Name       string   `json:"name"`
	Input      any      `json:"input"`
	InstanceID string   `json:"instance_id"`
	Timeout    *float64 `json:"timeout"`
	Data       any      `json:"data"`
	Output     any      `json:"output"`
}

func decodeArgs(raw json.RawMessage, into any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return failure("BadArgs", "cannot read the command's args: %v", err)
	}
	return nil
}

func given(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

// decodeJSON is a serialized payload as a JSON value (nil when empty), like the Python driver's.
func decodeJSON(raw []byte) any {
	if len(raw) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	return v
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// runtimeStatus is "COMPLETED" for the proto's ORCHESTRATION_STATUS_COMPLETED, as the protocol spells it.
func runtimeStatus(name string) string { return strings.TrimPrefix(name, "ORCHESTRATION_STATUS_") }
