"""A recreated channel is built like the one it replaces (promises.md CLIENT-4, RECREATE-1).

P: the fresh channel is built "with the existing host, interceptors, secure channel flag, and
GrpcChannelOptions". A recreation that dropped them would, after the first outage, silently change
what the application configured: its message-size limits and keepalive, its auth or tracing
interceptors, or TLS itself (a plaintext channel to a TLS endpoint fails every call; one to a proxy
that also speaks plaintext sends credentials in clear). Metadata is covered by CHAN-OWN-003.

Procedures (for the sync client, the async client and the worker; threshold N)
  - options + interceptors: the SDK gets channel options whose raw ``grpc.primary_user_agent`` is
    UA (a channel option the fake can see: every call's user-agent starts with it) and a user
    interceptor that adds HEADER to every call. Clients: one call, N calls failing UNAVAILABLE
    (recreation), one more call. Worker: its first N Hellos fail UNAVAILABLE (recreation), then it
    connects.
  - secure: the SDK is told to use TLS against the fake's plaintext port, so every call fails
    (UNAVAILABLE: the handshake cannot succeed) and after N of them the channel is recreated.
Asserts
  - CHAN-CONFIG-001: every call after the recreation carries UA and HEADER; every SDK-owned channel
    was built with the same channel options and transport security as the first (driver
    ``channel_created``); with TLS asked, every channel is a TLS channel.
Controls: the calls before the recreation carried UA and HEADER; a recreation happened (a build
that never recreates, as the async client of 1.12.0, F-1, is INCONCLUSIVE here).
"""

import time

import grpc
import pytest

from fakes.faults import Abort
from harness.checks.client import sdk_channel_created
from harness.checks.promises import calls_carry_header, sdk_channels_alike
from harness.checks.verdict import control, inconclusive, require
from harness.checks.windows import BACKGROUND_ACTION_WAIT_S, WorkerOptions, any_reconnect_bound, guard
from harness.history import DRIVER, FAKE
from harness.workload import create_client, start_worker

UA = "dt-conformance-probe/1"
HEADER = ("x-conformance-interceptor", "kept")
CHANNEL_OPTIONS = {"raw_options": [["grpc.primary_user_agent", UA]]}
CLIENT = {"channel_recreate_failure_threshold": 2, "min_recreate_interval_seconds": 0.0}
WORKER = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=2.0,
                       channel_recreate_failure_threshold=2,
                       reconnect_backoff_base_seconds=0.05, reconnect_backoff_cap_seconds=0.5)
UNAVAILABLE = Abort(grpc.StatusCode.UNAVAILABLE, "injected transport failure")
ROLES = ["sync", pytest.param("async", marks=pytest.mark.needs("async_client")), "worker"]
CONFIG = {"channel_options": CHANNEL_OPTIONS, "interceptor_metadata": [list(HEADER)]}


def _client_run(driver, fake, history, kind: str, resiliency: dict, extra: dict) -> float:
    """One call, N failing calls, one call (after the recreation); returns when the failures began."""
    create_client(driver, "c", kind=kind, address=fake.address, resiliency=resiliency, **extra)
    driver.call("c", "get_state", instance_id="unknown")
    t = time.monotonic()
    n = int(resiliency["channel_recreate_failure_threshold"])
    with fake.fault("GetInstance", UNAVAILABLE, count=n):
        for _ in range(n):
            driver.call("c", "get_state", instance_id="unknown")
    history.wait_for(BACKGROUND_ACTION_WAIT_S, source=DRIVER, kind="channel_created", owner="sdk", after=t)
    driver.call("c", "get_state", instance_id="unknown")
    return t


def _worker_run(driver, fake, history, opts: WorkerOptions, extra: dict, *, fail_hellos: bool) -> float:
    """A worker whose first N Hellos fail; returns its start. Waits until it recreated and connected."""
    n = opts.channel_recreate_failure_threshold
    if fail_hellos:
        fake.inject("Hello", UNAVAILABLE, count=n)
    t = time.monotonic()
    start_worker(driver, fake.address, opts, **extra)
    bound = n * (any_reconnect_bound(opts) + opts.hello_timeout_seconds) + BACKGROUND_ACTION_WAIT_S
    first = history.wait_for(bound, source=DRIVER, kind="channel_created", owner="sdk", after=t)
    history.wait_for(bound, source=DRIVER, kind="channel_created", owner="sdk",
                     after=(first.t if first else t) + 1e-6)
    if fail_hellos:
        history.wait_for(bound, source=FAKE, kind="rpc_start", method="GetWorkItems", after=t)
    return t


def _first_channel(history):
    start = history.first(source=DRIVER, kind="channel_created", owner="sdk")
    if start is None:
        inconclusive("setup: the SDK built no channel")
    return start


def _recreation(history, after: float):
    made = history.select(DRIVER, "channel_created", owner="sdk", after=after)
    return made[1] if len(made) > 1 else None


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.needs("channel_options", "interceptors", "client_resiliency_options", "resiliency_options")
@pytest.mark.at_defaults("seconds (clients) to about a minute (worker: 5 failed Hellos with backoff) at the defaults")
@pytest.mark.requirement("CHAN-CONFIG-001")
def test_options_and_interceptors_survive_recreation(role, driver, fake, history, tolerance, sdk_options):
    guard(tolerance)  # its checks add the tolerance to no option-derived window (windows.guard)
    if role == "worker":
        t = _worker_run(driver, fake, history, sdk_options.worker(WORKER), CONFIG, fail_hellos=True)
    else:
        t = _client_run(driver, fake, history, role, sdk_options.client(CLIENT), CONFIG)
    start = _first_channel(history)
    rec = _recreation(history, start.t - 1e-6)
    require(
        control(sdk_channel_created(history, after=max(t, start.t + 1e-6), why="threshold-many UNAVAILABLE")),
        control(calls_carry_header(history, key="user-agent", prefix=UA, after=start.t,
                                   before=rec.t if rec else None)),
        control(calls_carry_header(history, key=HEADER[0], prefix=HEADER[1], after=start.t,
                                   before=rec.t if rec else None)),
        calls_carry_header(history, key="user-agent", prefix=UA, after=rec.t if rec else time.monotonic()),
        calls_carry_header(history, key=HEADER[0], prefix=HEADER[1], after=rec.t if rec else time.monotonic()),
        sdk_channels_alike(history),
        history=history,
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.needs("secure_channel", "client_resiliency_options", "resiliency_options")
@pytest.mark.at_defaults("seconds (clients) to about a minute (worker: 5 failed Hellos with backoff) at the defaults")
@pytest.mark.requirement("CHAN-CONFIG-001")
def test_secure_flag_survives_recreation(role, driver, fake, history, tolerance, sdk_options):
    guard(tolerance)  # its checks add the tolerance to no option-derived window (windows.guard)
    if role == "worker":
        t = _worker_run(driver, fake, history, sdk_options.worker(WORKER), {"secure": True}, fail_hellos=False)
    else:
        t = _client_run(driver, fake, history, role, sdk_options.client(CLIENT), {"secure": True})
    start = _first_channel(history)
    require(
        control(sdk_channel_created(history, after=max(t, start.t + 1e-6),
                                    why="TLS against a plaintext server: every call fails")),
        sdk_channels_alike(history, secure=True),
        history=history,
    )
