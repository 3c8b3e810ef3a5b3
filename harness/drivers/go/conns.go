package main

// The connections the driver builds for the SDK (Go's SDK only takes a caller-built
// *grpc.ClientConn, so every channel here is caller-owned), and the observation on them:
// channel_created/channel_closed, and rpc_start/rpc_done from client interceptors installed on
// the conn at dial time. The interceptors only read: they call the invoker/streamer as given and
// hand the SDK the real stream, wrapped in a type that forwards every method and notes the end.

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

var channelIDs atomic.Int64

// observedConn is one caller-owned connection and what the driver says about it.
type observedConn struct {
	conn   *grpc.ClientConn
	id     int64
	role   string
	once   sync.Once
	onItem func(msg any) // sees every message received on a GetWorkItems stream (nil: nobody)
}

// dial builds an insecure connection to address for role ("worker", "client:<id>") and reports it.
// grpc.Dial does not connect here: the first call does, so a closed port is the SDK's problem.
func dial(address, role string, onItem func(msg any)) (*observedConn, error) {
	oc := &observedConn{id: channelIDs.Add(1), role: role, onItem: onItem}
	conn, err := grpc.Dial(address,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(oc.unary),
		grpc.WithChainStreamInterceptor(oc.stream))
	if err != nil {
		return nil, failure("DialError", "grpc.Dial(%s): %v", address, err)
	}
	oc.conn = conn
	emit("channel_created", map[string]any{"channel_id": oc.id, "target": address, "channel_kind": "sync",
		"owner": "caller", "role": role, "options": [][]any{}, "secure": false})
	return oc, nil
}

// close closes the connection once and reports it.
func (oc *observedConn) close() {
	oc.once.Do(func() {
		if err := oc.conn.Close(); err != nil {
			logf("closing channel %d: %v", oc.id, err)
		}
		emit("channel_closed", map[string]any{"channel_id": oc.id, "role": oc.role})
	})
}

func splitMethod(path string) string { return path[strings.LastIndex(path, "/")+1:] }

// rpcCode is the status name of a call's end, as the protocol spells it (OK, UNAVAILABLE, ...).
func rpcCode(err error) (string, string) {
	if err == nil || errors.Is(err, io.EOF) {
		return "OK", ""
	}
	st, _ := status.FromError(err)
	if st.Code() == codes.Unknown {
		if ce := status.FromContextError(err); ce.Code() != codes.Unknown {
			st = ce
		}
	}
	return codeName(st.Code()), st.Message()
}

// codeNames are the canonical gRPC status names the protocol uses (grpc-go spells them
// CamelCase, and Canceled with one L).
var codeNames = map[codes.Code]string{codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN",
	codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED", codes.NotFound: "NOT_FOUND",
	codes.AlreadyExists: "ALREADY_EXISTS", codes.PermissionDenied: "PERMISSION_DENIED",
	codes.ResourceExhausted: "RESOURCE_EXHAUSTED", codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted: "ABORTED", codes.OutOfRange: "OUT_OF_RANGE", codes.Unimplemented: "UNIMPLEMENTED",
	codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE", codes.DataLoss: "DATA_LOSS",
	codes.Unauthenticated: "UNAUTHENTICATED"}

func codeName(c codes.Code) string {
	if name, ok := codeNames[c]; ok {
		return name
	}
	return c.String()
}

func (oc *observedConn) done(path string, t0 float64, err error) {
	code, details := rpcCode(err)
	emit("rpc_done", map[string]any{"method": splitMethod(path), "path": path, "role": oc.role,
		"channel_id": oc.id, "code": code, "details": details, "elapsed": monotonic() - t0})
}

func (oc *observedConn) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	t0 := monotonic()
	err := invoker(ctx, method, req, reply, cc, opts...)
	oc.done(method, t0, err)
	return err
}

func (oc *observedConn) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
	streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	t0 := monotonic()
	if desc.ServerStreams {
		emitAt("rpc_start", t0, map[string]any{"method": splitMethod(method), "path": method, "role": oc.role,
			"channel_id": oc.id})
	}
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		oc.done(method, t0, err)
		return nil, err
	}
	w := &watchedStream{ClientStream: cs, oc: oc, path: method, t0: t0, ended: make(chan struct{})}
	if splitMethod(method) == "GetWorkItems" {
		w.onItem = oc.onItem
	}
	// A stream nobody reads to its end still ends when its context does (grpc-go finishes it then).
	go func() {
		select {
		case <-ctx.Done():
			w.end(ctx.Err())
		case <-w.ended:
		}
	}()
	return w, nil
}

// watchedStream is the SDK's stream, unchanged, with its first error (or EOF) noted once.
type watchedStream struct {
	grpc.ClientStream
	oc     *observedConn
	path   string
	t0     float64
	onItem func(msg any)
	once   sync.Once
	ended  chan struct{}
}

func (w *watchedStream) end(err error) {
	w.once.Do(func() {
		close(w.ended)
		w.oc.done(w.path, w.t0, err)
	})
}

func (w *watchedStream) RecvMsg(m any) error {
	err := w.ClientStream.RecvMsg(m)
	if err != nil {
		w.end(err)
	} else if w.onItem != nil {
		w.onItem(m)
	}
	return err
}
