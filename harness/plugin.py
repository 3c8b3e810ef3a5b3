"""The pytest plugin: ``pytest conformance --sdk=python``.

Registered through the ``pytest11`` entry point (pyproject.toml), so it is active
wherever this package is installed, including an SDK repository that pip-installed
us. Hooks and fixtures only; the machinery lives in the modules they call:

- options.py      command-line options and their validation
- sdk.py          which SDK build is under test (current env, PyPI version, checkout)
- toxiproxy_server.py / toxiproxy_client.py / netfaults.py   network faults
- fakes/sidecar.py                                             server-side faults
- driver.py       the SDK process and its protocol
- history.py      the one record of a test; checkers.py decides verdicts from it
- reporting.py    histories and timelines attached to failed tests
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.history import SCENARIO, History
from harness.options import Settings, add_options
from harness.report import attach as reporting
from harness.report import matrix as conformance_report
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
    """A Toxiproxy API client. Each xdist worker starts its own server on a free loopback port."""
    from harness.net.toxiproxy_client import Client
    from harness.net.toxiproxy_server import ToxiproxyServer, ToxiproxyUnavailable, find_or_build_binary
    s = conformance_settings
    if s.toxiproxy_url:
        client = Client(s.toxiproxy_url)
        try:
            client.version()
        except Exception as exc:
            pytest.exit(f"--toxiproxy-url {s.toxiproxy_url}: no Toxiproxy server answers there ({exc}). "
                        "Start one, or drop the option to let the suite start its own.", returncode=4)
        yield client
        return
    try:
        binary = find_or_build_binary(s.toxiproxy_bin, s.cache_dir)
    except ToxiproxyUnavailable as exc:
        pytest.exit(str(exc), returncode=4)
    server = ToxiproxyServer(binary, log_dir=s.cache_dir / "logs")
    server.start()
    try:
        yield Client(server.url)
    finally:
        server.stop()


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
    from fakes.sidecar import FakeSidecar
    sidecar = FakeSidecar(history)
    sidecar.start()
    try:
        yield sidecar
    finally:
        sidecar.stop()


@pytest.fixture
def link(toxiproxy, fake, history: History, request: pytest.FixtureRequest) -> Iterator[object]:
    """A Toxiproxy proxy in front of the fake; its ``.address`` is what the SDK connects to.

    Network faults are scoped context managers on it (``with link.blackhole(): ...``)."""
    from harness.net.link import FaultyLink
    name = "dt-" + str(os.getpid()) + "-" + str(abs(hash(request.node.nodeid)) % 10**8)
    proxy = toxiproxy.create_proxy(name, upstream=fake.address)
    try:
        yield FaultyLink(toxiproxy, proxy, history)
    finally:
        try:
            toxiproxy.delete_proxy(proxy.name)
        except Exception:
            pass


@pytest.fixture
def driver(sdk_build, history: History, conformance_settings: Settings,
           request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """The SDK under test, running in its own process, steered over the driver protocol."""
    from harness.drivers.process import Driver
    d = Driver(sdk_build.command(conformance_settings.sdk_patches), history, log_dir=tmp_path)
    request.node.stash.setdefault(DRIVERS_KEY, []).append(d)
    try:
        info = d.hello()
        history.meta["sdk"] = info
        history.record(SCENARIO, "driver_ready", sdk=info.get("sdk"), sdk_version=info.get("sdk_version"),
                       capabilities=info.get("capabilities", {}))
        missing = missing_capabilities(request.node, info.get("capabilities", {}))
        if missing:
            pytest.skip(f"NOT APPLICABLE to this SDK build: {info.get('sdk')} {info.get('sdk_version')} "
                        f"lacks {', '.join(missing)} (capabilities declared by its driver)")
        yield d
    finally:
        d.close()


def missing_capabilities(node: pytest.Item, capabilities: dict) -> list[str]:
    """Capabilities a test declares with ``@pytest.mark.needs(...)`` that the driver lacks.

    This is the per-implementation capability list (as in gRPC's interop runner): a test that
    cannot be configured on a build is reported NOT APPLICABLE with the reason, never skipped
    silently and never passed."""
    needed = [c for m in node.iter_markers("needs") for c in m.args]
    return [c for c in needed if not capabilities.get(c, False)]


# -- reporting ---------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when in ("call", "setup") or (report.when == "teardown" and report.failed):
        reporting.attach(item, report, item.config.stash[SETTINGS_KEY],
                         item.stash.get(HISTORY_KEY, None), item.stash.get(DRIVERS_KEY, []))
    return report
