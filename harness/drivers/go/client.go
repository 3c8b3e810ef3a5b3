package main

// create_client / client_call / close_client. The Go SDK's client is a TaskHubGrpcClient on a
// connection the caller built; it has no close of its own and no asyncio-style variant.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/status"
)

type clientEntry struct {
	c        *sdkClient
	conn     *observedConn
	metadata [][]string
}

var (
	clientsMu sync.Mutex
	clients   = map[string]*clientEntry{}
)

func cmdCreateClient(raw []byte) (any, error) {
	var a createClientArgs
	if err := decodeArgs(raw, &a); err != nil {
		return nil, err
	}
	if a.Kind == "async" {
		return nil, unsupported("an asyncio client", "async_client")
	}
	if a.Kind != "" && a.Kind != "sync" {
		return nil, failure("BadArgs", "kind must be 'sync' or 'async', not %q", a.Kind)
	}
	if err := checkConnArgs(a.connArgs, "client_resiliency_options"); err != nil {
		return nil, err
	}
	clientsMu.Lock()
	defer clientsMu.Unlock()
	if _, ok := clients[a.ID]; ok {
		return nil, failure("ClientExists", "client %q exists", a.ID)
	}
	oc, err := dial(a.Address, "client:"+a.ID, nil)
	if err != nil {
		return nil, err
	}
	clients[a.ID] = &clientEntry{newSDKClient(oc, &sdkLogger{name: "durabletask-client"}), oc, a.Metadata}
	return map[string]any{"created": true}, nil
}

// errorOutcome is an SDK error as the protocol's outcome. The caller's own timeout (the context's
// deadline, Go's way of giving a call a timeout) is the protocol's "TimeoutError"; an error that
// carries a gRPC status is an "RpcError" with its code. go_type keeps Go's own type name.
func errorOutcome(err error) map[string]any {
	res := map[string]any{"outcome": "error", "message": err.Error(), "grpc_code": nil,
		"go_type": fmt.Sprintf("%T", err)}
	var withStatus interface{ GRPCStatus() *status.Status }
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		res["exc_type"] = "TimeoutError"
	case errors.Is(err, context.Canceled):
		res["exc_type"] = "Canceled"
	case errors.As(err, &withStatus):
		res["exc_type"] = "RpcError"
		code, details := rpcCode(err)
		res["grpc_code"], res["details"] = code, details
	default:
		res["exc_type"] = fmt.Sprintf("%T", err)
	}
	return res
}

func cmdClientCall(raw []byte) (any, error) {
	var a opArgs
	if err := decodeArgs(raw, &a); err != nil {
		return nil, err
	}
	clientsMu.Lock()
	entry := clients[a.ID]
	clientsMu.Unlock()
	if entry == nil {
		return nil, failure("NoClient", "no client %q", a.ID)
	}
	ctx := withMetadata(context.Background(), entry.metadata)
	if a.Op == "wait_start" || a.Op == "wait_completion" {
		timeout := 60.0 // the Python driver's default; the Go SDK has none (it waits as long as ctx lets it)
		if a.Timeout != nil {
			timeout = *a.Timeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(timeout*float64(time.Second)))
		defer cancel()
	}
	t0 := monotonic()
	value, err := entry.c.clientOp(ctx, a.Op, a)
	elapsed := monotonic() - t0
	var ce *cmdError
	if errors.As(err, &ce) {
		return nil, ce
	}
	var res map[string]any
	if err != nil {
		res = errorOutcome(err)
	} else {
		res = map[string]any{"outcome": "ok", "value": value}
	}
	res["elapsed"] = elapsed
	ev := map[string]any{"client_id": a.ID, "op": a.Op, "instance_id": nullable(a.InstanceID)}
	for k, v := range res {
		if k != "value" {
			ev[k] = v
		}
	}
	emit("client_call_done", ev)
	return res, nil
}

func closeClient(id string) error {
	clientsMu.Lock()
	entry := clients[id]
	delete(clients, id)
	clientsMu.Unlock()
	if entry == nil {
		return failure("NoClient", "no client %q", id)
	}
	// The SDK's client has nothing to close: the connection is the caller's. client_closed comes
	// first, so a channel_closed before it would have been the SDK's doing.
	emit("client_closed", map[string]any{"client_id": id, "elapsed": 0.0})
	entry.conn.close()
	return nil
}

func cmdCloseClient(raw []byte) (any, error) {
	var a struct {
		ID string `json:"id"`
	}
	if err := decodeArgs(raw, &a); err != nil {
		return nil, err
	}
	if err := closeClient(a.ID); err != nil {
		return nil, err
	}
	return map[string]any{"closed": true}, nil
}
