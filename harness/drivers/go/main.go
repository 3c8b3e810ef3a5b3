// Command driver is the conformance driver for the Go Durable Task SDK (driver protocol 1, see
// ../PROTOCOL.md): it runs the SDK in this process and answers JSON-line commands on stdin.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"
)

type handler func(args []byte) (any, error)

var handlers = map[string]handler{
	"hello": cmdHello, "start_worker": cmdStartWorker, "stop_worker": cmdStopWorker,
	"create_client": cmdCreateClient, "client_call": cmdClientCall, "close_client": cmdCloseClient,
	"connections":       func([]byte) (any, error) { return map[string]any{"connections": ownTCPSockets()}, nil },
	"defaults_in_force": cmdDefaultsInForce,
}

// Cheap commands answered on the reading goroutine; the rest run concurrently (PROTOCOL.md §1).
var inline = map[string]bool{"hello": true, "connections": true}

type request struct {
	ID   json.RawMessage `json:"id"`
	Cmd  string          `json:"cmd"`
	Args json.RawMessage `json:"args"`
}

func handle(req request) {
	h, ok := handlers[req.Cmd]
	var result any
	var err error
	if !ok {
		err = failure("UnknownCommand", "unknown command %q", req.Cmd)
	} else {
		result, err = runGuarded(req.Cmd, h, req.Args)
	}
	if err == nil {
		send(map[string]any{"id": req.ID, "ok": true, "result": result})
		return
	}
	ce, isCmd := err.(*cmdError)
	if !isCmd {
		ce = &cmdError{Type: fmt.Sprintf("%T", err), Message: err.Error()}
	}
	e := map[string]any{"type": ce.Type, "message": ce.Message, "unsupported": ce.Unsupported}
	if ce.Capability != "" {
		e["capability"] = ce.Capability
	}
	send(map[string]any{"id": req.ID, "ok": false, "error": e})
}

// runGuarded turns a panic in a command (ours or the SDK's) into that command's error.
func runGuarded(cmd string, h handler, args []byte) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			logf("command %s panicked: %v", cmd, r)
			err = failure("Panic", "%s: %v", cmd, r)
		}
	}()
	return h(args)
}

// cleanup stops the worker and closes the clients, giving up after bound: a wedged SDK must not
// keep the process alive (the caller exits regardless).
func cleanup(bound time.Duration) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := stopWorker(); err != nil {
			logf("stop during shutdown: %v", err)
		}
		clientsMu.Lock()
		ids := make([]string, 0, len(clients))
		for id := range clients {
			ids = append(ids, id)
		}
		clientsMu.Unlock()
		for _, id := range ids {
			_ = closeClient(id)
		}
	}()
	select {
	case <-done:
	case <-time.After(bound):
		logf("cleanup did not finish within %s; exiting anyway", bound)
	}
}

func main() {
	shutdownBound := flag.Float64("shutdown-bound", 5, "seconds to wait for worker/clients on shutdown before exiting anyway")
	printVersion := flag.Bool("version", false, "print the linked SDK's module version and exit")
	flag.Parse()
	if *printVersion {
		fmt.Println(sdkVersion())
		return
	}
	if err := reserveStdout(); err != nil {
		fmt.Fprintf(os.Stderr, "[driver] %v\n", err)
		os.Exit(2)
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil || len(req.ID) == 0 || req.Cmd == "" {
			logf("bad request line %.200q: %v", in.Text(), err)
			continue
		}
		if req.Cmd == "shutdown" {
			var a struct {
				Timeout *float64 `json:"timeout"`
			}
			_ = json.Unmarshal(req.Args, &a)
			bound := *shutdownBound
			if a.Timeout != nil {
				bound = *a.Timeout
			}
			cleanup(time.Duration(bound * float64(time.Second)))
			send(map[string]any{"id": req.ID, "ok": true, "result": map[string]any{"bye": true}})
			os.Exit(0)
		}
		if inline[req.Cmd] {
			handle(req)
		} else {
			go handle(req)
		}
	}
	// stdin closed: the harness is gone. Clean up briefly, then leave no matter what.
	logf("stdin closed; exiting")
	cleanup(time.Duration(min(*shutdownBound, 2.0) * float64(time.Second)))
	os.Exit(0)
}
