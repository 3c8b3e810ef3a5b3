#!/usr/bin/env python3
"""Conformance driver for the Python ``durabletask`` SDK (driver protocol 1, see ../PROTOCOL.md).

Runs the SDK under test in its own process and answers JSON-line commands on stdin.
Standalone on purpose: it imports only the stdlib, ``grpc`` and ``durabletask``, because it
runs inside SDK virtualenvs that do not have the conformance project installed.

Observation hooks are installed BEFORE ``durabletask`` is imported, so every channel the SDK
builds is seen:
- ``grpc.insecure_channel`` & co. are wrapped to emit ``channel_created``; the channel classes'
  ``_close`` is wrapped to emit ``channel_closed`` (channels use ``__slots__``, so instances
  cannot be patched one by one). Both name the worker or client the channel belongs to (``role``,
  see ``_current_role``).
- an interceptor passed through the SDK's public ``interceptors=`` parameter emits ``rpc_start``
  / ``rpc_done`` via ``call.add_done_callback`` (never wrapping the call object: the SDK cancels
  and iterates the GetWorkItems call itself).

``--patch FILE`` (repeatable) execs FILE after the hooks are installed and ``durabletask`` is
imported, before any worker or client exists. The file's globals include ``HANDLERS`` (command
name -> handler(args) -> result dict) and ``emit_event(kind, **data)``, so a test can add
commands (e.g. one that crashes) or keep a deliberately broken SDK variant ("mutant").
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import importlib.metadata
import inspect
import ipaddress
import itertools
import json
import logging
import os
import platform
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from typing import Any

PROTOCOL = 1

# -- protocol output ------------------------------------------------------------------------
# stdout belongs to the protocol. Move the real fd 1 aside and point fd 1 at stderr, so stray
# prints (ours, the SDK's, C libraries') can never corrupt the protocol stream.
_PROTO_OUT = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
os.dup2(2, 1)
sys.stdout = sys.stderr
_OUT_LOCK = threading.Lock()


def _send(obj: dict[str, Any]) -> None:
    line = json.dumps(obj, default=str)
    with _OUT_LOCK:
        try:
            _PROTO_OUT.write(line + "\n")
            _PROTO_OUT.flush()
        except (BrokenPipeError, ValueError, OSError):
            # The harness is gone: nobody can stop us any more, so leave now.
            os._exit(0)


def emit_event(kind: str, t: float | None = None, **data: Any) -> None:
    """Send an unsolicited event, timed on CLOCK_MONOTONIC (same clock as the harness)."""
    _send({"event": kind, "t": time.monotonic() if t is None else t, "data": data})


def _log(msg: str) -> None:
    print(f"[driver] {msg}", file=sys.stderr, flush=True)


# -- channel observation (installed before durabletask is imported) --------------------------
import grpc  # noqa: E402
import grpc.aio  # noqa: E402
from grpc import _channel as _sync_channel_mod  # noqa: E402
from grpc.aio import _channel as _aio_channel_mod  # noqa: E402


@dataclasses.dataclass
class _ChannelInfo:
    channel_id: int
    closed: bool = False
    role: str | None = None  # "worker" or "client:<id>": whose channel it is (see _current_role)


_CHANNEL_IDS = itertools.count(1)
# Weak, so observing a channel never keeps it (and its TCP connection) alive.
_CHANNELS: weakref.WeakKeyDictionary[Any, _ChannelInfo] = weakref.WeakKeyDictionary()
_CHANNELS_LOCK = threading.Lock()
_OWNER = threading.local()  # .caller is True while the driver builds a caller-owned channel
# Which worker or client a channel belongs to ("role", as in rpc_done): the SDK builds channels in
# constructors, on its own threads and asyncio tasks (recreations), so the driver names the SDK
# object on whose behalf a channel is built. _OWNER.role is set while the driver itself constructs
# a client/worker (or its caller-owned channel); afterwards the object is in _ROLE_OF and a channel
# built anywhere below one of its methods (``self`` in a calling frame) is attributed to it.
_ROLE_OF: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def _current_role() -> str | None:
    """The role of the worker/client building a channel right now, None if no frame names one."""
    role = getattr(_OWNER, "role", None)
    if role is not None:
        return role
    frame = sys._getframe(1)
    while frame is not None:
        obj = frame.f_locals.get("self")
        if obj is not None:
            try:
                role = _ROLE_OF.get(obj)
            except TypeError:  # unhashable / not weak-referenceable: not one of ours
                role = None
            if role is not None:
                return role
        frame = frame.f_back
    return None


class _building_as:
    """Attribute every channel built in this thread inside the block to ``role``."""

    def __init__(self, role: str) -> None:
        self.role = role

    def __enter__(self) -> None:
        self.prev = getattr(_OWNER, "role", None)
        _OWNER.role = self.role

    def __exit__(self, *exc: Any) -> None:
        _OWNER.role = self.prev


def _jsonable(v: Any) -> Any:
    try:
        json.dumps(v)
        return v
    except TypeError:
        if isinstance(v, (list, tuple)):
            return [_jsonable(x) for x in v]
        return repr(v)


def _channel_id_of(channel: Any) -> int | None:
    with _CHANNELS_LOCK:
        info = _CHANNELS.get(channel)
    return info.channel_id if info else None


def _wrap_factory(orig: Callable[..., Any], kind: str, options_pos: int,
                  secure: bool = False) -> Callable[..., Any]:
    def factory(target: str, *args: Any, **kwargs: Any) -> Any:
        ch = orig(target, *args, **kwargs)
        cid = next(_CHANNEL_IDS)
        role = _current_role()
        with _CHANNELS_LOCK:
            _CHANNELS[ch] = _ChannelInfo(cid, role=role)
        opts = kwargs.get("options", args[options_pos] if len(args) > options_pos else None)
        emit_event("channel_created", channel_id=cid, target=target, channel_kind=kind,
                   owner="caller" if getattr(_OWNER, "caller", False) else "sdk", role=role,
                   options=_jsonable(list(opts) if opts else []), secure=secure)
        return ch

    factory.__wrapped__ = orig  # type: ignore[attr-defined]
    return factory


def _note_closed(channel: Any) -> None:
    with _CHANNELS_LOCK:
        info = _CHANNELS.get(channel)
        if info is None or info.closed:
            return
        info.closed = True
    emit_event("channel_closed", channel_id=info.channel_id, role=info.role)


def _install_channel_hooks() -> None:
    grpc.insecure_channel = _wrap_factory(grpc.insecure_channel, "sync", 0)
    grpc.secure_channel = _wrap_factory(grpc.secure_channel, "sync", 1, secure=True)
    grpc.aio.insecure_channel = _wrap_factory(grpc.aio.insecure_channel, "aio", 0)
    grpc.aio.secure_channel = _wrap_factory(grpc.aio.secure_channel, "aio", 1, secure=True)

    # close() and the context-manager exits both go through _close on both channel classes.
    sync_close = _sync_channel_mod.Channel._close

    def _close(self: Any) -> None:
        _note_closed(self)
        sync_close(self)

    _sync_channel_mod.Channel._close = _close  # type: ignore[method-assign]

    aio_close = _aio_channel_mod.Channel._close

    async def _aclose(self: Any, *args: Any, **kwargs: Any) -> None:
        _note_closed(self)
        await aio_close(self, *args, **kwargs)

    _aio_channel_mod.Channel._close = _aclose  # type: ignore[method-assign]

    # The SDK applies our observer with grpc.intercept_channel(raw, *interceptors). Give the
    # observer the raw channel's id there, so rpc_done says which channel carried the call.
    orig_intercept = grpc.intercept_channel

    def intercept_channel(channel: Any, *interceptors: Any) -> Any:
        cid = _channel_id_of(channel)
        if cid is not None:
            interceptors = tuple(i.bound(cid) if isinstance(i, RpcObserver) else i
                                 for i in interceptors)
        out = orig_intercept(channel, *interceptors)
        if cid is not None:
            with _CHANNELS_LOCK:
                role = _CHANNELS[channel].role if channel in _CHANNELS else None
                _CHANNELS.setdefault(out, _ChannelInfo(cid, closed=True, role=role))  # alias: no own close event
        return out

    grpc.intercept_channel = intercept_channel


class RpcObserver(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                  grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Reports every RPC's end (code, details) without touching the call object."""

    def __init__(self, role: str, channel_id: int | None = None) -> None:
        self.role = role
        self.channel_id = channel_id

    def bound(self, channel_id: int) -> RpcObserver:
        return RpcObserver(self.role, channel_id)

    def _observe(self, details: Any, call: Any, t0: float, streaming: bool) -> Any:
        path = details.method.decode() if isinstance(details.method, bytes) else str(details.method)
        method = path.rsplit("/", 1)[-1]
        if streaming:
            emit_event("rpc_start", t=t0, method=method, path=path, role=self.role,
                       channel_id=self.channel_id)

        def done(c: Any) -> None:
            try:
                code = c.code()
                emit_event("rpc_done", method=method, path=path, role=self.role,
                           channel_id=self.channel_id, code=code.name if code is not None else None,
                           details=c.details(), elapsed=time.monotonic() - t0)
            except Exception as exc:  # never let observation break the SDK
                _log(f"rpc_done observation failed: {exc!r}")

        try:
            call.add_done_callback(done)
        except Exception as exc:
            _log(f"cannot observe {path}: {exc!r}")
        return call

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        t0 = time.monotonic()
        return self._observe(details, continuation(details, request), t0, False)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        t0 = time.monotonic()
        return self._observe(details, continuation(details, request), t0, True)

    def intercept_stream_unary(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        t0 = time.monotonic()
        return self._observe(details, continuation(details, request_iterator), t0, False)

    def intercept_stream_stream(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        t0 = time.monotonic()
        return self._observe(details, continuation(details, request_iterator), t0, True)


class _SyncDetails(  # grpc.ClientCallDetails is abstract: a named tuple gives it fields
        collections.namedtuple("_SyncDetails", ("method", "timeout", "metadata", "credentials",
                                                "wait_for_ready", "compression")),
        grpc.ClientCallDetails):
    pass


class HeaderInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """A user interceptor (``interceptor_metadata``): adds fixed headers to every call, so the fake can
    tell whether the interceptors given at construction are still in force on a rebuilt channel."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def _details(self, d: Any) -> Any:
        return _SyncDetails(d.method, d.timeout, list(d.metadata or ()) + self.pairs, d.credentials,
                            getattr(d, "wait_for_ready", None), getattr(d, "compression", None))

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)


class AioHeaderInterceptor(grpc.aio.UnaryUnaryClientInterceptor, grpc.aio.UnaryStreamClientInterceptor):
    """``HeaderInterceptor`` for the async client (grpc.aio interceptors have their own API)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def _details(self, d: Any) -> Any:
        return grpc.aio.ClientCallDetails(d.method, d.timeout, list(d.metadata or ()) + self.pairs,
                                          d.credentials, d.wait_for_ready)

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


_install_channel_hooks()

import durabletask  # noqa: E402
import durabletask.client as dt_client  # noqa: E402
import durabletask.worker as dt_worker  # noqa: E402

try:
    import durabletask.grpc_options as dt_options  # 1.5.0+
except ImportError:
    dt_options = None  # type: ignore[assignment]


# Two distributions install the import name ``durabletask``: Microsoft's ``durabletask`` and Dapr's
# ``durabletask-dapr`` (dapr schema). The build is whichever provides the package loaded here.
_SDK_OF_DISTRIBUTION = {"durabletask": "python", "durabletask-dapr": "dapr-python"}


def _distribution() -> str:
    dists = importlib.metadata.packages_distributions().get("durabletask") or []
    return next((d for d in dists if d.lower() in _SDK_OF_DISTRIBUTION), dists[0] if dists else "durabletask")


def _sdk_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return str(getattr(durabletask, "__version__", "unknown"))


SDK_DISTRIBUTION = _distribution()
SDK_NAME = _SDK_OF_DISTRIBUTION.get(SDK_DISTRIBUTION.lower(), "python")
SDK_VERSION = _sdk_version(SDK_DISTRIBUTION)


# -- SDK logging -----------------------------------------------------------------------------
class _SdkLogHandler(logging.Handler):
    """SDK log records go to stderr; WARNING and above also become ``log`` events."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stderr, flush=True)
            if record.levelno >= logging.WARNING:
                emit_event("log", level=record.levelname, logger=record.name,
                           message=record.getMessage())
        except Exception:
            self.handleError(record)


_LOG_HANDLER = _SdkLogHandler()


def _logging_kwargs(params: Any, suffix: str) -> dict[str, Any]:
    """Route SDK logs to our handler through whatever this SDK build supports."""
    if "logger" in params:  # 1.10.0+
        lg = logging.Logger(f"durabletask-{suffix}", logging.INFO)
        lg.addHandler(_LOG_HANDLER)
        return {"logger": lg}
    if "log_handler" in params:  # SDK builds its own unparented Logger; hand it our handler
        return {"log_handler": _LOG_HANDLER}
    logging.getLogger().addHandler(_LOG_HANDLER)
    return {}


# -- errors and option building --------------------------------------------------------------
class CommandError(Exception):
    def __init__(self, message: str, type_: str = "CommandError", unsupported: bool = False,
                 capability: str | None = None) -> None:
        super().__init__(message)
        self.type = type_
        self.unsupported = unsupported
        self.capability = capability  # with unsupported: the capability (PROTOCOL.md) the build lacks


def _unsupported(what: str, capability: str | None = None) -> CommandError:
    return CommandError(f"{what} is not supported by durabletask {SDK_VERSION}", "Unsupported", True, capability)


# The option classes' fields the protocol's ``resiliency`` args name (PROTOCOL.md): a build whose class
# lacks one of them (renamed, say) cannot be configured as the protocol says, so its capability is false.
_RESILIENCY_FIELDS = {
    "GrpcWorkerResiliencyOptions": ("hello_timeout_seconds", "silent_disconnect_timeout_seconds",
                                    "channel_recreate_failure_threshold", "reconnect_backoff_base_seconds",
                                    "reconnect_backoff_cap_seconds"),
    "GrpcClientResiliencyOptions": ("channel_recreate_failure_threshold", "min_recreate_interval_seconds"),
}
_RESILIENCY_CAPABILITY = {"GrpcWorkerResiliencyOptions": "resiliency_options",
                          "GrpcClientResiliencyOptions": "client_resiliency_options"}


def _params(cls: Any) -> Any:
    return inspect.signature(cls.__init__).parameters


def _build_dataclass(cls_name: str, values: dict[str, Any], option: str) -> Any:
    cls = getattr(dt_options, cls_name, None) if dt_options is not None else None
    cap = _RESILIENCY_CAPABILITY.get(cls_name, "channel_options")
    if cls is None:
        raise _unsupported(f"{option} ({cls_name})", cap)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in known:
            raise _unsupported(f"{option}.{key}", cap)
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise CommandError(f"{option}: {exc}", type(exc).__name__) from exc


def _channel_options(raw: dict[str, Any] | None) -> Any:
    if raw is None:
        return None
    values = dict(raw)
    if "raw_options" in values:
        values["raw_options"] = [tuple(kv) for kv in values["raw_options"] or []]
    if values.get("retry_policy") is not None:
        values["retry_policy"] = _build_dataclass("GrpcRetryPolicyOptions", values["retry_policy"],
                                                  "channel_options.retry_policy")
    return _build_dataclass("GrpcChannelOptions", values, "channel_options")


def _common_kwargs(cls: Any, args: dict[str, Any], suffix: str, resiliency_cls: str,
                   observer: Any | None, aio: bool = False) -> dict[str, Any]:
    """Constructor kwargs shared by worker and clients, feature-detected on ``cls``."""
    params = _params(cls)
    kw: dict[str, Any] = {"host_address": args["address"]}
    if args.get("metadata"):
        kw["metadata"] = [tuple(kv) for kv in args["metadata"]]
    if args.get("resiliency") is not None:
        if "resiliency_options" not in params:
            raise _unsupported("resiliency_options", _RESILIENCY_CAPABILITY[resiliency_cls])
        kw["resiliency_options"] = _build_dataclass(resiliency_cls, args["resiliency"], "resiliency")
    if args.get("channel_options") is not None:
        if "channel_options" not in params or not hasattr(dt_options, "GrpcChannelOptions"):
            raise _unsupported("channel_options", "channel_options")
        kw["channel_options"] = _channel_options(args["channel_options"])
    if args.get("channel", "sdk") not in ("sdk", "caller"):
        raise CommandError(f"channel must be 'sdk' or 'caller', not {args.get('channel')!r}")
    if args.get("channel") == "caller" and "channel" not in params:
        raise _unsupported("channel= (caller-owned channel)", "channel")
    if observer is not None and "interceptors" in params:
        kw["interceptors"] = [observer]
    kw.update(_config_kwargs(params, args, aio, kw.get("interceptors") or []))
    kw.update(_logging_kwargs(params, suffix))
    return kw


def _config_kwargs(params: Any, args: dict[str, Any], aio: bool, interceptors: list[Any]) -> dict[str, Any]:
    """``secure`` (TLS with the system roots, the SDK's ``secure_channel=True``) and
    ``interceptor_metadata`` (a user interceptor adding those headers to every call)."""
    kw: dict[str, Any] = {}
    if args.get("secure"):
        if "secure_channel" not in params:
            raise _unsupported("secure_channel", "secure_channel")
        kw["secure_channel"] = True
    if args.get("interceptor_metadata"):
        if "interceptors" not in params:
            raise _unsupported("interceptors", "interceptors")
        pairs = [(str(k), str(v)) for k, v in args["interceptor_metadata"]]
        kw["interceptors"] = interceptors + [AioHeaderInterceptor(pairs) if aio else HeaderInterceptor(pairs)]
    return kw


def _caller_channel(address: str, aio: bool, role: str) -> Any:
    _OWNER.caller = True
    try:
        with _building_as(role):
            return grpc.aio.insecure_channel(address) if aio else grpc.insecure_channel(address)
    finally:
        _OWNER.caller = False


def _register_role(obj: Any, role: str) -> None:
    """From now on, channels built below ``obj``'s methods belong to ``role`` (see _current_role)."""
    try:
        _ROLE_OF[obj] = role
    except TypeError:
        _log(f"cannot attribute channels to {type(obj).__name__}: not weak-referenceable")


# -- worker ----------------------------------------------------------------------------------
class _WorkerState:
    worker: Any = None
    caller_channel: Any = None


_W = _WorkerState()
_W_LOCK = threading.Lock()


def _make_activity(name: str, sleep_seconds: float, result: Any, has_result: bool) -> Callable[..., Any]:
    def activity(ctx: Any, inp: Any) -> Any:
        iid = getattr(ctx, "orchestration_id", None)
        emit_event("activity_started", name=name, input=inp, instance_id=iid)
        if sleep_seconds:
            time.sleep(sleep_seconds)
        out = result if has_result else inp
        emit_event("activity_finished", name=name, input=inp, instance_id=iid)
        return out

    activity.__name__ = name  # the SDK registers activities under the function's name
    return activity


def _make_orchestration(name: str, activity: str) -> Callable[..., Any]:
    def orchestration(ctx: Any, inp: Any) -> Any:
        emit_event("orchestration_run", name=name, instance_id=ctx.instance_id,
                   is_replaying=bool(getattr(ctx, "is_replaying", False)))
        out = yield ctx.call_activity(activity, input=inp)
        return out

    orchestration.__name__ = name
    return orchestration


def _concurrency_options(cls: Any, values: dict[str, Any]) -> Any:
    """``concurrency`` = the worker's ConcurrencyOptions fields (e.g. maximum_concurrent_activity_work_items)."""
    opts_cls = getattr(dt_worker, "ConcurrencyOptions", None)
    if opts_cls is None or "concurrency_options" not in _params(cls):
        raise _unsupported("concurrency_options", "concurrency_options")
    known = set(inspect.signature(opts_cls.__init__).parameters)
    for key in values:
        if key not in known:
            raise _unsupported(f"concurrency.{key}", "concurrency_options")
    return opts_cls(**values)


def cmd_start_worker(args: dict[str, Any]) -> dict[str, Any]:
    with _W_LOCK:
        if _W.worker is not None:
            raise CommandError("a worker is already running; stop_worker first", "WorkerRunning")
        cls = dt_worker.TaskHubGrpcWorker
        observer = RpcObserver("worker")
        kw = _common_kwargs(cls, args, "worker", "GrpcWorkerResiliencyOptions", observer)
        if args.get("concurrency"):
            kw["concurrency_options"] = _concurrency_options(cls, args["concurrency"])
        raw = None
        if args.get("channel") == "caller":
            raw = _caller_channel(args["address"], aio=False, role="worker")
            # The SDK applies no interceptors to a caller channel, so observe it ourselves.
            kw["channel"] = grpc.intercept_channel(raw, observer)
            kw.pop("interceptors", None)
        worker = None
        try:
            with _building_as("worker"):
                worker = cls(**kw)
            _register_role(worker, "worker")
            for a in args.get("activities") or []:
                worker.add_activity(_make_activity(a["name"], float(a.get("sleep_seconds") or 0),
                                                   a.get("result"), a.get("result") is not None))
            for o in args.get("orchestrations") or []:
                worker.add_orchestrator(_make_orchestration(o["name"], o["activity"]))
            worker.start()
        except Exception:
            # A build whose start() raises may have left its loop running (durabletask-dapr keeps
            # reconnecting after "Failed to establish work item stream"): stop it, bounded, so no
            # worker of a failed start outlives the command.
            if worker is not None:
                th = threading.Thread(target=worker.stop, name="worker-stop-failed-start", daemon=True)
                th.start()
                th.join(5.0)
            if raw is not None:
                raw.close()
            raise
        _W.worker, _W.caller_channel = worker, raw
    emit_event("worker_started", address=args["address"], channel=args.get("channel", "sdk"))
    return {"started": True}


def _stop_worker(timeout: float) -> float:
    with _W_LOCK:
        worker, raw = _W.worker, _W.caller_channel
    if worker is None:
        raise CommandError("no worker is running", "NoWorker")
    t0 = time.monotonic()
    th = threading.Thread(target=worker.stop, name="worker-stop", daemon=True)
    th.start()
    th.join(timeout)
    elapsed = time.monotonic() - t0
    if th.is_alive():
        raise CommandError(f"worker.stop() did not return within {timeout}s", "StopTimeout")
    with _W_LOCK:
        _W.worker = _W.caller_channel = None
    if raw is not None:  # caller-owned: ours to close, but only once the worker has stopped
        raw.close()
    emit_event("worker_stopped", elapsed=elapsed)
    return elapsed


def cmd_stop_worker(args: dict[str, Any]) -> dict[str, Any]:
    return {"elapsed": _stop_worker(float(args.get("timeout", 30.0)))}


# -- clients ---------------------------------------------------------------------------------
class _AsyncLoop:
    """One persistent event loop on a dedicated thread; every async-client call runs there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="aio-clients", daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


_AIO: _AsyncLoop | None = None
_CLIENTS: dict[str, tuple[str, Any, Any]] = {}  # id -> (kind, client, caller channel)
_C_LOCK = threading.Lock()


def _aio() -> _AsyncLoop:
    global _AIO
    with _C_LOCK:
        if _AIO is None:
            _AIO = _AsyncLoop()
        return _AIO


def cmd_create_client(args: dict[str, Any]) -> dict[str, Any]:
    cid, kind = str(args["id"]), args.get("kind", "sync")
    role = f"client:{cid}"
    with _C_LOCK:
        if cid in _CLIENTS:
            raise CommandError(f"client {cid!r} exists", "ClientExists")
    if kind == "sync":
        cls = dt_client.TaskHubGrpcClient
        observer = RpcObserver(role)
        kw = _common_kwargs(cls, args, "client", "GrpcClientResiliencyOptions", observer)
        raw = None
        if args.get("channel") == "caller":
            raw = _caller_channel(args["address"], aio=False, role=role)
            kw["channel"] = grpc.intercept_channel(raw, observer)
            kw.pop("interceptors", None)
        with _building_as(role):
            client = cls(**kw)
        _register_role(client, role)
    elif kind == "async":
        cls = getattr(dt_client, "AsyncTaskHubGrpcClient", None)
        if cls is None:
            raise _unsupported("the async client (AsyncTaskHubGrpcClient)", "async_client")
        # No rpc observer for aio channels: the aio interceptor API differs (see PROTOCOL.md).
        kw = _common_kwargs(cls, args, "client", "GrpcClientResiliencyOptions", None, aio=True)

        async def build() -> tuple[Any, Any]:
            # Built on the loop thread: SDKs before 1.9.0 create the channel in the
            # constructor and bind it to the running loop.
            raw = _caller_channel(args["address"], aio=True, role=role) if args.get("channel") == "caller" else None
            if raw is not None:
                kw["channel"] = raw
            with _building_as(role):
                built = cls(**kw)
            _register_role(built, role)  # the async client builds its channel on first use
            return built, raw

        client, raw = _aio().run(build(), 30)
    else:
        raise CommandError(f"kind must be 'sync' or 'async', not {kind!r}")
    with _C_LOCK:
        _CLIENTS[cid] = (kind, client, raw)
    return {"created": True}


def _state_dict(state: Any) -> Any:
    if state is None:
        return None
    status = getattr(state, "runtime_status", None)
    return {"instance_id": getattr(state, "instance_id", None),
            "name": getattr(state, "name", None),
            "runtime_status": getattr(status, "name", str(status)),
            "serialized_output": getattr(state, "serialized_output", None)}


def _client_op(client: Any, op: str, a: dict[str, Any]) -> tuple[Any, Callable[[Any], Any]]:
    """(method call result: value or coroutine, function turning the SDK's return into JSON)."""
    iid = a.get("instance_id")
    if op == "schedule":
        return client.schedule_new_orchestration(a["name"], input=a.get("input"),
                                                 instance_id=iid), lambda v: v
    if op == "get_state":
        return client.get_orchestration_state(iid), _state_dict
    if op == "wait_start":
        return client.wait_for_orchestration_start(iid, timeout=a.get("timeout", 60)), _state_dict
    if op == "wait_completion":
        return client.wait_for_orchestration_completion(iid, timeout=a.get("timeout", 60)), _state_dict
    if op == "raise_event":
        return client.raise_orchestration_event(iid, a["name"], data=a.get("data")), lambda v: None
    if op == "terminate":
        return client.terminate_orchestration(iid, output=a.get("output")), lambda v: None
    if op == "purge":
        return client.purge_orchestration(iid), lambda v: {
            "deleted_instance_count": getattr(v, "deleted_instance_count", None)}
    if op == "get_history":  # the server-streaming StreamInstanceHistory
        if not hasattr(client, "get_orchestration_history"):
            raise _unsupported("get_orchestration_history (StreamInstanceHistory)", "history_stream")
        return client.get_orchestration_history(iid), lambda v: {"events": len(v or [])}
    raise CommandError(f"unknown client op {op!r}", "UnknownOp")


def cmd_client_call(args: dict[str, Any]) -> dict[str, Any]:
    cid, op = str(args["id"]), args["op"]
    with _C_LOCK:
        entry = _CLIENTS.get(cid)
    if entry is None:
        raise CommandError(f"no client {cid!r}", "NoClient")
    kind, client, _ = entry
    t0 = time.monotonic()
    try:
        if kind == "async":
            async def run() -> Any:
                coro, conv = _client_op(client, op, args)
                return conv(await coro)

            value = _aio().run(run())
        else:
            raw, conv = _client_op(client, op, args)
            value = conv(raw)
        res: dict[str, Any] = {"outcome": "ok", "value": value}
    except CommandError:
        raise
    except Exception as exc:  # an SDK exception is a result, not a protocol error
        code = None
        if isinstance(exc, grpc.RpcError) and callable(getattr(exc, "code", None)):
            c = exc.code()
            code = getattr(c, "name", None)
        message = exc.details() if isinstance(exc, grpc.RpcError) and callable(
            getattr(exc, "details", None)) else str(exc)
        res = {"outcome": "error", "exc_type": type(exc).__name__, "grpc_code": code,
               "message": message}
    res["elapsed"] = time.monotonic() - t0
    emit_event("client_call_done", client_id=cid, op=op, instance_id=args.get("instance_id"),
               **{k: v for k, v in res.items() if k != "value"})
    return res


def _close_client(cid: str) -> None:
    with _C_LOCK:
        entry = _CLIENTS.pop(cid, None)
    if entry is None:
        raise CommandError(f"no client {cid!r}", "NoClient")
    kind, client, raw = entry
    t0 = time.monotonic()
    if kind == "async":
        _aio().run(client.close(), 10)
    else:
        client.close()
    # Before the driver closes a caller-owned channel itself: a channel_closed of that channel before
    # this event was the SDK's doing.
    emit_event("client_closed", client_id=cid, elapsed=time.monotonic() - t0)
    if raw is not None:
        if kind == "async":
            _aio().run(raw.close(), 10)
        else:
            raw.close()


def cmd_close_client(args: dict[str, Any]) -> dict[str, Any]:
    _close_client(str(args["id"]))
    return {"closed": True}


# -- connections -----------------------------------------------------------------------------
_TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
               "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
               "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING"}


def _hex_addr(s: str) -> str:
    host, port = s.split(":")
    raw = bytes.fromhex(host)
    # /proc prints each 32-bit word in host (little-endian) order.
    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.ip_address(raw)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    text = f"[{ip}]" if ip.version == 6 else str(ip)
    return f"{text}:{int(port, 16)}"


def own_tcp_sockets() -> list[dict[str, Any]]:
    """This process's TCP sockets: /proc/self/fd socket inodes joined with /proc/net/tcp{,6}."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    out = []
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[9] in inodes:
                out.append({"local": _hex_addr(cols[1]), "remote": _hex_addr(cols[2]),
                            "state": _TCP_STATES.get(cols[3], cols[3]), "inode": int(cols[9])})
    return out


def cmd_connections(args: dict[str, Any]) -> dict[str, Any]:
    return {"connections": own_tcp_sockets()}


# -- defaults --------------------------------------------------------------------------------
def _options_dict(opts: Any) -> dict[str, Any] | None:
    return dataclasses.asdict(opts) if opts is not None and dataclasses.is_dataclass(opts) else None


def cmd_defaults_in_force(args: dict[str, Any]) -> dict[str, Any]:
    """The resiliency defaults this build USES when the caller gives none: read from a worker and a
    client constructed without options (never started, never called), not from the option classes
    (``hello``'s ``defaults``), so a build that substitutes other values when none are given shows.
    ``None`` where the build has no such setting."""
    probe = "127.0.0.1:9"  # never dialled: the worker is not started, the client not called
    worker = dt_worker.TaskHubGrpcWorker(host_address=probe,
                                         **_logging_kwargs(_params(dt_worker.TaskHubGrpcWorker), "defaults"))
    client = dt_client.TaskHubGrpcClient(host_address=probe,
                                         **_logging_kwargs(_params(dt_client.TaskHubGrpcClient), "defaults"))
    try:
        client_opts = _options_dict(getattr(client, "_resiliency_options", None))
    finally:
        client.close()
    wait = inspect.signature(dt_client.TaskHubGrpcClient.wait_for_orchestration_completion).parameters
    long_poll = wait["timeout"].default if "timeout" in wait else None
    grace = getattr(dt_client, "_RETIRED_CHANNEL_CLOSE_DELAY_SECONDS", None)
    return {"worker": _options_dict(getattr(worker, "_resiliency_options", None)),
            "client": client_opts,
            "client_long_poll_timeout_seconds": long_poll,
            "client_retire_grace_seconds": grace}


# -- hello / shutdown ------------------------------------------------------------------------
def declared_options(cls_name: str, params: Any) -> dict[str, Any] | None:
    """The build's ``cls_name`` option class as it is: its name and every field with its default
    (read with ``dataclasses.fields``, nothing constructed); None when the build has no such class or
    the constructor takes no ``resiliency_options``."""
    cls = getattr(dt_options, cls_name, None) if dt_options is not None else None
    if cls is None or not dataclasses.is_dataclass(cls) or "resiliency_options" not in params:
        return None
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
        else:
            out[f.name] = None
    return {"class": cls.__name__, "fields": _jsonable(out)}


def _has_protocol_fields(declared: dict[str, Any] | None, cls_name: str) -> bool:
    return declared is not None and all(f in declared["fields"] for f in _RESILIENCY_FIELDS[cls_name])


def capabilities() -> dict[str, bool]:
    w = _params(dt_worker.TaskHubGrpcWorker)
    c = _params(dt_client.TaskHubGrpcClient)
    return {
        # Configurable only as the protocol names the fields: a renamed field makes it false.
        "resiliency_options": _has_protocol_fields(declared_options("GrpcWorkerResiliencyOptions", w),
                                                   "GrpcWorkerResiliencyOptions"),
        "client_resiliency_options": _has_protocol_fields(declared_options("GrpcClientResiliencyOptions", c),
                                                          "GrpcClientResiliencyOptions"),
        "channel": "channel" in w and "channel" in c,
        "sdk_channel": True,  # every release builds its own channel from host_address
        # The protocol's channel_options are GrpcChannelOptions fields; a build whose `channel_options`
        # is a raw option list (durabletask-dapr) cannot take them as the protocol names them.
        "channel_options": "channel_options" in w and hasattr(dt_options, "GrpcChannelOptions"),
        "async_client": hasattr(dt_client, "AsyncTaskHubGrpcClient"),
        "logger": "logger" in w or "log_handler" in w,  # how the driver routes SDK logs: _logging_kwargs
        "interceptors": "interceptors" in w,
        "metadata": "metadata" in w and "metadata" in c,
        "secure_channel": "secure_channel" in w and "secure_channel" in c,
        "concurrency_options": hasattr(dt_worker, "ConcurrencyOptions") and "concurrency_options" in w,
        "history_stream": hasattr(dt_client.TaskHubGrpcClient, "get_orchestration_history"),
        "rpc_observer": "interceptors" in w,
        "aio_rpc_observer": False,
    }


def hello_options() -> tuple[dict[str, Any], dict[str, Any]]:
    """(``options``, ``defaults``) of ``hello`` (PROTOCOL.md): the build's option classes as they are,
    and the values it runs with when nothing is configured, under the protocol's field names (a field
    the build lacks is absent; the harness then uses the design's default)."""
    options: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for kind, cls_name, sdk_cls in (("worker", "GrpcWorkerResiliencyOptions", dt_worker.TaskHubGrpcWorker),
                                    ("client", "GrpcClientResiliencyOptions", dt_client.TaskHubGrpcClient)):
        declared = declared_options(cls_name, _params(sdk_cls))
        options[kind] = declared
        fields = declared["fields"] if declared else {}
        defaults[kind] = {f: fields[f] for f in _RESILIENCY_FIELDS[cls_name] if f in fields}
    return options, defaults


_PATCHES: list[str] = []


def cmd_hello(args: dict[str, Any]) -> dict[str, Any]:
    options, defaults = hello_options()
    return {"protocol": PROTOCOL, "sdk": SDK_NAME, "sdk_version": SDK_VERSION, "language": "python",
            "runtime": f"{platform.python_implementation()} {platform.python_version()}",
            "capabilities": capabilities(), "options": options, "defaults": defaults,
            "pid": os.getpid(), "patches": list(_PATCHES), "sdk_path": os.path.dirname(durabletask.__file__)}


def _cleanup(bound: float) -> None:
    """Stop the worker and close clients, giving up after ``bound`` seconds (a wedged SDK
    must not keep the process alive: the caller exits with os._exit regardless)."""
    def work() -> None:
        try:
            if _W.worker is not None:
                _stop_worker(bound)
        except Exception as exc:
            _log(f"stop during shutdown failed: {exc!r}")
        for cid in list(_CLIENTS):
            try:
                _close_client(cid)
            except Exception as exc:
                _log(f"closing client {cid} failed: {exc!r}")

    th = threading.Thread(target=work, name="shutdown", daemon=True)
    th.start()
    th.join(bound)


def cmd_shutdown(args: dict[str, Any]) -> dict[str, Any]:
    raise AssertionError("handled in the main loop")


HANDLERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "hello": cmd_hello, "start_worker": cmd_start_worker, "stop_worker": cmd_stop_worker,
    "create_client": cmd_create_client, "client_call": cmd_client_call,
    "close_client": cmd_close_client, "connections": cmd_connections, "shutdown": cmd_shutdown,
    "defaults_in_force": cmd_defaults_in_force,
}
_INLINE = {"hello", "connections"}  # cheap commands answered on the reader thread


def _handle(req_id: Any, cmd: str, args: dict[str, Any]) -> None:
    try:
        handler = HANDLERS.get(cmd)
        if handler is None:
            raise CommandError(f"unknown command {cmd!r}", "UnknownCommand")
        _send({"id": req_id, "ok": True, "result": handler(args)})
    except CommandError as exc:
        err = {"type": exc.type, "message": str(exc), "unsupported": exc.unsupported}
        if exc.capability:
            err["capability"] = exc.capability
        _send({"id": req_id, "ok": False, "error": err})
    except Exception as exc:
        _log(f"command {cmd} failed:\n{traceback.format_exc()}")
        _send({"id": req_id, "ok": False,
               "error": {"type": type(exc).__name__, "message": str(exc), "unsupported": False}})


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patch", action="append", default=[], help="Python file exec'd before use")
    ap.add_argument("--shutdown-bound", type=float, default=5.0,
                    help="seconds to wait for worker/clients on shutdown before exiting anyway")
    opts = ap.parse_args(argv)
    for path in opts.patch:
        _log(f"applying patch {path}")
        g = {"__name__": "__driver_patch__", "__file__": path, "HANDLERS": HANDLERS,
             "emit_event": emit_event}
        with open(path) as f:
            exec(compile(f.read(), path, "exec"), g)
        _PATCHES.append(path)

    for line in sys.stdin.buffer:
        try:
            msg = json.loads(line)
            req_id, cmd, args = msg["id"], msg["cmd"], msg.get("args") or {}
        except (ValueError, KeyError, TypeError) as exc:
            _log(f"bad request line {line[:200]!r}: {exc}")
            continue
        if cmd == "shutdown":
            _cleanup(float(args.get("timeout", opts.shutdown_bound)))
            _send({"id": req_id, "ok": True, "result": {"bye": True}})
            os._exit(0)
        if cmd in _INLINE:
            _handle(req_id, cmd, args)
        else:
            threading.Thread(target=_handle, args=(req_id, cmd, args), name=f"cmd-{cmd}-{req_id}",
                             daemon=True).start()
    # stdin closed: the harness is gone. Clean up briefly, then leave no matter what.
    _log("stdin closed; exiting")
    _cleanup(min(opts.shutdown_bound, 2.0))
    os._exit(0)


if __name__ == "__main__":
    main()
