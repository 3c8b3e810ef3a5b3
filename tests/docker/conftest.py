"""Fixtures of the Docker tests: a real engine (skipped, with the reason, only when none answers;
.ci/run starts one with scripts/docker-engine) and the images, built locally (there is no registry
on CI's machines): the Toxiproxy stand-in FROM scratch, tagged with the official name."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.net.toxiproxy_docker import IMAGE, DockerUnavailable, engine

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "docker" / "build.py"
BUILD_TIMEOUT_S = 900


def build(*args: str) -> str:
    """Run docker/build.py (its own output tells what it built and how long it took), one build at a
    time on this machine, and once per test run: pytest-xdist workers share the engine and the tags,
    and a second build would only move the tag away from an image the first worker is running."""
    tmp = Path(tempfile.gettempdir())
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")  # the same in every worker of one run
    done = tmp / f"dt-conformance-built-{run}-{'-'.join(args).replace('/', '_')}" if run else None
    with open(tmp / "dt-conformance-docker-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done is not None and done.exists():
            return done.read_text()
        out = _build(*args)
        if done is not None:
            done.write_text(out)
        return out


def _build(*args: str) -> str:
    proc = subprocess.run([sys.executable, str(BUILD), *args], capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT_S, cwd=ROOT)
    assert proc.returncode == 0, f"docker/build.py {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return proc.stdout


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    try:
        client = engine()
    except DockerUnavailable as exc:
        pytest.skip(f"no Docker engine answers: {exc}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def toxiproxy_image(docker_client: Any) -> str:
    """The pinned Toxiproxy image on the engine: the official one if present, else the local stand-in."""
    import docker.errors
    try:
        docker_client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        print(build("toxiproxy"))
    return IMAGE
