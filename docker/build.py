#!/usr/bin/env python3
"""Build the harness's Docker images locally, for engines that cannot reach an image registry.

    python docker/build.py toxiproxy   # ghcr.io/shopify/toxiproxy:2.12.0, FROM scratch, static server
    python docker/build.py base        # durabletask-conformance/debian:bookworm from Debian's packages
    python docker/build.py rig [--base IMAGE] [--sdk REQUIREMENT]   # durabletask-conformance/rig

Each prints what it built and how long it took. ``toxiproxy`` compiles the pinned Toxiproxy server
with Go (CGO_ENABLED=0, as the official image ships it) into the cache and tags a FROM-scratch image
with the official name, so ``--toxiproxy=docker`` finds it without pulling. ``base`` needs root and
debootstrap (Debian's package) and uses the host's apt mirror. ``rig`` downloads every wheel the
image needs with the host's pip first (for the engine's platform), so the build needs only apt.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import docker.errors  # noqa: E402

from harness.net.toxiproxy_docker import IMAGE, engine  # noqa: E402
from harness.net.toxiproxy_server import GO_PACKAGE, cached_binary  # noqa: E402
from harness.paths import default_cache_dir  # noqa: E402

BASE_IMAGE = "durabletask-conformance/debian:bookworm"
RIG_IMAGE = "durabletask-conformance/rig:latest"
BASE_PACKAGES = "python3,python3-venv,iptables,iproute2,ca-certificates"  # what the rig installs anyway
RIG_PYTHON = "3.11"  # Debian bookworm's python3, the rig's interpreter
PROJECT_FILES = ("harness", "fakes", "conformance", "scenarios", "pyproject.toml", "README.md")


def static_server(cache_dir: Path) -> Path:
    """The pinned Toxiproxy server, statically linked, built once into the cache."""
    target = cached_binary(cache_dir).with_name(cached_binary(cache_dir).name + "-static")
    if target.is_file():
        return target
    go = shutil.which("go") or ("/usr/local/go/bin/go" if os.access("/usr/local/go/bin/go", os.X_OK) else None)
    if go is None:
        sys.exit("docker/build.py toxiproxy: Go is needed to compile the server (install Go >= 1.23), or pull "
                 f"the official image instead: docker pull {IMAGE}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=target.parent) as tmp:
        env = dict(os.environ, GOBIN=tmp, CGO_ENABLED="0", GOTOOLCHAIN=os.environ.get("GOTOOLCHAIN", "auto"))
        subprocess.run([go, "install", GO_PACKAGE], env=env, check=True)
        os.replace(Path(tmp) / "server", target)
    return target


def build_toxiproxy(cache_dir: Path) -> None:
    t0 = time.monotonic()
    binary = static_server(cache_dir)
    t1 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dt-toxiproxy-image-") as ctx:
        shutil.copy(ROOT / "docker" / "toxiproxy" / "Dockerfile", ctx)
        shutil.copy(binary, Path(ctx) / "toxiproxy-server")
        image, _ = engine().images.build(path=ctx, tag=IMAGE, rm=True)
    print(f"built {IMAGE} ({image.short_id}) from {binary}: server {t1 - t0:.1f} s, image "
          f"{time.monotonic() - t1:.1f} s")


def _apt_mirror() -> str:
    """The host's Debian mirror (deb822 sources or the one-line list): the base uses what the host uses."""
    for path in (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")):
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = line.split()
            if words[:1] == ["URIs:"] and len(words) > 1:
                return words[1]
            if words[:1] == ["deb"] and len(words) > 2:
                return next(w for w in words[1:] if "://" in w)
    sys.exit("docker/build.py base: no Debian mirror found in /etc/apt; this needs a Debian host")


def build_base() -> None:
    if os.geteuid() != 0 or not shutil.which("debootstrap"):
        sys.exit("docker/build.py base: needs root and debootstrap (`apt-get install -y debootstrap`)")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dt-rootfs-") as rootfs:
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm", rootfs,
                        _apt_mirror()], check=True, stdout=subprocess.DEVNULL)
        t1 = time.monotonic()
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "-", BASE_IMAGE], stdin=tar.stdout, check=True,
                       stdout=subprocess.DEVNULL)
        if tar.wait() != 0:
            sys.exit("docker/build.py base: tar of the root file system failed")
    print(f"built {BASE_IMAGE}: debootstrap {t1 - t0:.1f} s, import {time.monotonic() - t1:.1f} s")


def _copy_project(dst: Path) -> None:
    for name in PROJECT_FILES:
        src, target = ROOT / name, dst / name
        if src.is_dir():
            shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, target)


def _wheelhouse(dst: Path, project: Path, sdk: str, arch: str) -> None:
    """Every wheel the image installs, fetched HERE with the host's pip (and so the host's index and
    trust settings) for the image's platform: the build itself then needs no index and no TLS."""
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["wheel", "--no-deps", "-w", str(dst), str(project)], check=True)
    platforms = [f"manylinux{v}_{arch}" for v in ("2014", "_2_17", "_2_28", "_2_34")]
    subprocess.run(pip + ["download", "-d", str(dst), "--only-binary=:all:", "--implementation", "cp",
                          "--python-version", RIG_PYTHON, *(f"--platform={p}" for p in platforms),
                          *map(str, dst.glob("durabletask_conformance-*.whl")), sdk], check=True)


def _image_id(client: docker.DockerClient, tag: str) -> str | None:
    try:
        return str(client.images.get(tag).id)
    except docker.errors.ImageNotFound:
        return None


def build_rig(base: str, sdk: str, tag: str, no_cache: bool = False) -> None:
    t0 = time.monotonic()
    client = engine(timeout=600)
    previous = _image_id(client, tag)
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(client.version().get("Arch", "amd64"), "x86_64")
    with tempfile.TemporaryDirectory(prefix="dt-rig-image-") as tmp:
        ctx = Path(tmp)
        shutil.copy(ROOT / "docker" / "rig" / "Dockerfile", ctx)
        _copy_project(ctx / "project")
        _wheelhouse(ctx / "wheels", ctx / "project", sdk, arch)
        t1 = time.monotonic()
        # network_mode host: apt in the build; the engine may have no bridge (scripts/docker-engine).
        try:
            image, _ = client.images.build(path=str(ctx), tag=tag, rm=True, forcerm=True, nocache=no_cache,
                                           network_mode="host",
                                           buildargs={"BASE": base, "TOXIPROXY_IMAGE": IMAGE,
                                                      "SDK_REQUIREMENT": sdk})
        except docker.errors.BuildError as exc:
            log = "".join(str(c.get("stream", c.get("error", ""))) for c in exc.build_log)
            sys.exit(f"docker/build.py rig: the build failed: {exc}\n{log[-3000:]}")
    if previous and previous != image.id:  # the tag moved: drop the old image rather than leave it dangling
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(previous)
    print(f"built {tag} ({image.short_id}) on {base} with {sdk}: wheels {t1 - t0:.1f} s, image "
          f"{time.monotonic() - t1:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="docker/build.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    t = sub.add_parser("toxiproxy", help=f"{IMAGE} from the Go-built server (FROM scratch)")
    t.add_argument("--cache", type=Path, default=None)
    sub.add_parser("base", help=f"{BASE_IMAGE} from Debian's packages (debootstrap | docker import)")
    r = sub.add_parser("rig", help=f"{RIG_IMAGE}: the whole rig (needs the Toxiproxy image)")
    r.add_argument("--base", default="debian:bookworm-slim",
                   help=f"base image (default %(default)s from the registry; without one: {BASE_IMAGE})")
    r.add_argument("--sdk", default="durabletask==1.12.0", help="SDK requirement baked in (default %(default)s)")
    r.add_argument("--tag", default=RIG_IMAGE)
    r.add_argument("--no-cache", action="store_true", help="rebuild every layer (to measure the cold cost)")
    args = parser.parse_args(argv)
    if args.what == "toxiproxy":
        build_toxiproxy(args.cache or default_cache_dir())
    elif args.what == "base":
        build_base()
    else:
        build_rig(args.base, args.sdk, args.tag, args.no_cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
