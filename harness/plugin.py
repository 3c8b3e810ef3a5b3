"""The pytest plugin: ``pytest conformance --sdk=python``.

Registered through the ``pytest11`` entry point (pyproject.toml), so it is active
wherever this package is installed, including an SDK repository that pip-installed
us. Hooks and fixtures only; the machinery lives in the packages they call:

- harness/options.py   command-line options and their validation
- harness/sdk/         which SDK build is under test (adapters and their registry)
- harness/rig.py       starts and stops Toxiproxy -> fake sidecar -> proxy -> SDK driver
- harness/net/         network faults (Toxiproxy toxics, one-connection faults, TCP resets)
- fakes/               the fake sidecar and its server-side faults
- harness/history.py   the one record of a test; harness/checks/ decides verdicts from it
- harness/report/      histories, verdicts and timelines attached to reports; the matrix
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.checks.verdict import Verdict, collecting
from harness.history import History
from harness.options import Settings, add_options
from harness.report import attach as reporting
from harness.report import plugin as conformance_report
from harness.sdk import SdkBuild

SETTINGS_KEY = pytest.StashKey[Settings]()
HISTORY_KEY = pytest.StashKey[History]()
DRIVERS_KEY = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    settings = Settings.from_config(config)
    settings.validate()
    config.stash[SETTINGS_KEY] = settings
    config.addinivalue_line("markers", "requirement(*ids): conformance requirement IDs (conformance/SPEC.md)")
    config.addinivalue_line("markers", "needs(*capabilities): driver capabilities the test needs "
                            "(harness/drivers/PROTOCOL.md); a build without them is NOT APPLICABLE")
    # The matrix is written by the controller only; under xdist the requirement IDs reach it
    # through each report's user_properties (set at collection, below).
    if settings.conformance_report and not hasattr(config, "workerinput"):
        config.pluginmanager.register(conformance_report.ReportPlugin(settings.conformance_report),
                                      "conformance-report")


def pytest_report_header(config: pytest.Config) -> list[str]:
    s = config.stash[SETTINGS_KEY]
    if s.sdk is None:
        return ["durabletask-conformance: no --sdk given (conformance tests need --sdk=NAME, e.g. --sdk=python)"]
    lines = [f"durabletask-conformance: timing tolerance {s.tolerance}s, cache {s.cache_dir}"]
    # On xdist workers the header is printed by the controller only; resolving here is cheap
    # for the current environment and reuses the cached venv for --sdk-version.
    try:
        build = _resolve_sdk(s)
        lines.append(f"SDK under test: {build.header()}")
    except Exception as exc:  # the fixture will fail the tests with the full message
        lines.append(f"SDK under test: {s.sdk} -- NOT AVAILABLE: {exc}")
    if s.sdk_patches:
        lines.append("SDK patched with (broken variant): " + ", ".join(Path(p).name for p in s.sdk_patches))
    return lines


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:  # requirement IDs as test properties: --junitxml and the matrix read them
        item.user_properties.extend(conformance_report.junit_properties(item))
    s = config.stash[SETTINGS_KEY]
    if s.sdk is not None:
        return
    skip = pytest.mark.skip(reason="conformance test: run with --sdk=python (see README)")
    for item in items:
        if "sdk_build" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


def _resolve_sdk(s: Settings) -> SdkBuild:
    from harness.sdk import resolve
    return resolve(s.sdk_choice, s.cache_dir)


# -- fixtures ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def conformance_settings(pytestconfig: pytest.Config) -> Settings:
    return pytestconfig.stash[SETTINGS_KEY]


@pytest.fixture(scope="session")
def sdk_build(conformance_settings: Settings) -> SdkBuild:
    """The SDK build under test (resolved once per session and xdist worker)."""
    from harness.sdk import SdkUnavailable
    try:
        return _resolve_sdk(conformance_settings)
    except SdkUnavailable as exc:
        pytest.exit(f"SDK not available: {exc}", returncode=4)


@pytest.fixture(scope="session")
def toxiproxy(conformance_settings: Settings) -> Iterator[object]:
    """A Toxiproxy API client. Each xdist worker starts its own server on a free loopback port
    (harness/rig.py), or uses the one at --toxiproxy-url."""
    from harness import rig
    from harness.net.toxiproxy_server import ToxiproxyUnavailable
    s = conformance_settings
    with contextlib.ExitStack() as stack:
        try:
            client = stack.enter_context(rig.toxiproxy(url=s.toxiproxy_url, binary=s.toxiproxy_bin,
                                                       cache_dir=s.cache_dir))
        except ToxiproxyUnavailable as exc:
            pytest.exit(str(exc), returncode=4)
        except Exception as exc:
            if not s.toxiproxy_url:
                raise
            pytest.exit(f"--toxiproxy-url {s.toxiproxy_url}: no Toxiproxy server answers there ({exc}). "
                        "Start one, or drop the option to let the suite start its own.", returncode=4)
        yield client


@pytest.fixture
def tolerance(conformance_settings: Settings) -> float:
    return conformance_settings.tolerance


@pytest.fixture
def history(request: pytest.FixtureRequest, conformance_settings: Settings) -> History:
    """The one record of this test; every part writes into it, checkers read it."""
    h = History(request.node.nodeid)
    h.meta["tolerance_s"] = conformance_settings.tolerance
    h.meta["test"] = request.node.nodeid
    request.node.stash[HISTORY_KEY] = h
    return h


@pytest.fixture
def fake(history: History) -> Iterator[object]:
    """A fake TaskHubSidecarService on a free loopback port, recording into ``history``."""
    from harness import rig
    with rig.fake_sidecar(history) as sidecar:
        yield sidecar


@pytest.fixture
def link(toxiproxy, fake, history: History, request: pytest.FixtureRequest) -> Iterator[object]:
    """A Toxiproxy proxy in front of the fake; its ``.address`` is what the SDK connects to.

    Network faults are scoped context managers on it (``with link.blackhole(): ...``)."""
    from harness import rig
    name = "dt-" + str(os.getpid()) + "-" + str(abs(hash(request.node.nodeid)) % 10**8)
    with rig.proxy_link(toxiproxy, fake, history, name=name) as faulty_link:
        yield faulty_link


@pytest.fixture
def driver(sdk_build, history: History, conformance_settings: Settings,
           request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """The SDK under test, running in its own process, steered over the driver protocol."""
    from harness import rig
    with rig.sdk_driver(sdk_build, history, log_dir=tmp_path, patches=conformance_settings.sdk_patches,
                        on_start=request.node.stash.setdefault(DRIVERS_KEY, []).append) as d:
        info = history.meta["sdk"]
        missing = missing_capabilities(request.node, info.get("capabilities", {}))
        if missing:
            pytest.skip(f"NOT APPLICABLE to this SDK build: {info.get('sdk')} {info.get('sdk_version')} "
                        f"lacks {', '.join(missing)} (capabilities declared by its driver)")
        yield d


def missing_capabilities(node: pytest.Item, capabilities: dict) -> list[str]:
    """Capabilities a test declares with ``@pytest.mark.needs(...)`` that the driver lacks.

    This is the per-implementation capability list (as in gRPC's interop runner): a test that
    cannot be configured on a build is reported NOT APPLICABLE with the reason, never skipped
    silently and never passed."""
    needed = [c for m in node.iter_markers("needs") for c in m.args]
    return [c for c in needed if not capabilities.get(c, False)]


# -- reporting ---------------------------------------------------------------------------
VERDICTS_KEY = pytest.StashKey[list[Verdict]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Run the test collecting every verdict ``require`` judges (harness/checks/verdict.py)."""
    with collecting() as verdicts:
        item.stash[VERDICTS_KEY] = verdicts
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call" and VERDICTS_KEY in item.stash:  # before attach saves the history
        reporting.attach_verdicts(item, report, item.stash[VERDICTS_KEY], item.stash.get(HISTORY_KEY, None))
    if report.when in ("call", "setup") or (report.when == "teardown" and report.failed):
        reporting.attach(item, report, item.config.stash[SETTINGS_KEY],
                         item.stash.get(HISTORY_KEY, None), item.stash.get(DRIVERS_KEY, []))
    return report
