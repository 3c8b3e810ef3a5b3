"""Command-line options of the conformance plugin, registered in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.checks.windows import DEFAULT_TOLERANCE_S, WINDOW_FRACTION
from harness.net.toxiproxy_docker import IMAGE as TOXIPROXY_IMAGE
from harness.net.toxiproxy_docker import MODES as TOXIPROXY_MODES
from harness.paths import default_cache_dir
from harness.report.gate import GateContext
from harness.sdk import BuildChoice, SdkUsageError, all_build_options, sdk_help, validate_choice


def add_sdk_options(add: Callable[..., Any]) -> None:
    """The SDK-choosing options, from the adapter registry (harness/sdk/); ``add`` is pytest's
    ``group.addoption`` or argparse's ``add_argument``, so both command lines say the same."""
    add("--sdk", metavar="NAME", default=None,
        help=f"SDK under test (available: {sdk_help()}). Without --sdk-version/--sdk-path, 'python' "
             "uses the durabletask installed in the current environment.")
    add("--sdk-version", metavar="X", default=None,
        help="install this release of the SDK from its registry into the cache and test it")
    add("--sdk-path", metavar="DIR", default=None,
        help="build the SDK from a local checkout DIR into the cache and test it")
    for opt, _adapter in all_build_options():
        add(opt.flag, metavar=opt.metavar, default=None, help=opt.help)


def sdk_choice(get: Callable[[str], Any]) -> BuildChoice:
    """The user's BuildChoice from option values (``get("--sdk-version")``)."""
    return BuildChoice(get("--sdk"), get("--sdk-version"), get("--sdk-path"),
                       {opt.flag: get(opt.flag) for opt, _a in all_build_options()})


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("durabletask-conformance", "Durable Task SDK connection-resiliency conformance")
    add_sdk_options(group.addoption)
    group.addoption("--toxiproxy", metavar="HOW", choices=TOXIPROXY_MODES, default="auto",
                    help="how to start the suite's Toxiproxy server: 'binary' (--toxiproxy-bin, toxiproxy-server on "
                         "PATH, the cache, else built with Go), 'docker' (the official image "
                         f"{TOXIPROXY_IMAGE} in a container on the host's loopback, removed at the end; needs a "
                         "Docker engine), or 'auto' (default: a binary already there, else Docker when an engine "
                         "answers and has or can pull the image, else build the binary with Go)")
    group.addoption("--toxiproxy-url", metavar="URL", default=None,
                    help="use a running Toxiproxy server at URL (e.g. http://127.0.0.1:8474) instead of starting one")
    group.addoption("--toxiproxy-bin", metavar="PATH", default=None,
                    help="Toxiproxy server binary to start (default: toxiproxy-server on PATH, then the cache, "
                         "then build it with 'go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0')")
    group.addoption("--conformance-cache", metavar="DIR", default=None,
                    help="cache directory for SDK virtual environments and the Toxiproxy binary "
                         "(default: $DT_CONFORMANCE_CACHE or ~/.cache/durabletask-conformance)")
    group.addoption("--timing-tolerance", metavar="SECONDS", type=float, default=DEFAULT_TOLERANCE_S,
                    help="the one machine-latency tolerance added to every timing window (default %(default)s s, "
                         "derived from benchmarks/timing_precision.py: see harness/checks/windows.py and "
                         f"docs/TOLERANCE.md). Bounded: a test whose smallest window is less than "
                         f"{1 / WINDOW_FRACTION:g} times it is INCONCLUSIVE, and a field file whose scale would "
                         f"make a window less than {1 / WINDOW_FRACTION:g} times it is refused")
    group.addoption("--history-dir", metavar="DIR", default=None,
                    help="write each failed test's history (JSON) here (default: DIR/histories with "
                         "--conformance-report=DIR, so a report folder is whole on its own, e.g. a CI artifact; "
                         "else <rootdir>/histories)")
    group.addoption("--keep-histories", action="store_true", default=False,
                    help="also write the histories of passing tests")
    group.addoption("--conformance-report", metavar="DIR", default=None,
                    help="write the conformance matrix (conformance.md, conformance.html: requirement by "
                         "requirement, with timelines of failures) and results.json (the run as data: "
                         "`python -m harness matrix DIR...` sets several runs side by side) into DIR")
    group.addoption("--sdk-patch", metavar="FILE", action="append", default=[],
                    help="(for the suite's own tests) exec FILE in the driver process to build a deliberately "
                         "broken SDK variant; see harness/drivers/python/mutants/")
    group.addoption("--skip-at-defaults", action="store_true", default=False,
                    help="leave out the tests that would run slowly at the SDK's own defaults because the build "
                         "lacks the option that shortens them (minutes each); they are reported NOT RUN and the "
                         "gate is not passed while they are left out")
    # Strict: pytest's own --strict (all of pytest's strictness options) also makes a failing SHOULD
    # fail the gate (NON-STRICT, as in Autobahn's testsuite); pytest owns the flag, so it is not added here.


def _history_dir(config: pytest.Config, given: str | None, report_dir: str | None) -> Path:
    """--history-dir, else the report's folder (its links then survive copying it), else <rootdir>/histories."""
    if given:
        return Path(given)
    if report_dir:
        return Path(report_dir) / "histories"
    return Path(str(config.rootpath)) / "histories"


@dataclass(frozen=True)
class Settings:
    sdk_choice: BuildChoice
    toxiproxy_url: str | None
    toxiproxy_bin: str | None
    cache_dir: Path
    tolerance: float
    history_dir: Path
    keep_histories: bool
    sdk_patches: tuple[str, ...]
    conformance_report: str | None = None
    skip_at_defaults: bool = False
    toxiproxy_mode: str = "auto"  # --toxiproxy: auto, binary, docker
    strict: bool = False  # pytest's --strict (or ini strict = true): a failing SHOULD fails the gate

    @property
    def sdk(self) -> str | None:
        return self.sdk_choice.sdk

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        opt = config.getoption
        cache = opt("--conformance-cache")
        hist = opt("--history-dir")
        return cls(
            sdk_choice=sdk_choice(opt), toxiproxy_url=opt("--toxiproxy-url"),
            toxiproxy_bin=opt("--toxiproxy-bin"), toxiproxy_mode=opt("--toxiproxy"),
            cache_dir=Path(cache) if cache else default_cache_dir(),
            tolerance=float(opt("--timing-tolerance")),
            history_dir=_history_dir(config, hist, opt("--conformance-report")),
            keep_histories=bool(opt("--keep-histories")),
            sdk_patches=tuple(str(Path(p).resolve()) for p in opt("--sdk-patch")),
            conformance_report=opt("--conformance-report"),
            skip_at_defaults=bool(opt("--skip-at-defaults")),
            strict=_strict(config),
        )

    def gate_context(self) -> GateContext:
        """What the gate verdict is reached under (shown with it: harness/report/gate.py)."""
        return GateContext(tolerance=self.tolerance, patches=self.sdk_patches, strict=self.strict,
                           skip_at_defaults=self.skip_at_defaults)

    def validate(self) -> None:
        try:
            validate_choice(self.sdk_choice)
        except SdkUsageError as exc:
            raise pytest.UsageError(str(exc)) from None
        if self.toxiproxy_mode == "docker" and self.toxiproxy_bin:
            raise pytest.UsageError("--toxiproxy=docker runs the image, not a binary: drop --toxiproxy-bin "
                                    "(or use --toxiproxy=binary)")
        if self.tolerance < 0:
            raise pytest.UsageError("--timing-tolerance must be >= 0")
        for p in self.sdk_patches:
            if not Path(p).is_file():
                raise pytest.UsageError(f"--sdk-patch {p}: no such file")


def _strict(config: pytest.Config) -> bool:
    """pytest's ``--strict`` flag, or its ``strict`` ini option (pytest 9; absent before)."""
    if config.getoption("strict", False):
        return True
    try:
        return bool(config.getini("strict"))
    except ValueError:  # an older pytest without the ini option
        return False
