package main

// The protocol's output side (../PROTOCOL.md §1): one JSON object per line on the protocol fd,
// events stamped with CLOCK_MONOTONIC seconds, the clock Python's time.monotonic() reads.

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

const protocolVersion = 1

var (
	protoOut *os.File // the real stdout, moved aside by reserveStdout
	outMu    sync.Mutex
)

// reserveStdout keeps fd 1 for the protocol only: the protocol writes to a duplicate of it, and
// fd 1 itself is pointed at stderr, so a stray print (ours, the SDK's, grpc's) can never corrupt
// the protocol stream.
func reserveStdout() error {
	fd, err := unix.Dup(1)
	if err != nil {
		return fmt.Errorf("dup stdout: %w", err)
	}
	if err := unix.Dup3(2, 1, 0); err != nil {
		return fmt.Errorf("point fd 1 at stderr: %w", err)
	}
	unix.CloseOnExec(fd)
	protoOut = os.NewFile(uintptr(fd), "protocol-out")
	os.Stdout = os.Stderr
	return nil
}

// monotonic is CLOCK_MONOTONIC in seconds. Go's time package keeps a monotonic reading too, but
// not on this clock's epoch; the harness compares our stamps with its own time.monotonic().
func monotonic() float64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(fmt.Sprintf("clock_gettime(CLOCK_MONOTONIC): %v", err))
	}
	return float64(ts.Sec) + float64(ts.Nsec)/1e9
}

func send(obj map[string]any) {
	line, err := json.Marshal(obj)
	if err != nil {
		logf("cannot encode %v: %v", obj, err)
		return
	}
	outMu.Lock()
	defer outMu.Unlock()
	if _, err := protoOut.Write(append(line, '\n')); err != nil {
		// The harness is gone: nobody can stop us any more, so leave now.
		os.Exit(0)
	}
}

// emit sends an unsolicited event timed now.
func emit(kind string, data map[string]any) { emitAt(kind, monotonic(), data) }

// emitAt sends an event that happened at t (CLOCK_MONOTONIC seconds).
func emitAt(kind string, t float64, data map[string]any) {
	send(map[string]any{"event": kind, "t": t, "data": data})
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[driver] "+format+"\n", args...)
}

// cmdError is a command's failure as the protocol reports it (ok=false).
type cmdError struct {
	Type        string
	Message     string
	Unsupported bool
	Capability  string // with Unsupported: the capability (PROTOCOL.md) the build lacks
}

func (e *cmdError) Error() string { return e.Message }

func failure(typ, format string, args ...any) *cmdError {
	return &cmdError{Type: typ, Message: fmt.Sprintf(format, args...)}
}

// unsupported says this SDK build has no such feature, naming it, the build and the capability.
func unsupported(what, capability string) *cmdError {
	return &cmdError{Type: "Unsupported", Message: fmt.Sprintf("%s is not supported by %s %s", what, sdkModule, sdkVersion()),
		Unsupported: true, Capability: capability}
}
