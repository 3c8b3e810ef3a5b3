"""Toxiproxy in a container (harness/net/toxiproxy_docker.py) against a real Docker engine: it
serves on the host's loopback, forwards real bytes, carries its labels, is removed by stop(), and
every way it cannot start says what is missing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from harness.net import toxiproxy_docker as td
from harness.net.toxiproxy_client import Client
from harness.net.toxiproxy_server import ToxiproxyServer, cached_binary


def _echo_server() -> tuple[socket.socket, int]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)

    def serve() -> None:
        with srv.accept()[0] as conn:
            conn.sendall(conn.recv(1024))

    threading.Thread(target=serve, daemon=True).start()
    return srv, srv.getsockname()[1]


def test_container_serves_on_loopback_and_is_removed(docker_client: Any, toxiproxy_image: str, tmp_path: Path):
    srv, port = _echo_server()
    with td.ToxiproxyContainer(docker_client, image=toxiproxy_image, log_dir=tmp_path) as tp:
        assert tp.url.startswith("http://127.0.0.1:")
        container = docker_client.containers.get(tp.container.id)
        assert container.attrs["HostConfig"]["NetworkMode"] == "host"
        assert container.labels[td.LABEL_ROLE] == td.ROLE_TOXIPROXY
        assert container.labels[td.LABEL_PID] == str(os.getpid())
        # Its API answers on the host's loopback only: the server was told to bind 127.0.0.1.
        assert container.attrs["Args"] == ["-host=127.0.0.1", f"-port={tp.port}"]
        proxy = Client(tp.url).create_proxy("echo", upstream=f"127.0.0.1:{port}")
        assert proxy.listen_host == "127.0.0.1"
        with socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=5) as c:
            c.sendall(b"through the container")
            assert c.recv(1024) == b"through the container"
        cid = tp.container.id
    srv.close()
    assert td.harness_containers(docker_client, owner_pid=os.getpid()) == []
    assert cid not in {c.id for c in docker_client.containers.list(all=True)}
    assert list(tmp_path.glob("toxiproxy-docker-*.log")), "the container's log is kept after removal"


def test_port_in_use_is_named(docker_client: Any, toxiproxy_image: str, monkeypatch: pytest.MonkeyPatch):
    """A port taken between choosing and binding: the server's bind error is the message (attempts=1,
    so the retry that normally hides the race is off)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        monkeypatch.setattr(td, "free_port", lambda host: taken.getsockname()[1])
        tp = td.ToxiproxyContainer(docker_client, image=toxiproxy_image, attempts=1, startup_timeout=10)
        with pytest.raises(td.DockerUnavailable, match="in use"):
            tp.start()
    assert td.harness_containers(docker_client, owner_pid=os.getpid()) == []


def test_no_engine_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    with pytest.raises(td.DockerUnavailable, match="no Docker engine answers") as err:
        td.engine(timeout=2)
    assert "--toxiproxy=binary" in str(err.value) and "scripts/docker-engine" in str(err.value)
    assert td.engine_answers() is False


def test_no_image_and_no_registry_is_named(docker_client: Any):
    """An image that is not on the engine, from a registry that does not answer (a closed loopback
    port: no traffic leaves the machine)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with pytest.raises(td.DockerUnavailable, match="could not be pulled") as err:
        td.ensure_image(docker_client, f"127.0.0.1:{closed}/toxiproxy:{td.IMAGE.rsplit(':', 1)[1]}")
    assert "docker/build.py toxiproxy" in str(err.value)


def test_orphans_of_dead_owners_are_removed(docker_client: Any, toxiproxy_image: str):
    """What a SIGKILLed run leaves (a labelled container whose owner pid is gone) is removed by the
    clean-up; a container of a living owner is left alone."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    mine = dict(td.labels(td.ROLE_TOXIPROXY))
    orphan_labels = dict(mine, **{td.LABEL_PID: str(dead.pid)})
    run = dict(command=["-version"], detach=True, network_mode="none")
    orphan = docker_client.containers.create(toxiproxy_image, labels=orphan_labels, **run)
    alive = docker_client.containers.create(toxiproxy_image, labels=mine, **run)
    try:
        removed = td.remove_orphans(docker_client)
        left = {c.id for c in td.harness_containers(docker_client)}
        assert orphan.short_id in removed and orphan.id not in left
        assert alive.id in left
    finally:
        for c in (orphan, alive):
            try:
                c.remove(force=True)
            except Exception:
                pass


def test_docker_clean_command(docker_client: Any, toxiproxy_image: str):
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = docker_client.containers.create(
        toxiproxy_image, command=["-version"], network_mode="none",
        labels=dict(td.labels("rig"), **{td.LABEL_PID: str(dead.pid)}))
    proc = subprocess.run([sys.executable, "-m", "harness", "docker-clean"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert orphan.short_id in proc.stdout
    assert orphan.id not in {c.id for c in docker_client.containers.list(all=True)}


def test_choice_of_server(docker_client: Any, toxiproxy_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """--toxiproxy: docker gives a container, binary the binary; auto prefers a binary that is already
    there and takes Docker when there is none (CI with Docker and no Go)."""
    from harness.paths import default_cache_dir
    cache = default_cache_dir()
    assert isinstance(td.choose_server("docker", binary=None, cache_dir=cache), td.ToxiproxyContainer)
    if cached_binary(cache).is_file():
        assert isinstance(td.choose_server("binary", binary=None, cache_dir=cache), ToxiproxyServer)
        assert isinstance(td.choose_server("auto", binary=None, cache_dir=cache), ToxiproxyServer)
    empty_cache = tmp_path / "cache"
    monkeypatch.setenv("PATH", str(tmp_path))  # no toxiproxy-server, no go
    chosen = td.choose_server("auto", binary=None, cache_dir=empty_cache)
    assert isinstance(chosen, td.ToxiproxyContainer)
    assert td.describe_choice("auto", binary=None, cache_dir=empty_cache) == f"docker, image {td.IMAGE}"
    with pytest.raises(ValueError, match="auto, binary, docker"):
        td.choose_server("podman", binary=None, cache_dir=cache)
