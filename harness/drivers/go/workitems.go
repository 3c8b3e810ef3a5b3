package main

// Which orchestration instance an activity run belongs to. The Go SDK's ActivityContext carries
// no instance id, but the work item the stream delivered does: the worker's GetWorkItems stream is
// read here (the message the SDK already received, through protobuf reflection, since the SDK's
// generated types are internal) and each activity request is queued under (name, task id, input)
// until the activity body with those values starts.

import (
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

type activityKey struct {
	name  string
	task  int64
	input string
}

type activityInstances struct {
	mu      sync.Mutex
	pending map[activityKey][]string
}

func newActivityInstances() *activityInstances {
	return &activityInstances{pending: map[activityKey][]string{}}
}

func field(m protoreflect.Message, name string) (protoreflect.Value, bool) {
	fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil {
		fd = m.Descriptor().Fields().ByJSONName(name)
	}
	if fd == nil || !m.Has(fd) {
		return protoreflect.Value{}, false
	}
	return m.Get(fd), true
}

// stringValue reads a google.protobuf.StringValue field ("" when absent).
func stringValue(m protoreflect.Message, name string) string {
	v, ok := field(m, name)
	if !ok {
		return ""
	}
	inner, ok := field(v.Message(), "value")
	if !ok {
		return ""
	}
	return inner.String()
}

// seen is the stream observer's hook: it notes every activity request's instance id.
func (a *activityInstances) seen(msg any) {
	pm, ok := msg.(proto.Message)
	if !ok {
		return
	}
	req, ok := field(pm.ProtoReflect(), "activityRequest")
	if !ok {
		return
	}
	r := req.Message()
	key := activityKey{input: stringValue(r, "input")}
	if v, ok := field(r, "name"); ok {
		key.name = v.String()
	}
	if v, ok := field(r, "taskId"); ok {
		key.task = v.Int()
	}
	iid := ""
	for _, name := range []string{"orchestrationInstance", "workflowInstance"} { // microsoft, dapr
		if oi, ok := field(r, name); ok {
			if v, ok := field(oi.Message(), "instanceId"); ok {
				iid = v.String()
			}
		}
	}
	a.mu.Lock()
	a.pending[key] = append(a.pending[key], iid)
	a.mu.Unlock()
}

// take is the instance id of the oldest delivered request with these values (nil if none was seen).
func (a *activityInstances) take(name string, task int64, input string) any {
	key := activityKey{name, task, input}
	a.mu.Lock()
	defer a.mu.Unlock()
	q := a.pending[key]
	if len(q) == 0 {
		logf("activity %s (task %d) ran without a delivered request seen: instance id unknown", name, task)
		return nil
	}
	a.pending[key] = q[1:]
	if len(q) == 1 {
		delete(a.pending, key)
	}
	return q[0]
}
