"""The Go SDKs (``github.com/microsoft/durabletask-go``; dapr's fork ``github.com/dapr/durabletask-go``):
which build is under test, and the driver binary that runs it (harness/drivers/go/).

A Go SDK is a module compiled into its caller, so every build is a driver binary: the driver's
source is copied aside with a generated ``go.mod`` that requires the chosen module version (or
replaces the module with a local checkout), resolved through the Go module proxy and built with
``go build``. The binary is cached under ``<cache>/drivers/<sdk>-<version>-<hash>/`` where the hash
covers the driver source, the module, the version (or the checkout's files) and the toolchain; a
cached binary is reused without touching the toolchain's build. ``SdkBuild.version`` is what the
binary says it linked (``driver --version``, read from its build info).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.sdk.base import BuildChoice, DriverCommand, SdkBuild, SdkUnavailable
from harness.sdk.cache_lock import locked, tail

DRIVER_SOURCE = Path(__file__).resolve().parent.parent / "drivers" / "go"
DRIVER_MODULE = "dtconformance/godriver"
GO_DIRECTIVE = "1.23.0"
BUILD_TIMEOUT_S = 900.0
PROBE_TIMEOUT_S = 60.0
_GO_FALLBACKS = ("/usr/local/go/bin/go", "/usr/lib/go/bin/go")
_INSTALL_GO = ("install Go 1.23 or newer (https://go.dev/doc/install, or `apt-get install golang-go` where "
               "Debian ships a new enough one) and put `go` on PATH, or set $GO to the go binary")


@dataclass(frozen=True)
class GoSdk:
    """One Go SDK family: its ``--sdk`` name, module path, default version and the driver's build tag."""

    name: str
    module: str
    default_version: str
    sdk_file: str  # the driver's one file that names this SDK (harness/drivers/go/sdk_*.go)
    build_tag: str | None = None  # the build tag that selects ``sdk_file``
    schema: str = "microsoft"  # the wire schema the fake must speak to it (SdkBuild.schema)


MICROSOFT = GoSdk("go", "github.com/microsoft/durabletask-go", "v0.6.0", "sdk_microsoft.go")
DAPR = GoSdk("dapr-go", "github.com/dapr/durabletask-go", "v0.14.0", "sdk_dapr.go", build_tag="dapr", schema="dapr")


def find_go() -> Path:
    """The ``go`` binary: ``$GO``, then PATH, then the usual install places; SdkUnavailable naming the fix."""
    explicit = os.environ.get("GO")
    candidates = [explicit] if explicit else [shutil.which("go"), *_GO_FALLBACKS]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return Path(c)
    where = f"$GO={explicit} is not an executable" if explicit else "no `go` on PATH nor in " + ", ".join(_GO_FALLBACKS)
    raise SdkUnavailable(f"the Go toolchain is needed to build the Go SDK driver, but {where}. Fix: {_INSTALL_GO}.")


def go_version(go: Path) -> str:
    res = _run([str(go), "version"], cwd=None, what="go version", timeout=PROBE_TIMEOUT_S)
    return res.strip()


def resolve_go_sdk(sdk: GoSdk, *, version: str | None, path: str | None, cache_dir: Path) -> SdkBuild:
    """The driver binary for ``sdk`` at ``version`` (default: the SDK's), or built against the checkout
    at ``path``; built once per source/version/toolchain into the cache."""
    go = find_go()
    toolchain = go_version(go)
    if path:
        checkout = Path(path).resolve()
        _check_checkout(sdk, checkout)
        label = _describe_checkout(checkout)
        source = f"path:{checkout}"
        key_parts = [f"path={checkout}", f"tree={_tree_digest(checkout)}"]
    else:
        label = _normalise_version(version or sdk.default_version)
        checkout = None
        source = f"go-module:{sdk.module}@{label}"
        key_parts = [f"version={label}"]
    key = _digest([f"module={sdk.module}", f"file={sdk.sdk_file}", f"tag={sdk.build_tag}", f"go={toolchain}", *key_parts,
                   f"driver={_tree_digest(DRIVER_SOURCE)}"])
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", label)
    final = Path(cache_dir) / "drivers" / f"{sdk.name}-{safe}-{key[:12]}"
    binary = _built_driver(sdk, go, final, version=label, checkout=checkout)
    linked = _run([str(binary), "--version"], cwd=None, what=f"{binary} --version", timeout=PROBE_TIMEOUT_S).strip()
    return SdkBuild(sdk.name, "go", linked or label, source, DriverCommand((str(binary),)),
                    runtime=f"{toolchain}; {binary}", schema=sdk.schema)


class GoAdapter:
    """``--sdk=go`` (and ``--sdk=dapr-go``): a Go SDK module version from the Go module proxy, or a
    local checkout (``--sdk-path``), compiled into the Go driver."""

    language = "go"
    build_options = ()

    def __init__(self, sdk: GoSdk = MICROSOFT) -> None:
        self.sdk = sdk
        self.name = sdk.name
        self.registry = f"Go module {sdk.module} (default {sdk.default_version})"

    def resolve(self, choice: BuildChoice, cache_dir: Path) -> SdkBuild:
        return resolve_go_sdk(self.sdk, version=choice.version, path=choice.path, cache_dir=cache_dir)


# -- building ---------------------------------------------------------------------------------
def _built_driver(sdk: GoSdk, go: Path, final: Path, *, version: str, checkout: Path | None) -> Path:
    binary = final / "driver"
    if _usable(binary):  # a cache hit: no toolchain work at all
        return binary
    final.parent.mkdir(parents=True, exist_ok=True)
    with locked(final.parent / f".{final.name}.lock"):
        if _usable(binary):  # another process built it while we waited
            return binary
        if final.exists():  # a broken leftover, e.g. from a killed build
            shutil.rmtree(final, ignore_errors=True)
        # Build aside and rename, so no other process ever sees a half-built driver.
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
        try:
            _build(sdk, go, tmp, version=version, checkout=checkout)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return binary


def _build(sdk: GoSdk, go: Path, work: Path, *, version: str, checkout: Path | None) -> None:
    """Copy the driver source to ``work`` with a go.mod that asks for exactly this SDK build, resolve
    its dependency graph (the SDK's own: the driver requires nothing the SDK does not) and compile."""
    # Only this SDK's file among sdk_*.go: `go mod tidy` reads every file whatever its build tags, and
    # another fork's imports would pull that fork's dependency versions into this build's graph.
    for f in DRIVER_SOURCE.iterdir():
        if f.suffix == ".go" and not f.name.endswith("_test.go") and (
                not f.name.startswith("sdk_") or f.name == sdk.sdk_file):
            shutil.copy2(f, work / f.name)
    if checkout is None:
        require = f"require {sdk.module} {version}\n"
    else:
        # The checkout is used as it is; a replace needs a required version, any will do.
        require = f"require {sdk.module} v0.0.0\n\nreplace {sdk.module} => {checkout}\n"
    (work / "go.mod").write_text(f"module {DRIVER_MODULE}\n\ngo {GO_DIRECTIVE}\n\n{require}")
    what = f"{sdk.module} {'from ' + str(checkout) if checkout else version}"
    _run([str(go), "mod", "tidy"], cwd=work, what=f"go mod tidy for {what}", timeout=BUILD_TIMEOUT_S)
    cmd = [str(go), "build", "-trimpath", "-o", str(work / "driver")]
    if sdk.build_tag:
        cmd += ["-tags", sdk.build_tag]
    if checkout is not None:
        cmd += ["-ldflags", f"-X main.buildSdkVersion={version}"]
    _run(cmd + ["."], cwd=work, what=f"go build of the driver for {what}", timeout=BUILD_TIMEOUT_S)


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    # -mod=mod: resolve the generated go.mod through the module proxy. GOTOOLCHAIN=local: build with
    # the toolchain found, never download another behind the user's back. GOWORK=off: a go.work
    # around the cache must not change the graph.
    env.update({"GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "GOWORK": "off"})
    return env


def _run(cmd: list[str], *, cwd: Path | None, what: str, timeout: float) -> str:
    try:
        res = subprocess.run(cmd, cwd=cwd, env=_go_env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise SdkUnavailable(f"{what} took longer than {timeout:.0f}s") from exc
    except OSError as exc:
        raise SdkUnavailable(f"cannot run {cmd[0]} ({what}): {exc}. Fix: {_INSTALL_GO}.") from exc
    if res.returncode != 0:
        hint = ""
        if "unknown revision" in res.stderr or "invalid version" in res.stderr or "not found" in res.stderr:
            hint = "\nFix: pick a version the Go module proxy serves (--sdk-version vX.Y.Z), or a checkout with --sdk-path."
        raise SdkUnavailable(f"{what} failed:\n{tail(res.stderr or res.stdout)}{hint}")
    return res.stdout


def _usable(binary: Path) -> bool:
    return binary.is_file() and os.access(binary, os.X_OK)


def _normalise_version(version: str) -> str:
    return version if version.startswith("v") else f"v{version}"


def _check_checkout(sdk: GoSdk, checkout: Path) -> None:
    gomod = checkout / "go.mod"
    if not gomod.is_file():
        raise SdkUnavailable(f"--sdk-path {checkout}: no go.mod there; point it at a checkout of {sdk.module}")
    m = re.search(r"^module\s+(\S+)", gomod.read_text(), re.M)
    if not m or m.group(1) != sdk.module:
        raise SdkUnavailable(f"--sdk-path {checkout}: its go.mod declares module {m.group(1) if m else '?'}, "
                             f"not {sdk.module} (--sdk={sdk.name})")


def _describe_checkout(checkout: Path) -> str:
    """``path:<git describe>`` of the checkout (``path:<dir name>`` outside git)."""
    try:
        res = subprocess.run(["git", "-C", str(checkout), "describe", "--tags", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
        if res.returncode == 0 and res.stdout.strip():
            return f"path-{res.stdout.strip()}"
    except (OSError, subprocess.TimeoutExpired):
        pass
    return f"path-{checkout.name}"


def _tree_digest(root: Path) -> str:
    """A digest of the Go sources and module files under ``root`` (names and contents)."""
    h = hashlib.sha256()
    for f in sorted(root.rglob("*")):
        if f.is_file() and (f.suffix == ".go" or f.name in ("go.mod", "go.sum")) and "/.git/" not in str(f):
            h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()



