package main

// hello and defaults_in_force: what this build is, what it can do, and the values it runs with.
// Capabilities are fixed by the SDK's API this driver compiles against (a build whose API differs
// does not compile); the version and the backoff come from the linked build itself.

import (
	"os"
	"runtime"
	"runtime/debug"
)

// Set with -ldflags -X by the harness for builds from a local checkout (git describe of it).
var buildSdkVersion string

// sdkVersion is the SDK module's version as linked into this binary.
func sdkVersion() string {
	if buildSdkVersion != "" {
		return buildSdkVersion
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == sdkModule {
				return dep.Version
			}
		}
	}
	return "unknown"
}

// sdkReplacedBy is the local checkout the SDK module was replaced with ("" for a registry build).
func sdkReplacedBy() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == sdkModule && dep.Replace != nil {
				return dep.Replace.Path
			}
		}
	}
	return ""
}

func capabilities() map[string]bool {
	return map[string]bool{
		// The SDK has no resiliency options: only the reconnect backoff, constructed inside it.
		"resiliency_options":        false,
		"client_resiliency_options": false,
		"channel":                   true,  // NewTaskHubGrpcClient takes the caller's grpc.ClientConnInterface
		"sdk_channel":               false, // ... and that is the only way: it never builds a channel
		"channel_options":           false,
		"async_client":              false,
		"logger":                    true, // NewTaskHubGrpcClient takes a backend.Logger
		"interceptors":              false,
		"metadata":                  true, // outgoing metadata rides the context the SDK is given, on every call
		"secure_channel":            false,
		"concurrency_options":       false,
		"history_stream":            false, // no StreamInstanceHistory in the client
		"rpc_observer":              true,  // interceptors on the connection the driver builds
		"aio_rpc_observer":          false,
	}
}

// workerDefaults are the worker's reconnect settings under the protocol's names, read from the
// backoff the SDK constructs. The SDK has no Hello timeout, silent-disconnect timer or channel
// recreation, so those fields are absent (the harness then uses the design's, and says so).
func workerDefaults() map[string]any {
	b := sdkReconnectBackoff()
	return map[string]any{
		"reconnect_backoff_base_seconds": b.InitialInterval.Seconds(),
		"reconnect_backoff_cap_seconds":  b.MaxInterval.Seconds(),
	}
}

// reconnectBackoff is the whole backoff as the SDK builds it: its growth and jitter do not fit the
// protocol's base/cap, and the cap applies before the jitter (cenkalti/backoff).
func reconnectBackoff() map[string]any {
	b := sdkReconnectBackoff()
	return map[string]any{
		"library": "github.com/cenkalti/backoff/v4 ExponentialBackOff", "initial_interval_seconds": b.InitialInterval.Seconds(),
		"multiplier": b.Multiplier, "randomization_factor": b.RandomizationFactor,
		"max_interval_seconds": b.MaxInterval.Seconds(), "max_elapsed_time_seconds": b.MaxElapsedTime.Seconds(),
		"longest_sleep_seconds": b.MaxInterval.Seconds() * (1 + b.RandomizationFactor),
	}
}

func cmdHello([]byte) (any, error) {
	return map[string]any{
		"protocol": protocolVersion, "sdk": sdkName, "sdk_version": sdkVersion(), "language": "go",
		"runtime":      runtime.Version(),
		"capabilities": capabilities(),
		"options":      map[string]any{"worker": nil, "client": nil}, // no option classes
		"defaults":     map[string]any{"worker": workerDefaults(), "client": map[string]any{}},
		"pid":          os.Getpid(), "sdk_module": sdkModule, "sdk_path": nullable(sdkReplacedBy()),
		"reconnect_backoff": reconnectBackoff(),
	}, nil
}

func cmdDefaultsInForce([]byte) (any, error) {
	// The worker builds this backoff afresh for every outage; nothing else is configurable. The
	// client's long polls have no timeout of their own (they wait as long as the caller's context).
	return map[string]any{"worker": workerDefaults(), "client": nil,
		"client_long_poll_timeout_seconds": nil, "client_retire_grace_seconds": nil}, nil
}
