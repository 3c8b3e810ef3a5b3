"""Command-line options of the conformance plugin, registered in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.windows import DEFAULT_TOLERANCE_S

KNOWN_SDKS = ("python",)


def default_cache_dir() -> Path:
    env = os.environ.get("DT_CONFORMANCE_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "durabletask-conformance"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("durabletask-conformance", "Durable Task SDK connection-resiliency conformance")
    group.addoption("--sdk", metavar="NAME", default=None,
                    help="SDK under test (available: %s). Without --sdk-version/--sdk-path/--sdk-python, "
                         "'python' uses the durabletask installed in the current environment." % ", ".join(KNOWN_SDKS))
    group.addoption("--sdk-version", metavar="X", default=None,
                    help="install this release of the SDK from its registry (PyPI for python) into a cached "
                         "virtual environment and test it")
    group.addoption("--sdk-path", metavar="DIR", default=None,
                    help="install the SDK from a local checkout DIR into a cached virtual environment and test it")
    group.addoption("--sdk-python", metavar="PATH", default=None,
                    help="use this Python interpreter, which already has the SDK installed")
    group.addoption("--toxiproxy-url", metavar="URL", default=None,
                    help="use a running Toxiproxy server at URL (e.g. http://127.0.0.1:8474) instead of starting one")
    group.addoption("--toxiproxy-bin", metavar="PATH", default=None,
                    help="Toxiproxy server binary to start (default: toxiproxy-server on PATH, then the cache, "
                         "then build it with 'go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0')")
    group.addoption("--conformance-cache", metavar="DIR", default=None,
                    help="cache directory for SDK virtual environments and the Toxiproxy binary "
                         "(default: $DT_CONFORMANCE_CACHE or ~/.cache/durabletask-conformance)")
    group.addoption("--timing-tolerance", metavar="SECONDS", type=float, default=DEFAULT_TOLERANCE_S,
                    help="the one tolerance added to every timing window (default %(default)s s; "
                         "see harness/windows.py for why)")
    group.addoption("--history-dir", metavar="DIR", default=None,
                    help="write each failed test's history (JSON) here (default: <rootdir>/histories)")
    group.addoption("--keep-histories", action="store_true", default=False,
                    help="also write the histories of passing tests")
    group.addoption("--conformance-report", metavar="DIR", default=None,
                    help="write the conformance matrix (conformance.md, conformance.html: requirement by "
                         "requirement, with timelines of failures) into DIR")
    group.addoption("--sdk-patch", metavar="FILE", action="append", default=[],
                    help="(for the suite's own tests) exec FILE in the driver process to build a deliberately "
                         "broken SDK variant; see tests/mutants/")


@dataclass(frozen=True)
class Settings:
    sdk: str | None
    sdk_version: str | None
    sdk_path: str | None
    sdk_python: str | None
    toxiproxy_url: str | None
    toxiproxy_bin: str | None
    cache_dir: Path
    tolerance: float
    history_dir: Path
    keep_histories: bool
    sdk_patches: tuple[str, ...]
    conformance_report: str | None = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        opt = config.getoption
        cache = opt("--conformance-cache")
        hist = opt("--history-dir")
        return cls(
            sdk=opt("--sdk"), sdk_version=opt("--sdk-version"), sdk_path=opt("--sdk-path"),
            sdk_python=opt("--sdk-python"), toxiproxy_url=opt("--toxiproxy-url"),
            toxiproxy_bin=opt("--toxiproxy-bin"),
            cache_dir=Path(cache) if cache else default_cache_dir(),
            tolerance=float(opt("--timing-tolerance")),
            history_dir=Path(hist) if hist else Path(str(config.rootpath)) / "histories",
            keep_histories=bool(opt("--keep-histories")),
            sdk_patches=tuple(str(Path(p).resolve()) for p in opt("--sdk-patch")),
            conformance_report=opt("--conformance-report"),
        )

    def validate(self) -> None:
        if self.sdk is not None and self.sdk not in KNOWN_SDKS:
            raise pytest.UsageError(f"--sdk={self.sdk}: no driver for this SDK yet; available: "
                                    + ", ".join(KNOWN_SDKS))
        chosen = [n for n, v in (("--sdk-version", self.sdk_version), ("--sdk-path", self.sdk_path),
                                 ("--sdk-python", self.sdk_python)) if v]
        if len(chosen) > 1:
            raise pytest.UsageError(f"{' and '.join(chosen)} exclude each other: pick one way to select the SDK build")
        if chosen and self.sdk is None:
            raise pytest.UsageError(f"{chosen[0]} needs --sdk (e.g. --sdk=python)")
        if self.tolerance < 0:
            raise pytest.UsageError("--timing-tolerance must be >= 0")
        for p in self.sdk_patches:
            if not Path(p).is_file():
                raise pytest.UsageError(f"--sdk-patch {p}: no such file")
