"""A real dapr build against the fake: PyPI ``durabletask-dapr`` (the dapr fork of the Python SDK, same
import name ``durabletask``) in its own cached virtualenv, never imported here.

With the dapr schema an orchestration with one activity completes; with the microsoft schema its
first completion does not decode (a string taskExecutionId in ScheduleTaskAction field 5) and the
fake records why, naming the dapr schema."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from fakes.sidecar import FakeSidecar
from harness.history import FAKE, History
from harness.paths import default_cache_dir

DAPR_SDK = "durabletask-dapr==0.17.4"  # newest on PyPI when written; gencode needs protobuf 6.31+ (<7)
PIP_TIMEOUT_S = 600

SCRIPT = textwrap.dedent("""
    import json, sys
    from durabletask import client, task, worker

    def greet(ctx: task.ActivityContext, name: str) -> str:
        return f"Hello, {name}!"

    def hello_orch(ctx: task.OrchestrationContext, name: str):
        return (yield ctx.call_activity(greet, input=name))

    w = worker.TaskHubGrpcWorker(host_address=sys.argv[1])
    w.add_orchestrator(hello_orch)
    w.add_activity(greet)
    w.start()
    try:
        c = client.TaskHubGrpcClient(host_address=sys.argv[1])
        iid = c.schedule_new_orchestration(hello_orch, input="fake")
        try:
            st = c.wait_for_orchestration_completion(iid, timeout=float(sys.argv[2]))
            print(json.dumps({"id": iid, "status": st.runtime_status.name, "output": st.serialized_output}))
        except TimeoutError:
            print(json.dumps({"id": iid, "status": "TIMED_OUT"}))
    finally:
        w.stop()
""")


@pytest.fixture(scope="module")
def dapr_python() -> Path:
    """A virtualenv with durabletask-dapr from PyPI, built once into the harness cache (aside, then
    renamed, so a half-built one is never used)."""
    venvs = default_cache_dir() / "venvs"
    final = venvs / f"{DAPR_SDK.replace('==', '-')}-py{sys.version_info.major}.{sys.version_info.minor}"
    python = final / "bin" / "python"
    venvs.mkdir(parents=True, exist_ok=True)
    with open(venvs / f".{final.name}.lock", "w") as lock:  # xdist workers: one builds, the others wait
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists():
            return python
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=venvs))
        try:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(tmp)], check=True, timeout=PIP_TIMEOUT_S)
            res = subprocess.run([str(tmp / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                                  "--no-input", DAPR_SDK], capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
            assert res.returncode == 0, f"pip install {DAPR_SDK} failed (PyPI reachable?):\n{res.stderr[-2000:]}"
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return python


def _run(python: Path, schema: str, wait_s: float, tmp_path: Path) -> tuple[History, dict]:
    history = History(f"dapr-python-{schema}")
    script = tmp_path / "dapr_sdk.py"
    script.write_text(SCRIPT)
    with FakeSidecar(history, schema=schema) as fake:
        proc = subprocess.run([str(python), str(script), fake.address, str(wait_s)], capture_output=True, text=True,
                              timeout=wait_s + 30)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return history, json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_durabletask_dapr_completes_with_the_dapr_schema(dapr_python: Path, tmp_path: Path) -> None:
    history, out = _run(dapr_python, "dapr", 15.0, tmp_path)
    assert out["status"] == "COMPLETED" and json.loads(out["output"]) == "Hello, fake!"
    assert history.select(FAKE, "decode_error") == []
    seq = [e.get("method") for e in history.select(FAKE, "rpc_start")]
    it = iter(seq)
    assert all(m in it for m in ("StartInstance", "CompleteOrchestratorTask", "CompleteActivityTask",
                                 "CompleteOrchestratorTask")), seq
    assert len(history.select(FAKE, "work_item_completed", duplicate=False)) == 3
    dropped = {e.get("path") for e in history.select(FAKE, "schema_dropped")}
    assert "WorkflowResponse.actions.scheduleTask.taskExecutionId" in dropped


@pytest.mark.slow
def test_durabletask_dapr_against_the_microsoft_schema_is_explained(dapr_python: Path, tmp_path: Path) -> None:
    history, out = _run(dapr_python, "microsoft", 2.0, tmp_path)
    assert out["status"] == "TIMED_OUT"  # its completion never got through
    err = history.first(source=FAKE, kind="decode_error")
    assert err is not None, [e.kind for e in history.select(FAKE)]
    assert (err.get("method"), err.get("owner"), err.get("field_number"), err.get("decodes_with")) == (
        "CompleteOrchestratorTask", "ScheduleTaskAction", 5, "dapr")
    assert "is this a dapr build? Run it with the dapr schema" in err.get("message")
