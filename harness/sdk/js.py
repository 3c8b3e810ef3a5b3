"""The JavaScript SDKs: ``@microsoft/durabletask-js`` (``--sdk=js``) and ``@dapr/durabletask-js``
(``--sdk=dapr-js``), both run by one Node.js driver (harness/drivers/js/driver.js).

A build is a folder in the cache, ``drivers/js-<package>-<version>-<driver hash>``: the driver's
source copied next to an ``npm install`` of the package from the npm registry. The package's own
dependency ranges pick its ``@grpc/grpc-js`` (the driver reports the resolved version in ``hello``).
The folder is built once, aside and renamed into place, so a cache hit (or a concurrent pytest-xdist
worker) never sees a half-built one; a changed driver gets a new folder. ``--sdk-path DIR`` installs
a local checkout of the package (a built package folder: its ``package.json`` and compiled files)
the same way, once per test session. Without either option the version the harness was written
against is installed (``DEFAULT_VERSIONS``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.drivers import js as js_driver
from harness.sdk.base import BuildChoice, BuildOption, DriverCommand, SdkBuild, SdkUnavailable
from harness.sdk.cache_lock import locked, tail

NPM_TIMEOUT_S = 600.0
PROBE_TIMEOUT_S = 30.0
NODE_HELP = ("Node.js 18+ and npm are needed to run the JavaScript SDK driver. Fix: install them "
             "(Debian/Ubuntu: `apt-get install nodejs npm`; or https://nodejs.org/en/download) and make "
             "sure `node` and `npm` are on PATH.")
# The releases this harness was written against (docs: /work/shared/reference/other-sdks.md §1).
DEFAULT_VERSIONS = {"@microsoft/durabletask-js": "0.4.0", "@dapr/durabletask-js": "1.0.0"}
_BUILD_MARK = ".build-complete"


def driver_source_hash() -> str:
    """A hash of every driver source file: a changed driver is a new build folder."""
    h = hashlib.sha256()
    for path in sorted(js_driver.source_files()):
        h.update(path.relative_to(js_driver.DRIVER_DIR).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SdkUnavailable(f"`{name}` was not found on PATH. {NODE_HELP}")
    return found


def node_version(node: str) -> str:
    try:
        res = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SdkUnavailable(f"cannot run {node}: {exc}. {NODE_HELP}") from exc
    if res.returncode != 0:
        raise SdkUnavailable(f"`{node} --version` failed:\n{tail(res.stderr)}\n{NODE_HELP}")
    return res.stdout.strip()


def _slug(package: str) -> str:
    return package.lstrip("@").replace("/", "-")


def _installed_version(build_dir: Path, package: str) -> str | None:
    try:
        return str(json.loads((build_dir / "node_modules" / package / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def _usable(build_dir: Path, package: str) -> bool:
    return ((build_dir / _BUILD_MARK).exists() and (build_dir / "driver.js").exists()
            and _installed_version(build_dir, package) is not None)


def _populate(build_dir: Path, package: str, spec: str, npm: str, *, what: str, extra: tuple[str, ...] = ()) -> None:
    """Copy the driver into ``build_dir`` and npm-install ``spec`` (a registry version or a path) there."""
    for src in js_driver.source_files():
        dst = build_dir / src.relative_to(js_driver.DRIVER_DIR)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    # The build's own manifest: the SDK is its one dependency, so npm resolves @grpc/grpc-js from
    # the SDK's ranges alone.
    (build_dir / "package.json").write_text(json.dumps(
        {"name": "durabletask-conformance-js-driver-build", "version": "1.0.0", "private": True,
         "dependencies": {package: spec}}, indent=2) + "\n")
    # --ignore-scripts: no install script of the SDK's dependency tree runs on this machine
    # (protobufjs's postinstall only prints a version hint).
    cmd = [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--omit=dev", "--loglevel=error",
           *extra]
    try:
        res = subprocess.run(cmd, cwd=build_dir, capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise SdkUnavailable(f"npm install {what} took longer than {NPM_TIMEOUT_S:.0f}s") from exc
    if res.returncode != 0:
        raise SdkUnavailable(f"npm could not install {what} (from {build_dir}):\n{tail(res.stderr or res.stdout)}\n"
                             "Fix: check the version exists (`npm view PACKAGE versions`) and that the npm "
                             "registry is reachable (`npm config get registry`).")
    if _installed_version(build_dir, package) is None:
        raise SdkUnavailable(f"npm install {what} finished but node_modules/{package} is missing")
    (build_dir / _BUILD_MARK).write_text(spec + "\n")


def _registry_build(package: str, version: str, cache_dir: Path, npm: str) -> Path:
    drivers = cache_dir / "drivers"
    final = drivers / f"js-{_slug(package)}-{version}-{driver_source_hash()}"
    with locked(drivers / f".{final.name}.lock"):
        if _usable(final, package):
            return final
        if final.exists():  # a broken leftover, e.g. from a killed run
            shutil.rmtree(final, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=drivers))
        try:
            _populate(tmp, package, version, npm, what=f"{package}@{version}")
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final


def _path_build(package: str, src: Path, cache_dir: Path, npm: str) -> Path:
    src = src.resolve()
    manifest = src / "package.json"
    if not manifest.exists():
        raise SdkUnavailable(f"--sdk-path {src}: no package.json there; point it at the built package "
                             f"folder of {package} (e.g. packages/durabletask-js after `npm run build`)")
    try:
        name = json.loads(manifest.read_text()).get("name")
    except ValueError as exc:
        raise SdkUnavailable(f"--sdk-path {src}: unreadable package.json: {exc}") from exc
    if name != package:
        raise SdkUnavailable(f"--sdk-path {src} holds the package {name!r}, not {package!r}: pick the --sdk "
                             "whose package it is, or the package's own folder in a monorepo")
    drivers = cache_dir / "drivers"
    key = hashlib.sha1(str(src).encode()).hexdigest()[:12]
    build = drivers / f"js-{_slug(package)}-path-{key}-{driver_source_hash()}"
    # One install per test session, shared by xdist workers (same PYTEST_XDIST_TESTRUNUID);
    # outside xdist every resolve reinstalls, since the checkout may have changed.
    session = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid-{os.getpid()}-{id(src)}"
    stamp = build / ".installed-for-session"
    with locked(drivers / f".{build.name}.lock"):
        if _usable(build, package) and stamp.exists() and stamp.read_text() == session:
            return build
        shutil.rmtree(build, ignore_errors=True)
        build.mkdir(parents=True)
        # --install-links: a real copy of the folder, with its dependencies resolved in this tree,
        # not a symlink into the checkout (whose own node_modules would be used).
        _populate(build, package, f"file:{src}", npm, what=f"{package} from {src}", extra=("--install-links",))
        stamp.write_text(session)
    return build


class JsAdapter:
    """``--sdk=js`` / ``--sdk=dapr-js``: one npm package, run by harness/drivers/js/driver.js."""

    language = "javascript"
    build_options: tuple[BuildOption, ...] = ()

    def __init__(self, name: str, package: str) -> None:
        self.name = name
        self.package = package
        self.registry = f"npm package {package}"

    def resolve(self, choice: BuildChoice, cache_dir: Path) -> SdkBuild:
        node, npm = _tool("node"), _tool("npm")
        runtime = f"node {node} ({node_version(node)})"
        if choice.path:
            build = _path_build(self.package, Path(choice.path), Path(cache_dir), npm)
            source = f"path:{Path(choice.path).resolve()}"
        else:
            version = choice.version or DEFAULT_VERSIONS[self.package]
            build = _registry_build(self.package, version, Path(cache_dir), npm)
            source = f"npm:{self.package}@{version}"
        version_installed = _installed_version(build, self.package) or "unknown"
        return SdkBuild(self.name, self.language, version_installed, source,
                        driver_command(node, build, self.package, self.name), runtime=runtime)


def driver_command(node: str, build_dir: Path, package: str, sdk_name: str) -> DriverCommand:
    """The driver in ``build_dir`` (a populated build folder) for ``package``."""
    return DriverCommand((node, str(build_dir / "driver.js"), "--sdk-package", package, "--sdk-name", sdk_name),
                         cwd=build_dir)


def microsoft_adapter() -> JsAdapter:
    return JsAdapter("js", "@microsoft/durabletask-js")


def dapr_adapter() -> JsAdapter:
    return JsAdapter("dapr-js", "@dapr/durabletask-js")



