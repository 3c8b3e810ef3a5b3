"""The Python SDK (``durabletask`` on PyPI): which build is under test, and the interpreter that runs
its driver (harness/drivers/python/driver.py).

Four sources: the current environment (default), a PyPI version (cached venv), a local
checkout (cached venv, reinstalled once per test session) or an explicit interpreter
(``--sdk-python``). The driver's ``hello`` reports the version actually imported;
``SdkBuild.version`` is what the interpreter's package metadata says before any driver starts.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.drivers.python import DRIVER_SCRIPT
from harness.sdk.base import BuildChoice, BuildOption, DriverCommand, SdkBuild, SdkUnavailable
from harness.sdk.cache_lock import locked, tail

PIP_TIMEOUT_S = 600.0
PROBE_TIMEOUT_S = 60.0
_PROBE = ("import importlib.metadata as m, durabletask\n"
          "try:\n    print(m.version('durabletask'))\n"
          "except m.PackageNotFoundError:\n    print(getattr(durabletask, '__version__', 'unknown'))\n")


def probe_durabletask(python: str | Path) -> str:
    """The durabletask version ``python`` imports; SdkUnavailable if it cannot import it."""
    try:
        res = subprocess.run([str(python), "-c", _PROBE], capture_output=True, text=True,
                             timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SdkUnavailable(f"cannot run {python}: {exc}") from exc
    if res.returncode != 0:
        raise SdkUnavailable(f"{python} cannot import durabletask:\n{tail(res.stderr)}")
    return res.stdout.strip().splitlines()[-1]


def resolve_python_sdk(*, version: str | None, path: str | None, python: str | None,
                       cache_dir: Path) -> SdkBuild:
    """The build named by ``version``, else ``path``, else ``python``, else the current environment.
    Callers validate the choice first (harness.sdk.validate_choice: at most one of them)."""
    if version:
        return _build(_pypi_venv(version, Path(cache_dir)), f"pypi:durabletask=={version}")
    if path:
        return _build(_path_venv(Path(path), Path(cache_dir)), f"path:{Path(path).resolve()}")
    if python:
        return _build(Path(python), f"python:{python}")
    try:
        return _build(Path(sys.executable), f"env:{sys.executable}")
    except SdkUnavailable as exc:
        raise SdkUnavailable(
            f"durabletask is not installed in the current environment ({sys.executable}). "
            "Fix: `pip install durabletask`, or pick a build with --sdk-version X "
            f"(e.g. --sdk-version 1.12.0), --sdk-path DIR or --sdk-python PATH.\n{exc}") from None


def _build(python: Path, source: str) -> SdkBuild:
    return SdkBuild("python", "python", probe_durabletask(python), source, driver_command(python),
                    runtime=f"python {python}", patch_option="--patch")


def driver_command(python: str | Path) -> DriverCommand:
    """The Python driver run by ``python`` (which must be able to import durabletask)."""
    return DriverCommand((str(python), str(DRIVER_SCRIPT)), {"PYTHONUNBUFFERED": "1"})


class PythonAdapter:
    """``--sdk=python``: durabletask from PyPI, a checkout, the current environment or an interpreter."""

    name = "python"
    language = "python"
    registry = "PyPI package durabletask"
    build_options = (BuildOption("--sdk-python", "PATH",
                                 "(--sdk=python) use this Python interpreter, which already has durabletask"),)

    def resolve(self, choice: BuildChoice, cache_dir: Path) -> SdkBuild:
        return resolve_python_sdk(version=choice.version, path=choice.path,
                                  python=choice.extra.get("--sdk-python"), cache_dir=cache_dir)


def _pyver() -> str:
    return f"py{sys.version_info.major}.{sys.version_info.minor}"


def _pypi_venv(version: str, cache_dir: Path) -> Path:
    venvs = cache_dir / "venvs"
    final = venvs / f"durabletask-{version}-{_pyver()}"
    with locked(venvs / f".{final.name}.lock"):
        if _usable(final):
            return _python_in(final)
        if final.exists():  # a broken leftover, e.g. from a killed run
            shutil.rmtree(final, ignore_errors=True)
        # Build aside and rename, so no other process ever sees a half-built venv. Only
        # ``bin/python -m ...`` is used afterwards: script shebangs would name the temp path.
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=venvs))
        try:
            _make_venv(tmp)
            _pip(tmp, [f"durabletask=={version}"], what=f"durabletask=={version}")
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return _python_in(final)


def _path_venv(src: Path, cache_dir: Path) -> Path:
    src = src.resolve()
    if not src.exists():
        raise SdkUnavailable(f"--sdk-path {src}: no such directory")
    venvs = cache_dir / "venvs"
    key = hashlib.sha1(str(src).encode()).hexdigest()[:12]
    venv = venvs / f"durabletask-path-{key}-{_pyver()}"
    # One install per test session, shared by xdist workers (same PYTEST_XDIST_TESTRUNUID);
    # outside xdist every resolve reinstalls, since the checkout may have changed.
    session = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid-{os.getpid()}-{id(src)}"
    stamp = venv / ".installed-for-session"
    with locked(venvs / f".{venv.name}.lock"):
        if _usable(venv) and stamp.exists() and stamp.read_text() == session:
            return _python_in(venv)
        if not _usable(venv):
            shutil.rmtree(venv, ignore_errors=True)
            _make_venv(venv)
        _pip(venv, ["--force-reinstall", str(src)], what=f"durabletask from {src}")
        stamp.write_text(session)
    return _python_in(venv)


def _python_in(venv: Path) -> Path:
    return venv / "bin" / "python"


def _usable(venv: Path) -> bool:
    if not _python_in(venv).exists():
        return False
    try:
        probe_durabletask(_python_in(venv))
        return True
    except SdkUnavailable:
        return False


def _make_venv(venv: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], capture_output=True,
                         text=True, timeout=PIP_TIMEOUT_S)
    if res.returncode != 0:
        raise SdkUnavailable(f"cannot create a virtualenv at {venv}:\n{tail(res.stderr)}")


def _pip(venv: Path, args: list[str], *, what: str) -> None:
    cmd = [str(_python_in(venv)), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
           *args]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise SdkUnavailable(f"pip install {what} took longer than {PIP_TIMEOUT_S:.0f}s") from exc
    if res.returncode != 0:
        raise SdkUnavailable(f"pip could not install {what}:\n{tail(res.stderr or res.stdout)}")



