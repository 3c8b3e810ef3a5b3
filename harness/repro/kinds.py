"""Every fault, action and check a scenario file can use, each declared ONCE: its name, group, doc,
fields (with types, defaults and docs) and what it does -- ``apply`` (steps.py) for a fault or an
action, ``evaluate`` (expect.py) for a check, plus the few flags in ``model.Kind``.

Validation and scaling (schema.py), the runner (runner.py), the checks (expect.py via each
Expect's kind) and ``python -m harness repro --vocabulary`` all read these tables; adding a kind is
one entry here plus its small function.
"""

from __future__ import annotations

from harness.net.h2proxy.faults import DIRECTIONS as H2_DIRECTIONS
from harness.net.h2proxy.frames import ERROR_CODES as H2_ERROR_CODES
from harness.repro import expect, steps
from harness.repro.model import METHODS, STATUS_CODES, STREAM_DIRS, WITHIN_NAMES, F, Kind


def _stream(default: str = "both") -> F:
    return F("choice", "which direction: client->server (upstream), server->client (downstream) or both",
             default=default, choices=STREAM_DIRS)


_FOR = F("time", "how long the fault lasts; omitted = until the scenario ends")

NETWORK = [
    Kind("blackhole", "network", "Toxiproxy `timeout` toxic with timeout=0: bytes are dropped, the TCP "
         "connection stays open. Clearing it CLOSES the connections it was on (Toxiproxy).",
         {"stream": _stream(), "for": _FOR},
         apply=steps.blackhole),
    Kind("latency", "network", "Toxiproxy `latency` toxic: every chunk is delayed by latency_s +- jitter_s.",
         {"latency_s": F("time", "delay per chunk", required=True),
          "jitter_s": F("time", "random +- jitter", default=0.0), "stream": _stream("downstream"), "for": _FOR},
         apply=steps.latency),
    Kind("bandwidth", "network", "Toxiproxy `bandwidth` toxic (not scaled: a rate is not a time).",
         {"rate_kbps": F("int", "KB/s (1 KB = 1000 bytes)", required=True), "stream": _stream("downstream"),
          "for": _FOR},
         apply=steps.bandwidth),
    Kind("limit_data", "network", "Toxiproxy `limit_data` toxic: forward `bytes` more bytes per connection, "
         "then close it.", {"bytes": F("int", "bytes", required=True), "stream": _stream("downstream"),
                            "for": _FOR},
         apply=steps.limit_data),
    Kind("slow_close", "network", "Toxiproxy `slow_close` toxic: hold a close (FIN) for delay_s.",
         {"delay_s": F("time", "delay", required=True), "stream": _stream("downstream"), "for": _FOR},
         apply=steps.slow_close),
    Kind("reset_peer", "network", "Toxiproxy `reset_peer` toxic. An RST only for connections accepted while "
         "it exists; an ESTABLISHED connection gets a FIN on its next chunk (measured; harness/net/link.py). "
         "For an RST on the live connection use tcp_reset.",
         {"timeout_s": F("time", "wait this long after the next chunk, then close", default=0.0),
          "stream": _stream("downstream"), "for": _FOR},
         apply=steps.reset_peer),
    Kind("tcp_reset", "network", "a real TCP RST on every established connection of the SDK process to the "
         "proxy (`ss -K`; needs root).", {},
         apply=steps.tcp_reset),
    Kind("conn_blackhole", "network", "the SDK's CURRENT connection(s) to the proxy black-holed in the kernel "
         "(iptables DROP on each 4-tuple, harness/net/conn.py): nothing arrives, nothing is closed, no RST or "
         "FIN; NEW connections get through at once -- the idle flow a load balancer forgot. When `for` ends "
         "the rules are removed and the old connection resumes at TCP's next retransmission (it is not "
         "closed, unlike `blackhole`). Needs root and iptables; the SDK must be connected when it begins.",
         {"stream": F("choice", "which direction is dropped: client->server (upstream), server->client "
                      "(downstream) or both", default="both", choices=STREAM_DIRS), "for": _FOR},
         apply=steps.conn_blackhole),
    Kind("conn_reset", "network", "a real TCP RST on the SDK's CURRENT connection(s) to the proxy only "
         "(`ss -K` on each 4-tuple, harness/net/conn.py); connections opened later are untouched. "
         "side=\"server\": the proxy's socket is destroyed and the SDK receives the RST (like tcp_reset); "
         "side=\"client\": the SDK's own socket is destroyed (its next read fails at once, the proxy "
         "receives the RST). Needs root.",
         {"side": F("choice", "whose socket is destroyed", default="server", choices=("server", "client"))},
         apply=steps.conn_reset),
    Kind("down", "network", "Toxiproxy proxy disabled: connections closed now, new ones refused "
         "(ECONNREFUSED) until `for` ends.", {"for": _FOR},
         apply=steps.down),
]
SERVER = [
    Kind("abort_stream", "server", "the fake ends every open GetWorkItems stream now with grpc-status `code` "
         "and grpc-message `message` (trailers-only HEADERS with END_STREAM).",
         {"code": F("choice", "grpc status", required=True, choices=STATUS_CODES),
          "message": F("str", "grpc-message", default="")},
         apply=steps.abort_stream),
    Kind("end_stream_ok", "server", "the fake ends every open GetWorkItems stream now with status OK.",
         {"message": F("str", "recorded reason", default="")},
         apply=steps.end_stream_ok),
    Kind("goaway", "server", "graceful drain like a DTS rolling upgrade: with `handover` a new server "
         "generation listens on the same port first; open streams end with OK, then HTTP/2 GOAWAY and the old "
         "server stops after grace_s.",
         {"grace_s": F("time", "drain grace", default=1.0), "handover": F("bool", "no refused connects", default=True)},
         apply=steps.goaway, ends_itself=True),
    Kind("restart_server", "server", "hard server restart: every connection drops (UNAVAILABLE); with `for` "
         "the port refuses connections for that long before the new server listens.",
         {"grace_s": F("time", "stop grace", default=0.0), "for": F("time", "downtime", default=0.0)},
         apply=steps.restart_server),
    Kind("idle_cutoff", "server", "a load balancer rule: any GetWorkItems stream idle for after_s (no message "
         "since its last one, or since it started with since=\"stream_start\") is ended with `code`/`message` "
         "(ACA: UNKNOWN 'stream timeout' at 240 s). Applies to every stream while in force.",
         {"after_s": F("time", "idle time before the cut", required=True),
          "code": F("choice", "grpc status of the cut", default="UNKNOWN", choices=STATUS_CODES),
          "message": F("str", "grpc-message", default="stream timeout"),
          "since": F("choice", "what resets the idle clock", default="last_message",
                     choices=("last_message", "stream_start")),
          "for": _FOR},
         apply=steps.idle_cutoff),
    Kind("stop_health_pings", "server", "the fake stops sending HealthPing messages (resumes after `for`).",
         {"for": _FOR},
         apply=steps.stop_health_pings),
    Kind("health_pings", "server", "the fake sends a HealthPing every every_s on idle streams.",
         {"every_s": F("time", "cadence", required=True)},
         apply=steps.health_pings),
    Kind("hang", "server", "calls of `method` get no answer (streams: no headers, no messages) until the "
         "client gives up.", {"method": F("choice", "RPC", required=True, choices=METHODS),
                              "count": F("int", "how many calls (0 = every call while in force)", default=1),
                              "for": _FOR},
         apply=steps.hang),
    Kind("reject", "server", "calls of `method` are answered at once with `code` (streams: before any message).",
         {"method": F("choice", "RPC", required=True, choices=METHODS),
          "code": F("choice", "grpc status", default="UNAVAILABLE", choices=STATUS_CODES),
          "message": F("str", "grpc-message", default="injected"),
          "count": F("int", "how many calls (0 = every call while in force)", default=1), "for": _FOR},
         apply=steps.reject),
    Kind("long_poll_cutoff", "server", "WaitForInstanceCompletion/WaitForInstanceStart calls that are still "
         "waiting after_s after they started are ended with `code` (DTS: 504 -> DEADLINE_EXCEEDED at 240 s).",
         {"after_s": F("time", "cut after", required=True),
          "code": F("choice", "grpc status", default="DEADLINE_EXCEEDED", choices=STATUS_CODES),
          "message": F("str", "grpc-message", default="idle request limit"),
          "count": F("int", "how many calls (0 = every call while in force)", default=0), "for": _FOR},
         apply=steps.long_poll_cutoff),
]
# The HTTP/2 frame-level fault proxy (harness/net/h2proxy) sits between Toxiproxy and the fake in a run
# whose file uses one of these (``needs=("h2proxy",)``): real frames on the wire, each one recorded.
_H2_CODE = F("choice", "HTTP/2 error code (RFC 9113 §7)", default="CANCEL", choices=tuple(H2_ERROR_CODES))
FRAMES = [
    Kind("rst_stream", "http2", "a real HTTP/2 RST_STREAM(error_code) to the SDK on the oldest open stream of "
         "`method` (the fake's half is cancelled), as a load balancer or DTS sends it. With after_headers only "
         "once the stream's response HEADERS went out (AGC: NO_ERROR after the headers). grpc-core reports "
         "CANCEL as CANCELLED, NO_ERROR/PROTOCOL_ERROR/INTERNAL_ERROR as INTERNAL, REFUSED_STREAM as "
         "UNAVAILABLE, ENHANCE_YOUR_CALM as RESOURCE_EXHAUSTED (measured through the proxy).",
         {"method": F("choice", "which RPC's stream", default="GetWorkItems", choices=METHODS),
          "error_code": _H2_CODE,
          "after_headers": F("bool", "wait until the stream's response headers were sent", default=True)},
         apply=steps.rst_stream, needs=("h2proxy",)),
    Kind("h2_goaway", "http2", "a real HTTP/2 GOAWAY(last_stream_id, error_code, debug) to every SDK connection; "
         "streams above last_stream_id are refused from then on (ENHANCE_YOUR_CALM + debug \"too_many_pings\" "
         "is what a keepalive policy sends). For a server's own graceful drain use `goaway`.",
         {"error_code": F("choice", "HTTP/2 error code", default="NO_ERROR", choices=tuple(H2_ERROR_CODES)),
          "last_stream_id": F("int", "last stream the server will process; omitted = the highest the SDK opened"),
          "debug": F("str", "GOAWAY debug data", default=""),
          "close": F("bool", "close the connection right after", default=False)},
         apply=steps.h2_goaway, needs=("h2proxy",)),
    Kind("withhold_pings", "http2", "PING frames from the SDK are never acknowledged (a peer or middlebox that "
         "stopped answering); an SDK with HTTP/2 keepalive gives the connection up after its keepalive timeout.",
         {"for": _FOR}, apply=steps.withhold_pings, needs=("h2proxy",)),
    Kind("keepalive_policy", "http2", "enforce grpc-core's server keepalive policy: a PING sooner than "
         "min_ping_interval_ms after the previous one (or on a connection without calls, unless "
         "permit_without_calls) is a strike; more than max_strikes -> GOAWAY(ENHANCE_YOUR_CALM, "
         "\"too_many_pings\") and the connection closes, as a real gRPC server does (daprd: min 8 s, "
         "permit without calls). Intervals are NOT scaled: the SDK's keepalive timer is real time.",
         {"min_ping_interval_ms": F("int", "grpc.http2.min_ping_interval_without_data_ms", default=300000),
          "max_strikes": F("int", "grpc.http2.max_ping_strikes (0 = unlimited)", default=2),
          "permit_without_calls": F("bool", "grpc.keepalive_permit_without_calls", default=False),
          "for": _FOR},
         apply=steps.keepalive_policy, needs=("h2proxy",)),
    Kind("stall_stream", "http2", "hold every frame of the `method` streams in `direction` while other streams "
         "(and PING acks) flow: one stream silent on a live connection.",
         {"method": F("choice", "which RPC's streams", default="GetWorkItems", choices=METHODS),
          "direction": F("choice", "to_sdk, to_fake or both", default="both", choices=H2_DIRECTIONS),
          "for": _FOR},
         apply=steps.stall_stream, needs=("h2proxy",)),
]
ACTIONS = [
    Kind("stop_worker", "action", "the app stops the worker (worker.stop()); the step ends when stop() "
         "returns (the harness waits up to 30 s, not scaled: it is a bound, not a behaviour).", {},
         apply=steps.stop_worker, ends_itself=True),
    Kind("start_worker", "action", "the app starts the worker (again).", {},
         apply=steps.start_worker),
    Kind("queue_activities", "action", "the server queues standalone activities (work for the worker).",
         {"count": F("int", "how many", default=1), "duration_s": F("time", "each one's run time", default=0.0)},
         apply=steps.queue_activities, activities=steps.queue_activities_defs),
    Kind("probe", "action", "the server queues one instant probe activity (a working stream completes it).", {},
         apply=steps.probe),
    Kind("client_calls", "action", "the app's client (sync or async, on an SDK-owned or a caller-owned "
         "channel, with fixed call metadata) makes `count` calls of `op` one after the other, in the "
         "background; ops on an instance are about one orchestration the client schedules first. The "
         "client is created at the step's first occurrence ([client_options] apply) and reused by its "
         "repetitions; every outcome (a result or an SDK exception) is recorded (driver client_call_done).",
         {"op": F("choice", "the client operation (harness/drivers/PROTOCOL.md client_call ops)", required=True,
                  choices=steps.CLIENT_OPS),
          "count": F("int", "calls per occurrence", default=1),
          "client": F("choice", "the client flavour", default="sync", choices=("sync", "async")),
          "channel": F("choice", "who owns the channel", default="sdk", choices=("sdk", "caller")),
          "metadata": F("list", "fixed call metadata, \"key=value\" each", default=[]),
          "timeout_s": F("time", "the SDK timeout of wait_start / wait_completion", default=5.0)},
         apply=steps.client_calls),
    Kind("mark", "action", "only a marker in the timeline.", {},
         apply=steps.mark),
]
STEP_KINDS: dict[str, Kind] = {k.name: k for k in NETWORK + SERVER + FRAMES + ACTIONS}
FAULTS = [k.name for k in NETWORK + SERVER + FRAMES]
ACTION_NAMES = [k.name for k in ACTIONS]

_AFTER = F("ref", "reference point: \"start\"; \"step N\" (when step N began; its last repetition unless "
           "each = true); \"step N end\" (when its `for` ended, or the action finished); \"activity\" (when "
           "the workload activity was queued); \"server_close\" (when the server decided to end a GetWorkItems "
           "stream: an abort/cut/RST; the last one unless each = true)", required=True)
_WITHIN = F("within", "bound in seconds (scaled): a number, a window name (" + ", ".join(WITHIN_NAMES)
            + ") or a list summed, e.g. [\"hello_timeout\", \"first_reconnect\"]; the run's timing "
            "tolerance is added once", required=True)
_EACH = F("bool", "check after every repetition of the referenced step", default=False)

CHECKS_LIST = [
    Kind("reconnected_within", "check", "a new GetWorkItems stream reaches the server within `within` of `after` "
         "(checks.worker.reconnected_within).", {"after": _AFTER, "within": _WITHIN, "each": _EACH},
         evaluate=expect.reconnected_within),
    Kind("hello_within", "check", "the next Hello (connect attempt) within `within` of `after` "
         "(checks.worker.hello_within).", {"after": _AFTER, "within": _WITHIN, "each": _EACH},
         evaluate=expect.hello_within),
    Kind("working_stream_within", "check", "a WORKING GetWorkItems stream again: a probe activity queued at "
         "`after` is completed within `within` (checks.worker.work_completed).", {"after": _AFTER, "within": _WITHIN},
         evaluate=expect.working_stream_within, needs=("probe",)),
    Kind("stream_abandoned_after_silence", "check", "the stream that was open when step `step` began is given "
         "up silent_timeout after its last message (checks.worker.stream_abandoned_after_silence).",
         {"step": F("step", "the step that silenced the stream", required=True)},
         evaluate=expect.stream_abandoned_after_silence),
    Kind("activity_completed_within", "check", "every workload activity is completed within `within` of "
         "`after` (default: when it was queued) (checks.worker.work_completed).",
         {"after": F("ref", _AFTER.doc, default="activity"), "within": _WITHIN},
         evaluate=expect.activity_completed_within, needs=("activities",)),
    Kind("own_completion_delivered", "check", "every workload activity is completed by its FIRST run's own "
         "completion: the first result the server accepts arrives after that run ended and before any "
         "redelivered run ended; fails if none was accepted, or if the server took a redelivered run's result "
         "(a dropped or late completion) (checks.conn.inflight_run_completion_delivered).", {},
         evaluate=expect.own_completion_delivered, needs=("activities",)),
    Kind("exactly_once", "check", "every workload activity's result is delivered exactly once "
         "(checks.worker.exactly_once).", {},
         evaluate=expect.exactly_once, needs=("activities",)),
    Kind("activity_runs_at_most", "check", "the app ran each workload activity at most `at_most` times "
         "(checks.field.activity_runs_at_most).", {"at_most": F("int", "runs", default=1)},
         evaluate=expect.activity_runs_at_most, needs=("activities",)),
    Kind("no_request_after", "check", "no request of `methods` (default all) reaches the server after `after` "
         "(checks.worker.no_rpc_after).", {"after": _AFTER, "methods": F("methods", "RPC names", default=())},
         evaluate=expect.no_request_after),
    Kind("max_connections", "check", "at most `at_most` TCP connections from the SDK process to the server "
         "were open at any sample (checks.conn.max_open_connections).", {"at_most": F("int", "connections",
                                                                                   required=True)},
         evaluate=expect.max_connections, needs=("tcp_samples",)),
    Kind("no_channel_recreated", "check", "no SDK-owned channel created between `after` and `before` "
         "(checks.client.no_sdk_channel_created).", {"after": _AFTER, "before": F("ref", "end of the window (default: "
                                                                              "end of the run)")},
         evaluate=expect.no_channel_recreated),
    Kind("channel_recreated", "check", "an SDK-owned channel is created between `after` and `before` "
         "(checks.client.sdk_channel_created).", {"after": _AFTER, "before": F("ref", "end of the window")},
         evaluate=expect.channel_recreated),
    Kind("stream_lasted_at_least", "check", "the first GetWorkItems stream stayed open at least `min_s` "
         "(checks.field.stream_lasted_at_least).", {"min_s": F("time", "minimum lifetime", required=True)},
         evaluate=expect.stream_lasted_at_least),
    Kind("retried_after_fault", "check", "every call of `method` the server faulted (hang/reject/cut) is "
         "followed by a new call of that method within `within` of the faulted call's start "
         "(checks.field.retried_after_fault).", {"method": F("choice", "RPC", required=True, choices=METHODS),
                                             "within": _WITHIN},
         evaluate=expect.retried_after_fault),
    Kind("connect_rate_at_most", "check", "in any `window_s` seconds after `after` (and before `before`) "
         "the worker makes at most `at_most` connect attempts: Hellos and GetWorkItems streams at the server, "
         "counted apart, the larger burst taken (checks.field.connect_rate_at_most). at_most = 0 derives the "
         "bound from the backoff base as the conformance storm test does: 4*window/base + 1 "
         "(checks.worker.max_attempt_rate_bound).",
         {"after": F("ref", _AFTER.doc, default="start"), "before": F("ref", "end of the window (default: end of "
                                                                      "the run)"),
          "window_s": F("time", "the sliding window", required=True),
          "at_most": F("int", "attempts per window (0 = derived from the backoff base)", default=0)},
         evaluate=expect.connect_rate_at_most),
    Kind("backoff_within", "check", "every reconnect delay after a connect attempt the server failed (a "
         "`reject` of Hello or GetWorkItems) after `after` lies inside its full-jitter window plus the tolerance, "
         "measured from when the SDK saw the failure (checks.field.reconnect_delays_within_windows, over "
         "checks.worker.failure_runs). The window of the j-th (0-based) is min(cap, base*2^(j+first_attempt)).",
         {"after": F("ref", _AFTER.doc, default="start"),
          "first_attempt": F("int", "the attempt number of each run's first server failure: 2 when a network "
                             "fault (conn_reset, tcp_reset, conn_blackhole) failed the stream just before", default=1)},
         evaluate=expect.backoff_within),
    Kind("hello_deadline", "check", "the Hello deadline itself: every Hello reaches the server with the "
         "configured Hello timeout as its deadline (checks.worker.hello_deadline), and every Hello the server "
         "hung (a `hang` step of Hello) is abandoned hello_timeout +- tolerance after it began "
         "(checks.worker.hung_hellos_abandoned).", {},
         evaluate=expect.hello_deadline),
    Kind("stop_within", "check", "every worker.stop() (a stop_worker step) returned within "
         "windows.STOP_LATENCY_S, stop()'s own derived bound, not scaled and not the tolerance "
         "(checks.worker.stop_prompt).", {},
         evaluate=expect.stop_within),
    Kind("new_peer_after_recreation", "check", "after the SDK recreates its channel (the first SDK-owned "
         "channel created after `after`), the next Hello comes over a NEW TCP connection: its peer at the "
         "server differs from the last Hello's before the recreation (checks.client.new_peer_after).",
         {"after": _AFTER},
         evaluate=expect.new_peer_after_recreation),
    Kind("client_calls_succeeded", "check", "every call of client_calls step `step` (count x its repetitions) "
         "returned a result, none an exception (checks.field.client_calls_succeeded).",
         {"step": F("step", "the client_calls step", required=True),
          "after": F("ref", "only the calls that started after this reference point (and at least one): a "
                     "client calling through an outage must work again after it")},
         evaluate=expect.client_calls_succeeded),
    Kind("long_polls_returned", "check", "every long poll of the workload returned the orchestration's final "
         "state (no exception) (checks.field.client_calls_succeeded).", {},
         evaluate=expect.long_polls_returned, needs=("long_poll",)),
]
CHECKS: dict[str, Kind] = {k.name: k for k in CHECKS_LIST}
