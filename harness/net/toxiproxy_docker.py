"""Toxiproxy in a Docker container: the official image at the pinned version, for machines with a
Docker engine and no Go (an SDK repository's CI), with the same start/stop/url surface as
``ToxiproxyServer`` (harness/net/toxiproxy_server.py).

    with ToxiproxyContainer(engine(), log_dir=...) as srv:   # ghcr.io/shopify/toxiproxy:2.12.0
        Client(srv.url) ...

Network: the container shares the host's network namespace (``network_mode="host"``) and the
server binds 127.0.0.1 only (``-host=127.0.0.1``), so its API and every proxy listen on the host's
loopback and nowhere else, exactly as the binary does. Publishing ports from a bridge network
(``-p 127.0.0.1:P:P``) was rejected because it changes what the suite measures:
- the fake listens on the host's 127.0.0.1, which a bridged container cannot reach as an upstream;
- with published ports the SDK's socket ends at Docker's port forwarder, not at Toxiproxy, so
  ``FaultyLink.tcp_reset`` (``ss -K`` on the proxy's socket) and the per-connection iptables faults
  (harness/net/conn.py, matched on the 4-tuple) would hit the forwarder, and a disabled proxy would
  accept-then-close instead of refusing;
- traffic would leave loopback for the bridge's private range.
With the host's namespace every socket, 4-tuple and RST is the one the binary would produce. (On
macOS/Windows, Docker Desktop's "host" is its Linux VM: run the whole rig in one container there,
``python -m harness rig``, which runs the binary inside it.)

Never left behind: each container carries labels (``LABEL_ROLE``, the owning pid and host); it is
force-removed by ``stop()``, by an atexit hook and on SIGTERM/SIGHUP; Ctrl-C unwinds through
``stop()``. A SIGKILLed run cannot clean up, so every start first removes the containers whose
owner process is gone (``remove_orphans``), and ``python -m harness docker-clean`` does it by hand.

Errors name what is missing (``DockerUnavailable``, a ``ToxiproxyUnavailable``): no ``docker``
package, no engine answering, no image and no registry to pull it from, a port in use.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import requests

from harness.net.toxiproxy_server import BIND_ERROR, VERSION, ToxiproxyUnavailable, _listens, free_port

IMAGE_REPO = "ghcr.io/shopify/toxiproxy"
IMAGE = f"{IMAGE_REPO}:{VERSION}"  # the official image, at the version the binary path builds
LABEL_ROLE = "io.github.durabletask-conformance.role"
LABEL_PID = "io.github.durabletask-conformance.pid"
LABEL_HOST = "io.github.durabletask-conformance.host"
ROLE_TOXIPROXY = "toxiproxy"
BUILD_HINT = ("or build a local stand-in with the same name from the Go-built server: "
              "`python docker/build.py toxiproxy` (in a checkout of this harness)")


class DockerUnavailable(ToxiproxyUnavailable):
    """Docker cannot serve Toxiproxy: no client package, no engine, no image; the message says the fix."""


# -- the engine -------------------------------------------------------------------------------------
def engine(timeout: float = 10.0) -> Any:
    """A ``docker.DockerClient`` whose engine answered a ping (``DOCKER_HOST`` etc. as the docker CLI)."""
    try:
        import docker
    except ImportError as exc:
        raise DockerUnavailable("the 'docker' Python package is not installed: `pip install docker` "
                                "(it is a dependency of this harness; reinstall it)") from exc
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except Exception as exc:  # DockerException, requests' ConnectionError, a missing socket ...
        raise DockerUnavailable(
            f"no Docker engine answers at {where} ({type(exc).__name__}: {str(exc)[:300]}). Start one (Docker "
            "Desktop; `systemctl start docker`; on Debian as root: scripts/docker-engine), point DOCKER_HOST "
            "at one, or use the binary: --toxiproxy=binary") from None
    return client


def engine_answers() -> bool:
    """True when a Docker engine answers (the automatic choice's question); never raises."""
    try:
        engine(timeout=3.0).close()
        return True
    except DockerUnavailable:
        return False


def ensure_image(client: Any, image: str = IMAGE) -> str:
    """The image's id, pulling it when absent; ``DockerUnavailable`` when neither works."""
    import docker.errors
    try:
        return str(client.images.get(image).id)
    except docker.errors.ImageNotFound:
        pass
    repo, tag = image.rsplit(":", 1)
    try:
        return str(client.images.pull(repo, tag=tag).id)
    except docker.errors.APIError as exc:
        raise DockerUnavailable(
            f"Docker image {image} is not on this engine and could not be pulled ({str(exc)[:300]}). Fix: let "
            f"the engine reach the registry (`docker pull {image}`), `docker load` a saved copy, {BUILD_HINT}; "
            "or use the binary: --toxiproxy=binary") from None


# -- labels and clean-up ----------------------------------------------------------------------------
def labels(role: str) -> dict[str, str]:
    """The labels every container this harness starts carries: what it is and who owns it."""
    return {LABEL_ROLE: role, LABEL_PID: str(os.getpid()), LABEL_HOST: socket.gethostname()}


def _owner_alive(container: Any) -> bool:
    lab = container.labels or {}
    if lab.get(LABEL_HOST) != socket.gethostname():
        return True  # another machine's (or another container's) process: cannot tell, leave it
    try:
        os.kill(int(lab.get(LABEL_PID, "0")), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def harness_containers(client: Any, *, owner_pid: int | None = None) -> list[Any]:
    """Every container (running or not) this harness labelled; only ``owner_pid``'s if given."""
    filters = [f"{LABEL_ROLE}"] + ([f"{LABEL_PID}={owner_pid}"] if owner_pid is not None else [])
    return list(client.containers.list(all=True, filters={"label": filters}))


def remove_orphans(client: Any, *, everything: bool = False) -> list[str]:
    """Force-remove the labelled containers whose owner process is gone (all of them with
    ``everything``); returns their short ids. What a SIGKILLed run left behind."""
    removed = []
    for c in harness_containers(client):
        if everything or not _owner_alive(c):
            with contextlib.suppress(Exception):  # removed meanwhile by its owner or another clean-up
                c.remove(force=True)
                removed.append(str(c.short_id))
    return removed


_live: dict[str, Any] = {}  # container id -> container, removed by atexit and signal handlers
_handlers_installed = False


def run_labelled(client: Any, image: str, *, role: str, name: str, **options: Any) -> Any:
    """Start a container labelled for ``role`` (``options`` as ``containers.run``), detached, and
    register it with the atexit/signal clean-up. Interrupted anywhere in between (Ctrl-C between the
    engine's create and start), the container is removed by its name before the interrupt goes on."""
    _install_cleanup()
    try:
        container = client.containers.run(image, detach=True, name=name, labels=labels(role), **options)
        _live[container.id] = container
        return container
    except BaseException:
        with contextlib.suppress(Exception):
            client.containers.get(name).remove(force=True)
        raise


def forget(container: Any) -> None:
    """The container is removed: the atexit/signal clean-up need not remove it."""
    _live.pop(container.id, None)


def _remove_all() -> None:
    for cid, container in list(_live.items()):
        with contextlib.suppress(Exception):
            container.remove(force=True)
        _live.pop(cid, None)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _remove_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_cleanup() -> None:
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_remove_all)
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):  # never replace someone else's handler
            signal.signal(sig, _on_signal)


# -- the server in a container ----------------------------------------------------------------------
class ToxiproxyContainer:
    """One Toxiproxy server in a container of ``image`` on the host's loopback; ``url`` is its API."""

    kind = "docker"

    def __init__(self, client: Any, *, image: str = IMAGE, log_dir: Path | None = None,
                 host: str = "127.0.0.1", startup_timeout: float = 20.0, attempts: int = 5) -> None:
        self.client = client
        self.image = image
        self.host = host
        self.log_dir = Path(log_dir) if log_dir else None
        self.startup_timeout = startup_timeout
        self.attempts = attempts
        self.port: int | None = None
        self.container: Any = None
        self.last_log = ""

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("ToxiproxyContainer is not started")
        return f"http://{self.host}:{self.port}"

    def describe(self) -> str:
        cid = self.container.short_id if self.container is not None else "not started"
        return f"docker image {self.image} (container {cid})"

    def start(self) -> ToxiproxyContainer:
        if self.container is not None:
            return self
        _install_cleanup()
        remove_orphans(self.client)
        ensure_image(self.client, self.image)
        for _ in range(self.attempts):
            port = free_port(self.host)
            if self._run_and_wait(port):
                return self
            if BIND_ERROR not in self.last_log:
                break  # a real failure, not the free-port race: retrying will not help
        in_use = f" (port {self.port} in use: {BIND_ERROR})" if BIND_ERROR in self.last_log else ""
        raise DockerUnavailable(f"Toxiproxy container of {self.image} did not answer on {self.host}{in_use}; "
                                f"its log:\n{self.last_log.strip()[-2000:]}")

    def _run_and_wait(self, port: int) -> bool:
        self.port = port
        # The image's entrypoint is the server (/toxiproxy); these are its arguments.
        self.container = run_labelled(self.client, self.image, role=ROLE_TOXIPROXY,
                                      name=f"dt-toxiproxy-{os.getpid()}-{port}",
                                      command=[f"-host={self.host}", f"-port={port}"], network_mode="host")
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._answers(port):
                return True
            self.container.reload()
            if self.container.status in ("exited", "dead") or BIND_ERROR in self._logs():
                break  # the server logs a bind error and keeps running: the log is the signal
            time.sleep(0.05)
        self.last_log = self._logs()
        self.stop()
        return False

    def _answers(self, port: int) -> bool:
        try:
            ok = requests.get(f"http://{self.host}:{port}/version", timeout=0.5).status_code == 200
        except requests.RequestException:
            return False
        # Another process may have won the port race: trust the answer only if the listener is the
        # container's server (same network namespace, so its host pid owns the socket).
        self.container.reload()
        pid = int(self.container.attrs.get("State", {}).get("Pid") or 0)
        return ok and (pid == 0 or _listens(pid, port) is not False)

    def _logs(self) -> str:
        try:
            return self.container.logs().decode(errors="replace")
        except Exception:
            return ""

    def stop(self) -> None:
        """Force-remove the container (Toxiproxy keeps no state worth a graceful stop)."""
        container, self.container = self.container, None
        if container is None:
            return
        if self.log_dir is not None:
            with contextlib.suppress(Exception):
                self.log_dir.mkdir(parents=True, exist_ok=True)
                (self.log_dir / f"toxiproxy-docker-{os.getpid()}-{self.port}.log").write_bytes(container.logs())
        with contextlib.suppress(Exception):  # already gone (docker-clean, the engine restarted)
            container.remove(force=True)
        forget(container)

    def __enter__(self) -> ToxiproxyContainer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- which server: the --toxiproxy choice -----------------------------------------------------------
MODES = ("auto", "binary", "docker")


def choose_server(mode: str, *, binary: str | None, cache_dir: Path,
                  log_dir: Path | None = None) -> Any:
    """An unstarted server (``ToxiproxyServer`` or ``ToxiproxyContainer``) for ``--toxiproxy=mode``.

    ``binary``: find or build the binary (``--toxiproxy-bin`` implies it). ``docker``: the official
    image. ``auto``: a binary already there (PATH, the cache), else Docker when an engine answers and
    has or can pull the image (CI with Docker and no Go), else build the binary with Go; the error
    when none works names what each path lacked."""
    from harness.net.toxiproxy_server import ToxiproxyServer, find_or_build_binary
    log_dir = log_dir or Path(cache_dir) / "logs"
    if mode not in MODES:
        raise ValueError(f"--toxiproxy={mode}: choose one of {', '.join(MODES)}")
    if mode == "binary" or binary:
        return ToxiproxyServer(find_or_build_binary(binary, cache_dir), log_dir=log_dir)
    if mode == "docker":
        return ToxiproxyContainer(engine(), log_dir=log_dir)
    with contextlib.suppress(ToxiproxyUnavailable):
        return ToxiproxyServer(find_or_build_binary(None, cache_dir, build=False), log_dir=log_dir)
    try:
        client = engine(timeout=3.0)
        ensure_image(client)
        return ToxiproxyContainer(client, log_dir=log_dir)
    except DockerUnavailable as exc:
        no_docker = exc
    try:
        return ToxiproxyServer(find_or_build_binary(None, cache_dir), log_dir=log_dir)
    except ToxiproxyUnavailable as exc:
        raise ToxiproxyUnavailable(f"{exc}\nNor through Docker: {no_docker}") from None


def describe_choice(mode: str, *, binary: str | None, cache_dir: Path) -> str:
    """What ``choose_server`` would pick, for the pytest header; never builds, pulls or starts."""
    from harness.net.toxiproxy_server import find_or_build_binary
    if mode == "docker" and not binary:
        return f"docker, image {IMAGE}"
    try:
        return f"binary {find_or_build_binary(binary, cache_dir, build=False)}"
    except ToxiproxyUnavailable:
        if mode == "binary" or binary:
            return "binary, to be built with Go"
    return f"docker, image {IMAGE}" if engine_answers() else "binary, to be built with Go (no Docker engine answers)"
