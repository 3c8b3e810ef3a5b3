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
- harness/report/      histories, verdicts and timelines attached to reports; statuses, the gate, the matrix
- harness/drivers/capabilities.py  what a test that needs a capability the build lacks becomes

Gate semantics live here as hooks: the ``driver`` fixture decides from the driver's ``hello`` what a
test becomes on the build (NOT APPLICABLE, INCONCLUSIVE, NOT IMPLEMENTED, run at the SDK's defaults,
or left out); ``pytest_runtest_makereport`` writes each test's facts and status into its reports;
``pytest_report_teststatus`` shows the statuses apart; the report plugin (harness/report/plugin.py)
judges the gate at the end, prints it, and sets the exit code from it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.checks.verdict import Inconclusive, Verdict, collecting
from harness.drivers import capabilities as caps
from harness.history import History
from harness.options import Settings, add_options
from harness.report import attach as reporting
from harness.report import plugin as conformance_report
from harness.report import statuses as st
from harness.report.results import TestResult, junit_properties
from harness.report.spec import parse_spec
from harness.sdk import SdkBuild
from harness.workload import SdkOptions

SETTINGS_KEY = pytest.StashKey[Settings]()
HISTORY_KEY = pytest.StashKey[History]()
DRIVERS_KEY = pytest.StashKey[list]()
PENDING_KEY = pytest.StashKey[Exception]()  # raised in place of the test body (NOT IMPLEMENTED, INCONCLUSIVE)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    settings = Settings.from_config(config)
    settings.validate()
    config.stash[SETTINGS_KEY] = settings
    config.addinivalue_line("markers", "requirement(*ids): conformance requirement IDs (conformance/SPEC.md)")
    config.addinivalue_line("markers", "needs(*capabilities): driver capabilities the test needs "
                            "(harness/drivers/capabilities.py): a build without an optional one is NOT "
                            "APPLICABLE, without an observation one INCONCLUSIVE, without an option the test "
                            "runs at the SDK's defaults")
    config.addinivalue_line("markers", "at_defaults(cost='', *, slow=True, infeasible=None): how the test fares on a "
                            "build that lacks the options it needs: it runs at the SDK's defaults (cost: what that "
                            "takes; slow=False: seconds, never left out by --skip-at-defaults), or, with "
                            "infeasible=WHY, it is NOT IMPLEMENTED without running")
    if not hasattr(config, "workerinput"):
        # iptables chains of a run whose process died without its exit hook (SIGKILL) would keep
        # dropping a 4-tuple a later test may reuse: remove them before any test runs.
        from harness.net.conn import remove_stale_chains
        with contextlib.suppress(Exception):
            remove_stale_chains()
    # The gate and the matrix are judged by the controller only; under xdist the facts reach it
    # through each report's user_properties (requirement IDs set at collection, below).
    if not hasattr(config, "workerinput") and (settings.sdk is not None or settings.conformance_report):
        config.pluginmanager.register(
            conformance_report.ReportPlugin(settings.conformance_report, context=settings.gate_context(),
                                            gate=settings.sdk is not None,
                                            build_label=(lambda: _resolve_sdk(settings).header())
                                            if settings.sdk is not None else None), "conformance-report")


def pytest_report_header(config: pytest.Config) -> list[str]:
    s = config.stash[SETTINGS_KEY]
    if s.sdk is None:
        return ["durabletask-conformance: no --sdk given (conformance tests need --sdk=NAME, e.g. --sdk=python)"]
    lines = [f"durabletask-conformance: timing tolerance {s.tolerance}s, cache {s.cache_dir}",
             f"toxiproxy: {_toxiproxy_choice(s)}"]
    # On xdist workers the header is printed by the controller only; resolving here is cheap
    # for the current environment and reuses the cached venv for --sdk-version.
    try:
        build = _resolve_sdk(s)
        lines.append(f"SDK under test: {build.header()}")
    except Exception as exc:  # the fixture will fail the tests with the full message
        lines.append(f"SDK under test: {s.sdk} -- NOT AVAILABLE: {exc}")
    if s.sdk_patches:
        lines.append("SDK patched with (broken variant): " + ", ".join(Path(p).name for p in s.sdk_patches))
    lines.append("gate: strict " + ("yes (a failing SHOULD fails it)" if s.strict else
                                    "no (a failing SHOULD is NON-STRICT; pytest --strict counts it)")
                 + (" · tests at the SDK's defaults LEFT OUT (--skip-at-defaults): the gate cannot pass"
                    if s.skip_at_defaults else ""))
    return lines


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:  # requirement IDs as test properties: --junitxml and the matrix read them
        item.user_properties.extend(conformance_report.junit_properties(item))
        try:
            _check_declarations(item)
        except caps.CapabilityError as exc:
            raise pytest.UsageError(f"{item.nodeid}: {exc}") from None
    s = config.stash[SETTINGS_KEY]
    if s.sdk is not None:
        return
    skip = pytest.mark.skip(reason="conformance test: run with --sdk=python (see README)")
    for item in items:
        if "sdk_build" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


def _toxiproxy_choice(s: Settings) -> str:
    """--toxiproxy and what it resolves to (never builds, pulls or starts anything)."""
    if s.toxiproxy_url:
        return f"the running server at {s.toxiproxy_url}"
    from harness.net.toxiproxy_docker import describe_choice
    return f"--toxiproxy={s.toxiproxy_mode}: " + describe_choice(s.toxiproxy_mode, binary=s.toxiproxy_bin,
                                                                   cache_dir=s.cache_dir)


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
    (harness/rig.py; a binary or a container, --toxiproxy), or uses the one at --toxiproxy-url."""
    from harness import rig
    from harness.net.toxiproxy_server import ToxiproxyUnavailable
    s = conformance_settings
    with contextlib.ExitStack() as stack:
        try:
            client = stack.enter_context(rig.toxiproxy(url=s.toxiproxy_url, binary=s.toxiproxy_bin,
                                                       cache_dir=s.cache_dir, mode=s.toxiproxy_mode))
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
def fake(history: History, sdk_build: SdkBuild) -> Iterator[object]:
    """A fake TaskHubSidecarService on a free loopback port, recording into ``history``, speaking the
    wire schema of the build under test (``SdkBuild.schema``)."""
    from harness import rig
    with rig.fake_sidecar(history, schema=sdk_build.schema) as sidecar:
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
        judge_capabilities(request.node, history.meta["sdk"], conformance_settings)
        yield d


@pytest.fixture
def sdk_options(driver, request: pytest.FixtureRequest) -> SdkOptions:
    """The options this test runs with on the build under test: ``sdk_options.worker(OPTIONS)`` is
    OPTIONS, or the build's defaults when it cannot take them (harness/workload.py)."""
    return SdkOptions(driver.info or {}, needs_of(request.node))


def needs_of(node: pytest.Item) -> list[str]:
    """The capabilities a test declares with ``@pytest.mark.needs(...)``."""
    return [str(c) for m in node.iter_markers("needs") for c in m.args]


def at_defaults_of(node: pytest.Item) -> caps.AtDefaults | None:
    mark = node.get_closest_marker("at_defaults")
    if mark is None:
        return None
    return caps.AtDefaults(cost=str(mark.args[0]) if mark.args else str(mark.kwargs.get("cost", "")),
                           infeasible=mark.kwargs.get("infeasible"), slow=bool(mark.kwargs.get("slow", True)))


def _check_declarations(item: pytest.Item) -> None:
    """Every capability a test names exists, and a test that needs an option says how it fares at the
    SDK's defaults (a missing declaration would otherwise surface only on a build without it)."""
    needed = [caps.capability(n) for n in needs_of(item)]
    options = [c.name for c in needed if c.kind == caps.CONFIGURABILITY]
    if options and at_defaults_of(item) is None:
        raise caps.CapabilityError(f"needs an option ({', '.join(options)}) but declares no "
                                   "@pytest.mark.at_defaults(cost) or @pytest.mark.at_defaults(infeasible=why)")


def judge_capabilities(item: pytest.Item, info: dict, settings: Settings) -> caps.Decision:
    """What this test becomes on the build whose driver said ``info`` (harness/drivers/capabilities.py):
    skipped as NOT APPLICABLE or NOT RUN (left out) here; NOT IMPLEMENTED or INCONCLUSIVE in place of
    the test body (so the status is a failure of the call, not a skip); at the defaults with a
    property that says so."""
    build = f"{info.get('sdk')} {info.get('sdk_version')}"
    decision = caps.decide(needs_of(item), info.get("capabilities", {}), build=build,
                           at_defaults=at_defaults_of(item), skip_at_defaults=settings.skip_at_defaults)
    if decision.action == caps.NOT_APPLICABLE:
        pytest.skip(f"{st.NOT_APPLICABLE_PREFIX} to this SDK build: {decision.reason} "
                    "(capabilities declared by its driver)")
    if decision.action == caps.LEFT_OUT:
        pytest.skip(f"NOT RUN: {decision.reason}")
    if decision.action == caps.NOT_IMPLEMENTED:
        item.stash[PENDING_KEY] = caps.NotImplementedByBuild(decision.reason)
    elif decision.action == caps.INCONCLUSIVE:
        item.stash[PENDING_KEY] = Inconclusive(decision.reason)
    elif decision.action == caps.AT_DEFAULTS:
        defaults = caps.defaults_of(info)
        kinds = dict.fromkeys(caps.CAPABILITIES[n].options for n in decision.missing)
        item.user_properties.append((st.PROP_AT_DEFAULTS, decision.reason + "; "
                                     + "; ".join(f"{k}: {defaults.describe(k)}" for k in kinds if k)))
    return decision


# -- reporting ---------------------------------------------------------------------------
VERDICTS_KEY = pytest.StashKey[list[Verdict]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Run the test collecting every verdict ``require`` judges (harness/checks/verdict.py); a test the
    build's capabilities already decided (NOT IMPLEMENTED, INCONCLUSIVE) fails here without running."""
    with collecting() as verdicts:
        item.stash[VERDICTS_KEY] = verdicts
        pending = item.stash.get(PENDING_KEY, None)
        if pending is not None:
            raise pending
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call" and VERDICTS_KEY in item.stash:  # before attach saves the history
        reporting.attach_verdicts(item, report, item.stash[VERDICTS_KEY], item.stash.get(HISTORY_KEY, None))
    _attach_status(item, report, call)
    if report.when in ("call", "setup") or (report.when == "teardown" and report.failed):
        reporting.attach(item, report, item.config.stash[SETTINGS_KEY],
                         item.stash.get(HISTORY_KEY, None), item.stash.get(DRIVERS_KEY, []))
    return report


def _attach_status(item: pytest.Item, report: pytest.TestReport, call: pytest.CallInfo) -> None:
    """Write the test's facts (why INCONCLUSIVE / NOT IMPLEMENTED) and its status (statuses.py) into the
    report, and into the item so the teardown report and --junitxml carry them. Only for the phase
    that decides: the call, or a setup that did not pass, or a failed teardown."""
    if not (report.when == "call" or report.failed or report.skipped):
        return
    if item.get_closest_marker("requirement") is None:  # not a conformance test (e.g. the project's own)
        return
    new: list[tuple[str, str]] = []
    exc = call.excinfo.value if call.excinfo is not None else None
    if isinstance(exc, Inconclusive):  # from require: the failed control's line, not the first verdict's
        lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()] or ["inconclusive"]
        new.append((st.PROP_INCONCLUSIVE, next((ln for ln in lines if ln.startswith("[INCONCLUSIVE]")), lines[0])))
    elif isinstance(exc, caps.NotImplementedByBuild):
        new.append((st.PROP_NOT_IMPLEMENTED, str(exc)))
    result = _result_of(item, report, new)
    new.append((st.PROP_STATUS, st.status_of(result, _levels())))
    report.user_properties.extend(new)
    item.user_properties.extend(new)


def _result_of(item: pytest.Item, report: pytest.TestReport, facts: list[tuple[str, str]]) -> TestResult:
    """The test's facts as the status rules read them (the same rules the matrix applies to reports)."""
    props = dict(item.user_properties) | dict(facts)
    skipped = report.skipped and not hasattr(report, "wasxfail")
    r = TestResult(item.nodeid, outcome="failed" if report.failed else "skipped" if skipped else "passed",
                   requirements=[rid for _, rid in junit_properties(item)], phase=report.when,
                   verdicts=list(item.stash.get(VERDICTS_KEY, [])) if report.when == "call" else [],
                   inconclusive=props.get(st.PROP_INCONCLUSIVE, ""),
                   not_implemented=props.get(st.PROP_NOT_IMPLEMENTED, ""),
                   at_defaults=props.get(st.PROP_AT_DEFAULTS, ""))
    if skipped:
        r.message = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
        r.message = r.message.removeprefix("Skipped: ")
    return r


_LEVELS: dict[str, str] | None = None


def _levels() -> dict[str, str]:
    """Requirement ID -> SPEC.md level, read once per process."""
    global _LEVELS
    if _LEVELS is None:
        _LEVELS = {req.id: req.level for req in parse_spec()}
    return _LEVELS


# How each status shows in pytest's progress and summary line: apart from "failed" and "skipped".
_SHOWN = {st.NOT_IMPLEMENTED: ("not implemented", "N", "NOT IMPLEMENTED"),
          st.INCONCLUSIVE: ("inconclusive", "I", "INCONCLUSIVE"),
          st.NON_STRICT: ("non-strict", "S", "NON-STRICT"),
          st.NOT_APPLICABLE: ("not applicable", "a", "NOT APPLICABLE"),
          st.NOT_RUN: ("not run", "s", "NOT RUN")}


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple | None:
    """NOT IMPLEMENTED, INCONCLUSIVE, NON-STRICT, NOT APPLICABLE and NOT RUN get their own word and their
    own count in pytest's summary line; a pass at the SDK's defaults says so."""
    props = getattr(report, "user_properties", None) or []
    status = next((v for k, v in reversed(props) if k == st.PROP_STATUS), None)
    if status in _SHOWN and (report.failed or report.skipped):
        cat, letter, word = _SHOWN[status]
        return cat, letter, (word, {"yellow": True} if status != st.NOT_APPLICABLE else {})
    if report.when == "call" and report.passed and any(k == st.PROP_AT_DEFAULTS for k, _ in props):
        return "passed", ".", ("PASSED (at the SDK's defaults)", {"green": True})
    return None
