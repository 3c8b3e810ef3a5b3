"""No container outlives a pytest run with ``--toxiproxy=docker``: after a pass, a failure, Ctrl-C
(SIGINT) and SIGTERM the run's labelled containers are gone; after SIGKILL (nothing can run) the
next clean-up removes what it left.

Each case is a real child pytest, as a user runs it, with the plugin's own session ``toxiproxy``
fixture; its test body checks that it really talks to a container of its own (by label).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from harness.net import toxiproxy_docker as td

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0

CASES = '''
import os, time
from harness.net import toxiproxy_docker as td

def _my_containers():
    return td.harness_containers(td.engine(), owner_pid=os.getpid())

def test_pass(toxiproxy):
    assert toxiproxy.version()
    assert len(_my_containers()) == 1

def test_fail(toxiproxy):
    assert len(_my_containers()) == 1
    assert False, "deliberate failure"

def test_hang(toxiproxy):
    assert len(_my_containers()) == 1
    print("READY", flush=True)
    time.sleep(120)
'''


def _child(tmp_path: Path, test: str) -> subprocess.Popen[str]:
    (tmp_path / "test_cases.py").write_text(CASES)
    cmd = [sys.executable, "-m", "pytest", str(tmp_path / "test_cases.py"), "-k", test, "-s", "-q",
           "-p", "no:cacheprovider", "--toxiproxy=docker", f"--rootdir={tmp_path}"]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _owned(client: Any, pid: int) -> list[Any]:
    return td.harness_containers(client, owner_pid=pid)


@pytest.mark.parametrize("test,code", [("test_pass", 0), ("test_fail", 1)])
def test_no_container_after_pass_or_failure(docker_client: Any, toxiproxy_image: str, tmp_path: Path,
                                            test: str, code: int):
    child = _child(tmp_path, test)
    out, _ = child.communicate(timeout=120)
    assert child.returncode == code, out
    assert ("1 passed" if code == 0 else "deliberate failure") in out, out
    assert _owned(docker_client, child.pid) == []


def _started(child: subprocess.Popen[str], client: Any) -> str:
    """Read the child's output until its test body runs; the container is up then."""
    seen = []
    deadline = time.monotonic() + START_TIMEOUT_S
    assert child.stdout is not None
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        seen.append(line)
        if "READY" in line:
            assert len(_owned(client, child.pid)) == 1
            return "".join(seen)
    child.kill()
    pytest.fail("the child never reached its test body:\n" + "".join(seen))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_no_container_after_interrupt(docker_client: Any, toxiproxy_image: str, tmp_path: Path, sig: int):
    child = _child(tmp_path, "test_hang")
    try:
        _started(child, docker_client)
        child.send_signal(sig)
        out, _ = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode != 0
    assert _owned(docker_client, child.pid) == [], out


def test_sigkill_leftover_is_cleaned_up(docker_client: Any, toxiproxy_image: str, tmp_path: Path):
    """SIGKILL runs no handler: the container stays, labelled with a dead owner, and the clean-up
    every start runs (and `python -m harness docker-clean`) removes it."""
    child = _child(tmp_path, "test_hang")
    try:
        _started(child, docker_client)
        child.kill()
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.stdout is not None
    child.stdout.close()
    left = _owned(docker_client, child.pid)
    assert len(left) == 1, "SIGKILL should leave the container (else this test proves nothing)"
    assert left[0].short_id in td.remove_orphans(docker_client)
    assert _owned(docker_client, child.pid) == []
