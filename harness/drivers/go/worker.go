package main

// start_worker / stop_worker. The Go SDK's worker is TaskHubGrpcClient.StartWorkItemListener on a
// connection the caller built; it has no stop call: cancelling the context it was given is how a Go
// caller stops it, so that is what stop_worker does (and then closes the driver's connection).

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc/metadata"
)

type workerState struct {
	mu     sync.Mutex
	busy   bool // a worker is starting or running
	cancel context.CancelFunc
	conn   *observedConn
}

var theWorker workerState

// checkConnArgs refuses what the Go SDK cannot be given: it takes a ready connection and a logger,
// nothing else. The metadata is a Go caller's to attach through the context the SDK is given.
func checkConnArgs(a connArgs, resiliencyCapability string) error {
	switch a.Channel {
	case "", "sdk", "caller":
		// The SDK builds no channel: for either mode the caller (this driver) builds it.
	default:
		return failure("BadArgs", "channel must be 'sdk' or 'caller', not %q", a.Channel)
	}
	if given(a.Resiliency) {
		what := "worker resiliency options"
		if resiliencyCapability == "client_resiliency_options" {
			what = "client resiliency options"
		}
		return unsupported(what, resiliencyCapability)
	}
	if given(a.ChannelOptions) {
		return unsupported("channel_options (the SDK builds no channel)", "channel_options")
	}
	if a.Secure {
		return unsupported("secure (the SDK builds no channel)", "secure_channel")
	}
	if len(a.InterceptorMetadata) > 0 {
		return unsupported("interceptors", "interceptors")
	}
	return nil
}

func withMetadata(ctx context.Context, pairs [][]string) context.Context {
	kv := []string{}
	for _, p := range pairs {
		if len(p) == 2 {
			kv = append(kv, p[0], p[1])
		}
	}
	if len(kv) == 0 {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

func cmdStartWorker(raw []byte) (any, error) {
	var a startWorkerArgs
	if err := decodeArgs(raw, &a); err != nil {
		return nil, err
	}
	if err := checkConnArgs(a.connArgs, "resiliency_options"); err != nil {
		return nil, err
	}
	if len(a.Concurrency) > 0 {
		return nil, unsupported("concurrency options", "concurrency_options")
	}
	theWorker.mu.Lock()
	if theWorker.busy {
		theWorker.mu.Unlock()
		return nil, failure("WorkerRunning", "a worker is already running; stop_worker first")
	}
	ids := newActivityInstances()
	oc, err := dial(a.Address, "worker", ids.seen)
	if err != nil {
		theWorker.mu.Unlock()
		return nil, err
	}
	ctx, cancel := context.WithCancel(withMetadata(context.Background(), a.Metadata))
	theWorker.busy, theWorker.cancel, theWorker.conn = true, cancel, oc
	theWorker.mu.Unlock()

	// Blocks until the first Hello and GetWorkItems are through: the SDK's start call.
	if err := startListener(ctx, newSDKClient(oc, &sdkLogger{name: "durabletask-worker"}), a.workSpec, ids); err != nil {
		cancel()
		oc.close()
		theWorker.mu.Lock()
		theWorker.busy, theWorker.cancel, theWorker.conn = false, nil, nil
		theWorker.mu.Unlock()
		if ce, ok := err.(*cmdError); ok {
			return nil, ce
		}
		code, _ := rpcCode(err)
		return nil, failure("StartWorkItemListenerError", "the SDK's StartWorkItemListener failed (%s): %v", code, err)
	}
	emit("worker_started", map[string]any{"address": a.Address, "channel": channelMode(a.Channel)})
	return map[string]any{"started": true}, nil
}

func channelMode(c string) string {
	if c == "" {
		return "sdk"
	}
	return c
}

// stopWorker cancels the listener's context (the SDK's stop) and then closes the connection, which
// is the driver's: the SDK never closes it.
func stopWorker() (float64, error) {
	theWorker.mu.Lock()
	cancel, oc := theWorker.cancel, theWorker.conn
	if !theWorker.busy || cancel == nil {
		theWorker.mu.Unlock()
		return 0, failure("NoWorker", "no worker is running")
	}
	theWorker.busy, theWorker.cancel, theWorker.conn = false, nil, nil
	theWorker.mu.Unlock()
	t0 := monotonic()
	cancel()
	elapsed := monotonic() - t0
	oc.close()
	emit("worker_stopped", map[string]any{"elapsed": elapsed})
	return elapsed, nil
}

func cmdStopWorker(raw []byte) (any, error) {
	var a struct {
		Timeout *float64 `json:"timeout"`
	}
	if err := decodeArgs(raw, &a); err != nil {
		return nil, err
	}
	timeout := 30.0
	if a.Timeout != nil {
		timeout = *a.Timeout
	}
	type result struct {
		elapsed float64
		err     error
	}
	done := make(chan result, 1)
	go func() {
		e, err := stopWorker()
		done <- result{e, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, r.err
		}
		return map[string]any{"elapsed": r.elapsed}, nil
	case <-time.After(time.Duration(timeout * float64(time.Second))):
		return nil, failure("StopTimeout", "stopping the worker did not finish within %gs", timeout)
	}
}
