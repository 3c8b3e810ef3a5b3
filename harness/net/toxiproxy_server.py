"""Find, build and run a Toxiproxy server (Shopify/toxiproxy v2.12.0) for the suite.

Lookup order of ``find_or_build_binary`` (``--toxiproxy-url`` is handled by the caller:
with a running server there is nothing to find):

1. an explicit binary path (``--toxiproxy-bin``);
2. ``toxiproxy-server`` on PATH;
3. ``<cache>/bin/toxiproxy-server-2.12.0``;
4. ``go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0`` into the cache, under a
   file lock so that two pytest-xdist workers never build at the same time;
5. otherwise ``ToxiproxyUnavailable`` naming the fix.

``ToxiproxyServer`` runs one server per process (one per xdist worker) on a free loopback
port. The server must never outlive the test session, so it gets three independent
guarantees: its own process group killed by ``stop()``/atexit/SIGTERM, and on Linux
``PR_SET_PDEATHSIG`` so the kernel kills it even if pytest itself is SIGKILLed.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType

import requests

VERSION = "2.12.0"
GO_PACKAGE = f"github.com/Shopify/toxiproxy/v2/cmd/server@v{VERSION}"
GO_INSTALL = f"go install {GO_PACKAGE}"
CACHED_NAME = f"toxiproxy-server-{VERSION}"
BUILD_TIMEOUT_S = 600.0
BIND_ERROR = "address already in use"


class ToxiproxyUnavailable(RuntimeError):
    """No Toxiproxy server binary could be found, built or started; the message says how to fix it."""


# -- finding / building the binary -----------------------------------------------------------
def cached_binary(cache_dir: Path) -> Path:
    """Where the cache keeps the server binary (the version is in the name, so upgrades rebuild)."""
    return Path(cache_dir) / "bin" / CACHED_NAME


def find_or_build_binary(explicit: str | None, cache_dir: Path, *, build: bool = True) -> Path:
    """Return a runnable Toxiproxy server binary, building it with Go into the cache if needed."""
    if explicit:
        path = Path(explicit).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ToxiproxyUnavailable(f"--toxiproxy-bin {explicit}: not an executable file. "
                                       f"Pass the path of a Toxiproxy {VERSION} server binary "
                                       f"(e.g. built with '{GO_INSTALL}').")
        return path.resolve()
    on_path = shutil.which("toxiproxy-server")
    if on_path:
        return Path(on_path)
    cached = cached_binary(cache_dir)
    if _executable(cached):
        return cached
    go = shutil.which("go")
    if not build or go is None:
        raise ToxiproxyUnavailable(
            "no Toxiproxy server found: not given with --toxiproxy-bin, no 'toxiproxy-server' on PATH, "
            f"not in the cache ({cached}), and Go is {'not on PATH' if go is None else 'not to be used'} "
            "to build it. Fix: install Go >= 1.23 (the suite then builds it once into the cache), or run "
            f"'{GO_INSTALL}' and pass the resulting 'server' binary with --toxiproxy-bin, or point the "
            "suite at a running server with --toxiproxy-url http://HOST:PORT.")
    return _build(go, cached)


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _build(go: str, target: Path) -> Path:
    """``go install`` into a temp dir inside the cache, then rename: the cached name only ever
    names a complete binary, even if the build is interrupted."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{CACHED_NAME}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another xdist worker may be building; wait for it
        if _executable(target):
            return target
        with tempfile.TemporaryDirectory(prefix=".build-", dir=target.parent) as tmp:
            env = dict(os.environ, GOBIN=tmp)
            try:
                proc = subprocess.run([go, "install", GO_PACKAGE], env=env, capture_output=True,
                                      text=True, timeout=BUILD_TIMEOUT_S)
            except subprocess.TimeoutExpired as exc:
                raise ToxiproxyUnavailable(f"'{GO_INSTALL}' did not finish within {BUILD_TIMEOUT_S:.0f} s. "
                                           "Build it yourself and pass --toxiproxy-bin.") from exc
            built = Path(tmp) / "server"
            if proc.returncode != 0 or not built.is_file():
                tail = (proc.stderr or proc.stdout or "").strip()[-2000:]
                raise ToxiproxyUnavailable(f"'{GO_INSTALL}' failed (exit {proc.returncode}): {tail}\n"
                                           "Fix the Go toolchain/network, or pass --toxiproxy-bin or "
                                           "--toxiproxy-url.")
            os.replace(built, target)
    return target


# -- cleanup that survives the unexpected ------------------------------------------------------
_live: dict[int, subprocess.Popen[bytes]] = {}  # pgid -> process; read by atexit and signal handlers
_handlers_installed = False
PR_SET_PDEATHSIG = 1


try:  # resolved before any fork: dlopen in a forked child of a threaded process can deadlock
    _prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None
except (OSError, AttributeError):
    _prctl = None


def _die_with_parent() -> None:
    """preexec_fn: ask the kernel to SIGKILL the server when its parent dies.

    Caveat: the 'parent' is the spawning *thread*; fixtures run on pytest's main thread, so that
    is the whole session. Best effort: without libc's prctl this does nothing."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def _kill_all() -> None:
    for pgid, proc in list(_live.items()):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            proc.wait(timeout=1)
        _live.pop(pgid, None)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    # Only os.killpg + waitpid here; then die of the same signal, as if we had no handler.
    _kill_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_cleanup() -> None:
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_kill_all)
    if threading.current_thread() is not threading.main_thread():
        return  # signal.signal only works on the main thread; PDEATHSIG still covers us
    for sig in (signal.SIGTERM, signal.SIGHUP):
        # Never replace someone else's handler (pytest/xdist may install their own).
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _on_signal)


# -- the server process ----------------------------------------------------------------------
def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (racy by nature; ``ToxiproxyServer.start`` retries)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _listens(pid: int, port: int) -> bool | None:
    """Does process ``pid`` own the TCP listener on ``port``? None if /proc cannot tell (non-Linux)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            return None
        for row in rows:
            f = row.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(f"socket:[{f[9]}]")
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return None
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(fd) in inodes:
                return True
    return False


class ToxiproxyServer:
    """One Toxiproxy server process on ``host`` and a free port; ``url`` is its HTTP API."""

    def __init__(self, binary: Path | str, *, log_dir: Path | None = None, host: str = "127.0.0.1",
                 startup_timeout: float = 10.0, attempts: int = 5) -> None:
        self.binary = Path(binary)
        self.host = host
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.gettempdir())
        self.startup_timeout = startup_timeout
        self.attempts = attempts
        self.port: int | None = None
        self.log_path: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("ToxiproxyServer is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> ToxiproxyServer:
        if self._proc is not None:
            return self
        _install_cleanup()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        last = ""
        for _ in range(self.attempts):
            port = free_port(self.host)
            if self._spawn_and_wait(port):
                return self
            last = self._log_text()
            if BIND_ERROR not in last:
                break  # a real failure, not the free-port race: retrying will not help
        raise ToxiproxyUnavailable(f"Toxiproxy server {self.binary} did not start on {self.host} "
                                   f"(log {self.log_path}):\n{last.strip()[-2000:]}")

    def _spawn_and_wait(self, port: int) -> bool:
        self.log_path = self.log_dir / f"toxiproxy-{os.getpid()}-{port}.log"
        with open(self.log_path, "wb") as log:
            # The child keeps its own copy of the fd; ours can close at once.
            proc = subprocess.Popen([str(self.binary), "-host", self.host, "-port", str(port)],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True,
                                    preexec_fn=_die_with_parent if _prctl is not None else None)
        _live[proc.pid] = proc  # start_new_session: pgid == pid
        self._proc, self.port = proc, port
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            # A server that cannot bind logs the error and keeps running, so the log is the signal.
            if proc.poll() is not None or BIND_ERROR in self._log_text():
                break
            try:
                answered = requests.get(f"http://{self.host}:{port}/version", timeout=0.5).status_code == 200
            except requests.RequestException:
                answered = False
            # The answer may come from whoever won the port race (another xdist worker's server):
            # only trust it if the listener is ours.
            if answered and _listens(proc.pid, port) is not False:
                return True
            time.sleep(0.05)
        self.stop()
        return False

    def _log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""

    def stop(self, timeout: float = 3.0) -> None:
        """Terminate the server's process group, SIGKILL it if it lingers, and reap it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        _live.pop(proc.pid, None)

    def __enter__(self) -> ToxiproxyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
