"""The whole rig in one container (docker/rig/Dockerfile, ``python -m harness rig``), against a real
engine with no image registry: the base image is made from Debian's packages (debootstrap | docker
import, once per machine), the rig image is rebuilt from this checkout (Docker's layer cache keeps it
to the changed layers), and a conformance selection whose fault needs NET_ADMIN (iptables on one
4-tuple) and a field file run inside it, writing their outputs to a folder on this machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from harness.net import toxiproxy_docker as td

from .conftest import build

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "durabletask-conformance/debian:bookworm"
RIG_TAG = "durabletask-conformance/rig:test"
RUN_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def rig_image(docker_client: Any, toxiproxy_image: str) -> str:
    import docker.errors
    if os.geteuid() != 0:
        pytest.skip("building the Debian base image needs root (debootstrap)")
    try:
        docker_client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        print(build("base"))
    print(build("rig", "--base", BASE_IMAGE, "--tag", RIG_TAG))
    return RIG_TAG


class RigRun(NamedTuple):
    returncode: int
    stdout: str
    stderr: str
    pid: int  # the `python -m harness rig` process: the owner label of its container


def _rig(image: str, out: Path, *args: str) -> RigRun:
    proc = subprocess.Popen([sys.executable, "-m", "harness", "rig", "--image", image, "--out", str(out), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    return RigRun(proc.returncode, stdout, stderr, proc.pid)


def _no_rig_container_left(client: Any, run: RigRun) -> None:
    assert td.harness_containers(client, owner_pid=run.pid) == []


def test_conformance_selection_with_a_connection_fault_in_the_rig(docker_client: Any, rig_image: str,
                                                                   tmp_path: Path):
    test = "conformance/test_recreate_dead_connection.py::test_recreated_channel_escapes_dead_connection"
    proc = _rig(rig_image, tmp_path, test, "--sdk=python", "--keep-histories")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout and "SDK under test: python 1.12.0" in proc.stdout, proc.stdout[-3000:]
    cases = list(ET.parse(tmp_path / "junit.xml").getroot().iter("testcase"))
    assert [c.get("name") for c in cases] == ["test_recreated_channel_escapes_dead_connection"]
    histories = list((tmp_path / "histories").glob("*.json"))
    assert histories, "the history is written to the host folder"
    text = histories[0].read_text()
    assert '"iptables_drop"' in text, "the per-connection fault (iptables, NET_ADMIN) ran inside the container"
    assert (tmp_path / "report" / "conformance.md").is_file() and (tmp_path / "report" / "conformance.html").is_file()
    assert all(p.stat().st_uid == os.getuid() for p in tmp_path.rglob("*")), "outputs belong to the caller"
    _no_rig_container_left(docker_client, proc)


def test_field_file_in_the_rig(docker_client: Any, rig_image: str, tmp_path: Path):
    field = ROOT / "scenarios" / "field" / "js_pr182_tcp_reset.toml"
    proc = _rig(rig_image, tmp_path, str(field), "--sdk=python")
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert (tmp_path / "history.json").is_file(), sorted(p.name for p in tmp_path.iterdir())
    assert list(tmp_path.glob("*.html")), "the timeline picture is written to the host folder"
    _no_rig_container_left(docker_client, proc)


def test_missing_rig_image_is_named(docker_client: Any, tmp_path: Path):
    proc = _rig("durabletask-conformance/rig:no-such-tag", tmp_path, "conformance", "--sdk=python")
    assert proc.returncode == 2
    assert "python docker/build.py rig" in proc.stderr, proc.stderr


def test_ctrl_c_removes_the_rig_container(docker_client: Any, rig_image: str, tmp_path: Path):
    field = ROOT / "scenarios" / "field" / "js_pr182_tcp_reset.toml"
    proc = subprocess.Popen([sys.executable, "-m", "harness", "rig", "--image", rig_image, "--out", str(tmp_path),
                             str(field), "--sdk=python"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not td.harness_containers(docker_client, owner_pid=proc.pid):
            assert proc.poll() is None and time.monotonic() < deadline, "the rig container never started"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert td.harness_containers(docker_client, owner_pid=proc.pid) == []
