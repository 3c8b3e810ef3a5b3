"""The Python SDKs (``durabletask`` on PyPI; dapr's fork ``durabletask-dapr``): which build is under
test, and the interpreter that runs its driver (harness/drivers/python/driver.py).

Both distributions install the same import package, ``durabletask``, so one driver serves both and
they can never share an environment; which one an interpreter has is read from its package metadata
(the distribution that provides the ``durabletask`` import), never guessed from the version.

Four sources: the current environment (default; for dapr-python, the pinned PyPI release when the
environment has no durabletask-dapr), a PyPI version (cached venv), a local checkout (cached venv,
reinstalled once per test session) or an explicit interpreter (``--sdk-python``). The driver's
``hello`` reports the version actually imported; ``SdkBuild.version`` is what the interpreter's
package metadata says before any driver starts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.drivers.python import DRIVER_SCRIPT
from harness.sdk.base import BuildChoice, BuildOption, DriverCommand, SdkBuild, SdkUnavailable
from harness.sdk.cache_lock import locked, tail

PIP_TIMEOUT_S = 600.0
PROBE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class PythonSdk:
    """One Python SDK family: its ``--sdk`` name, PyPI distribution, the wire schema the fake must speak
    to it (SdkBuild.schema), and the release used when the current environment does not have it."""

    name: str
    distribution: str
    schema: str = "microsoft"
    default_version: str | None = None  # None: the current environment is the default build


MICROSOFT = PythonSdk("python", "durabletask")
# dapr/durabletask-python, published as durabletask-dapr: speaks dapr's forked proto. Its default is a
# pinned release because the harness's own environment holds microsoft's durabletask (same import name).
DAPR = PythonSdk("dapr-python", "durabletask-dapr", schema="dapr", default_version="0.17.4")

IMPORT_NAME = "durabletask"  # what both distributions install, and what the driver imports
# Prints {"version": ..., "providers": [...]}: the distributions that provide the import (metadata), and
# the version of the wanted one (argv[1]); exits 1 with the ImportError when the import fails.
_PROBE = ("import importlib.metadata as m, json, sys, durabletask\n"
          "providers = m.packages_distributions().get('durabletask', [])\n"
          "try:\n    version = m.version(sys.argv[1])\n"
          "except m.PackageNotFoundError:\n    version = None\n"
          "print(json.dumps({'version': version, 'providers': providers,\n"
          "                  'fallback': getattr(durabletask, '__version__', None)}))\n")


def probe_durabletask(python: str | Path, distribution: str = MICROSOFT.distribution) -> str:
    """The version of ``distribution`` that ``python`` imports as ``durabletask``; SdkUnavailable if it
    cannot import it, or if the import comes from another distribution (microsoft's vs dapr's fork)."""
    # Run from an empty directory: ``python -c`` puts the working directory first on sys.path, so from
    # inside an SDK checkout it would read the checkout's ``durabletask``, not the interpreter's (the
    # driver, started as a script, never does: the header would name another version than the one tested).
    try:
        with tempfile.TemporaryDirectory(prefix="dtc-probe-") as empty:
            res = subprocess.run([str(python), "-c", _PROBE, distribution], capture_output=True, text=True,
                                 timeout=PROBE_TIMEOUT_S, cwd=empty)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SdkUnavailable(f"cannot run {python}: {exc}") from exc
    if res.returncode != 0:
        raise SdkUnavailable(f"{python} cannot import {IMPORT_NAME}:\n{tail(res.stderr)}")
    found = json.loads(res.stdout.strip().splitlines()[-1])
    providers = [p.lower() for p in found["providers"]]
    if found["version"] and (not providers or distribution in providers):
        return found["version"]
    if providers and distribution not in providers:
        other = next((s.name for s in (MICROSOFT, DAPR) if s.distribution in providers), None)
        hint = f" Fix: use --sdk={other} for it" if other else ""
        raise SdkUnavailable(f"{python} imports {IMPORT_NAME} from {', '.join(providers)}, not from "
                             f"{distribution}.{hint}, or pick an environment that has {distribution}.")
    # An installed tree without distribution metadata (e.g. PYTHONPATH into a checkout): trust the module.
    return str(found["fallback"] or "unknown")


def resolve_python_sdk(*, version: str | None, path: str | None, python: str | None,
                       cache_dir: Path, sdk: PythonSdk = MICROSOFT) -> SdkBuild:
    """The build named by ``version``, else ``path``, else ``python``, else the current environment
    (for an SDK with a ``default_version``: that release when the environment lacks the SDK).
    Callers validate the choice first (harness.sdk.validate_choice: at most one of them)."""
    if version:
        return _build(sdk, _pypi_venv(sdk, version, Path(cache_dir)), f"pypi:{sdk.distribution}=={version}")
    if path:
        return _build(sdk, _path_venv(sdk, Path(path), Path(cache_dir)), f"path:{Path(path).resolve()}")
    if python:
        return _build(sdk, Path(python), f"python:{python}")
    try:
        return _build(sdk, Path(sys.executable), f"env:{sys.executable}")
    except SdkUnavailable as exc:
        if sdk.default_version:
            return _build(sdk, _pypi_venv(sdk, sdk.default_version, Path(cache_dir)),
                          f"pypi:{sdk.distribution}=={sdk.default_version} (default: not in {sys.executable})")
        raise SdkUnavailable(
            f"{sdk.distribution} is not installed in the current environment ({sys.executable}). "
            f"Fix: `pip install {sdk.distribution}`, or pick a build with --sdk-version X "
            f"(e.g. --sdk-version 1.12.0), --sdk-path DIR or --sdk-python PATH.\n{exc}") from None


def _build(sdk: PythonSdk, python: Path, source: str) -> SdkBuild:
    return SdkBuild(sdk.name, "python", probe_durabletask(python, sdk.distribution), source, driver_command(python),
                    runtime=f"python {python}", patch_option="--patch", schema=sdk.schema)


def driver_command(python: str | Path) -> DriverCommand:
    """The Python driver run by ``python`` (which must be able to import durabletask)."""
    return DriverCommand((str(python), str(DRIVER_SCRIPT)), {"PYTHONUNBUFFERED": "1"})


class PythonAdapter:
    """``--sdk=python`` (and ``--sdk=dapr-python``): the SDK from PyPI, a checkout, the current
    environment or an interpreter."""

    language = "python"

    def __init__(self, sdk: PythonSdk = MICROSOFT) -> None:
        self.sdk = sdk
        self.name = sdk.name
        self.registry = f"PyPI package {sdk.distribution}"
        # One --sdk-python flag for both names (the registry's option set is one pytest option per flag).
        self.build_options = (BuildOption("--sdk-python", "PATH",
                                          "(--sdk=python, --sdk=dapr-python) use this Python interpreter, which "
                                          "already has the SDK"),)

    def resolve(self, choice: BuildChoice, cache_dir: Path) -> SdkBuild:
        return resolve_python_sdk(version=choice.version, path=choice.path,
                                  python=choice.extra.get("--sdk-python"), cache_dir=cache_dir, sdk=self.sdk)


def _pyver() -> str:
    return f"py{sys.version_info.major}.{sys.version_info.minor}"


def _pypi_venv(sdk: PythonSdk, version: str, cache_dir: Path) -> Path:
    venvs = cache_dir / "venvs"
    final = venvs / f"{sdk.distribution}-{version}-{_pyver()}"
    with locked(venvs / f".{final.name}.lock"):
        if _usable(final, sdk):
            return _python_in(final)
        if final.exists():  # a broken leftover, e.g. from a killed run
            shutil.rmtree(final, ignore_errors=True)
        # Build aside and rename, so no other process ever sees a half-built venv. Only
        # ``bin/python -m ...`` is used afterwards: script shebangs would name the temp path.
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=venvs))
        try:
            _make_venv(tmp)
            _pip(tmp, [f"{sdk.distribution}=={version}"], what=f"{sdk.distribution}=={version}")
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return _python_in(final)


def _path_venv(sdk: PythonSdk, src: Path, cache_dir: Path) -> Path:
    src = src.resolve()
    if not src.exists():
        raise SdkUnavailable(f"--sdk-path {src}: no such directory")
    venvs = cache_dir / "venvs"
    key = hashlib.sha1(str(src).encode()).hexdigest()[:12]
    venv = venvs / f"{sdk.distribution}-path-{key}-{_pyver()}"
    # One install per test session, shared by xdist workers (same PYTEST_XDIST_TESTRUNUID);
    # outside xdist every resolve reinstalls, since the checkout may have changed.
    session = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid-{os.getpid()}-{id(src)}"
    stamp = venv / ".installed-for-session"
    with locked(venvs / f".{venv.name}.lock"):
        if _usable(venv, sdk) and stamp.exists() and stamp.read_text() == session:
            return _python_in(venv)
        if not _usable(venv, sdk):
            shutil.rmtree(venv, ignore_errors=True)
            _make_venv(venv)
        _pip(venv, ["--force-reinstall", str(src)], what=f"{sdk.distribution} from {src}")
        stamp.write_text(session)
    return _python_in(venv)


def _python_in(venv: Path) -> Path:
    return venv / "bin" / "python"


def _usable(venv: Path, sdk: PythonSdk) -> bool:
    if not _python_in(venv).exists():
        return False
    try:
        probe_durabletask(_python_in(venv), sdk.distribution)
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



