"""The harness side of the driver protocol (harness/drivers/PROTOCOL.md).

A ``Driver`` is one SDK process. It is spawned in its own session (process group) so
that ``close()`` can always take the whole thing down, even when the SDK is wedged.
Responses resolve pending requests; unsolicited events go straight into the test's
History with the driver's own timestamps (same CLOCK_MONOTONIC as the harness).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.history import DRIVER, History

STDERR_TAIL_LINES = 100
# A harness.sdk.DriverCommand (argv, env, cwd) or a plain argv; typed structurally so that this
# package does not import the SDK seam above it.
DriverCommandLike = Any
# Keys History.record() takes itself; event data using them would collide.
_RESERVED = {"source", "kind", "t"}


class DriverError(Exception):
    """The driver answered ok=false (or failed); ``stderr`` holds its stderr tail."""

    def __init__(self, message: str, *, error: dict[str, Any] | None = None, stderr: str = "") -> None:
        self.error = error or {}
        self.stderr = stderr
        text = message + (f"\n--- driver stderr (tail) ---\n{stderr}" if stderr else "")
        super().__init__(text)
        self.short = message


class DriverUnsupported(DriverError):
    """The SDK build cannot do what was asked (feature missing in this version)."""

    @property
    def capability(self) -> str | None:
        """The capability (PROTOCOL.md) the build lacks, as the driver named it; None if it did not."""
        cap = self.error.get("capability")
        return str(cap) if cap else None


class DriverCrashed(DriverError):
    """The driver process died (or its stdout closed) before answering."""


class DriverTimeout(DriverError):
    """The driver did not answer within the bound."""


class _Pending:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.msg: dict[str, Any] | None = None


class Driver:
    """One SDK driver process, steered over JSON lines on its stdin/stdout."""

    def __init__(self, command: DriverCommandLike, history: History | None = None, *,
                 log_dir: str | Path | None = None, env: dict[str, str] | None = None,
                 default_timeout: float = 30.0) -> None:
        """Start the driver ``command`` (a harness.sdk DriverCommand, or a plain argv). ``env``
        replaces the harness's environment (default: inherit it); the command's own env is added."""
        self.history = history
        self.default_timeout = default_timeout
        self.events: list[dict[str, Any]] = []  # raw events, also kept when history is None
        self.garbage: list[str] = []  # stdout lines that were not protocol JSON
        self.info: dict[str, Any] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._eof = threading.Event()
        self._closed = False
        log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="dt-driver-"))
        log_dir.mkdir(parents=True, exist_ok=True)
        self.stderr_path = log_dir / f"driver-{os.getpid()}-{id(self):x}.stderr.log"
        argv = [str(a) for a in getattr(command, "argv", command)]
        self.argv = argv
        full_env = dict(os.environ if env is None else env)
        full_env.update(getattr(command, "env", None) or {})
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=err, start_new_session=True, env=full_env,
                                         cwd=getattr(command, "cwd", None))
        self._reader = threading.Thread(target=self._read_loop, name=f"driver-{self.proc.pid}",
                                        daemon=True)
        self._reader.start()

    # -- plumbing ----------------------------------------------------------------------
    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stderr_tail(self, lines: int = STDERR_TAIL_LINES) -> str:
        return "\n".join(self.stderr_text.splitlines()[-lines:])

    def _read_loop(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            try:
                msg = json.loads(line)
                if not isinstance(msg, dict):
                    raise ValueError("not an object")
            except ValueError:
                self._garbage(line)
                continue
            if "event" in msg:
                self._on_event(msg)
            elif "id" in msg:
                with self._lock:
                    pending = self._pending.pop(msg["id"], None)
                if pending is None:
                    self._garbage(line)  # an answer nobody asked for
                else:
                    pending.msg = msg
                    pending.done.set()
            else:
                self._garbage(line)
        self._eof.set()
        with self._lock:
            waiting, self._pending = list(self._pending.values()), {}
        for p in waiting:  # wake everyone; they see msg None and report the crash
            p.done.set()

    def _garbage(self, line: str) -> None:
        self.garbage.append(line)
        if self.history is not None:
            self.history.record(DRIVER, "protocol_garbage", line=line[:500])

    def _on_event(self, msg: dict[str, Any]) -> None:
        self.events.append(msg)
        if self.history is None:
            return
        data = {(f"data_{k}" if k in _RESERVED else k): v for k, v in (msg.get("data") or {}).items()}
        self.history.record(DRIVER, str(msg["event"]), t=msg.get("t"), **data)

    def _crashed(self, what: str) -> DriverCrashed:
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        garbage = f"; non-protocol stdout: {self.garbage[-5:]!r}" if self.garbage else ""
        return DriverCrashed(f"driver process (pid {self.pid}) died {what} (exit code {code}){garbage}",
                             stderr=self.stderr_tail())

    # -- requests ----------------------------------------------------------------------
    def request(self, cmd: str, timeout: float | None = None, *, args: dict[str, Any] | None = None,
                **kwargs: Any) -> dict[str, Any]:
        """Send one command and wait for its answer; ``args`` and ``kwargs`` are merged into
        the command's args (use ``args`` for an arg named ``timeout``)."""
        bound = self.default_timeout if timeout is None else timeout
        req_id = next(self._ids)
        pending = _Pending()
        with self._lock:
            if self._eof.is_set():
                raise self._crashed(f"before {cmd!r} was sent")
            self._pending[req_id] = pending
        line = json.dumps({"id": req_id, "cmd": cmd, "args": {**(args or {}), **kwargs}}) + "\n"
        try:
            with self._write_lock:
                assert self.proc.stdin is not None
                self.proc.stdin.write(line.encode())
                self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            with self._lock:
                self._pending.pop(req_id, None)
            raise self._crashed(f"while {cmd!r} was being sent") from None
        if not pending.done.wait(bound):
            with self._lock:
                self._pending.pop(req_id, None)
            if self._eof.is_set() or self.proc.poll() is not None:
                raise self._crashed(f"during {cmd!r}")
            raise DriverTimeout(f"driver did not answer {cmd!r} within {bound}s",
                                stderr=self.stderr_tail())
        msg = pending.msg
        if msg is None:
            raise self._crashed(f"during {cmd!r}")
        if msg.get("ok"):
            return msg.get("result") or {}
        err = msg.get("error") or {}
        text = f"{cmd}: {err.get('type', 'Error')}: {err.get('message', '')}"
        cls = DriverUnsupported if err.get("unsupported") else DriverError
        raise cls(text, error=err, stderr=self.stderr_tail())

    # -- commands ----------------------------------------------------------------------
    def hello(self, timeout: float | None = None) -> dict[str, Any]:
        self.info = self.request("hello", timeout)
        return self.info

    def start_worker(self, *, address: str, channel: str = "sdk",
                     resiliency: dict[str, Any] | None = None,
                     channel_options: dict[str, Any] | None = None,
                     metadata: Sequence[Sequence[str]] | None = None,
                     activities: Sequence[dict[str, Any]] | None = None,
                     orchestrations: Sequence[dict[str, Any]] | None = None,
                     timeout: float | None = None, **extra: Any) -> dict[str, Any]:
        """``extra``: further start_worker args of PROTOCOL.md (e.g. ``secure``, ``interceptor_metadata``,
        ``concurrency``), passed as given."""
        return self.request("start_worker", timeout, address=address, channel=channel,
                            resiliency=resiliency, channel_options=channel_options,
                            metadata=[list(kv) for kv in metadata or []],
                            activities=list(activities or []), orchestrations=list(orchestrations or []), **extra)

    def stop_worker(self, timeout: float = 30.0) -> float:
        """Stop the worker; returns worker.stop()'s duration. The driver itself reports
        ok=false after ``timeout``; we wait a little longer for that answer."""
        return float(self.request("stop_worker", timeout + 5.0, args={"timeout": timeout})["elapsed"])

    def create_client(self, client_id: str, *, kind: str = "sync", address: str, channel: str = "sdk",
                      resiliency: dict[str, Any] | None = None,
                      channel_options: dict[str, Any] | None = None,
                      metadata: Sequence[Sequence[str]] | None = None,
                      timeout: float | None = None, **extra: Any) -> dict[str, Any]:
        """``extra``: further create_client args of PROTOCOL.md (e.g. ``secure``), passed as given."""
        return self.request("create_client", timeout, args={"id": client_id}, kind=kind, address=address,
                            channel=channel, resiliency=resiliency, channel_options=channel_options,
                            metadata=[list(kv) for kv in metadata or []], **extra)

    def call(self, client_id: str, op: str, *, request_timeout: float | None = None,
             **op_args: Any) -> dict[str, Any]:
        """One client operation; returns {"outcome": "ok"|"error", ...}. An SDK exception is an
        outcome, not a DriverError. The bound defaults to the op's own timeout plus a margin."""
        bound = request_timeout if request_timeout is not None else \
            float(op_args.get("timeout") or 0) + self.default_timeout
        return self.request("client_call", bound, args={"id": client_id, "op": op, **op_args})

    def close_client(self, client_id: str, timeout: float | None = None) -> None:
        self.request("close_client", timeout, args={"id": client_id})

    def connections(self, timeout: float | None = None) -> list[dict[str, Any]]:
        return list(self.request("connections", timeout)["connections"])

    def close(self, grace: float = 5.0) -> None:
        """Shut the driver down and make sure nothing of it is left running. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self.proc.poll() is None and not self._eof.is_set():
            try:
                self.request("shutdown", grace + 2.0, args={"timeout": grace})
            except DriverError:
                pass
        for sig, wait in ((None, 2.0), (signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            if sig is not None:
                self._signal_group(sig)
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # The leader is gone; take down anything else left in its process group.
        self._signal_group(signal.SIGKILL)
        self._reader.join(timeout=2)  # the process is dead, so its stdout is at EOF
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)  # start_new_session: the pgid is the driver's pid
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
