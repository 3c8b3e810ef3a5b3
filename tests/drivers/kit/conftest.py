"""The driver test kit: one protocol-conformance suite (harness/drivers/PROTOCOL.md) that every SDK
driver passes.

Every test takes ``driver_sdk``, parametrized over every SDK name in ``harness.sdk.ADAPTERS`` (module
scope, so pytest runs a module's tests for one SDK together and one driver process serves them all).
A missing toolchain FAILS the kit, naming the toolchain and its install: a kit that skipped an SDK and
reported green would certify a driver nobody ran. ``DT_KIT_SDKS=python,go`` narrows the list for a
developer who lacks a toolchain; that is a choice made on the command line, never a silent default.
Builds are resolved once per session (cached in ~/.cache/durabletask-conformance by the adapters).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from fakes.sidecar import FakeSidecar
from harness.drivers.process import Driver
from harness.history import History
from harness.paths import default_cache_dir
from harness.sdk import ADAPTERS, BuildChoice, SdkBuild, SdkUnavailable, resolve
from tests.drivers.kit.procs import session_members

KIT_SDKS_ENV = "DT_KIT_SDKS"
# A driver's answer to a quick command (hello, connections, ...). Generous because the JVM's first
# answers come from the interpreter and the machine may be busy; a wedged driver still fails fast
# compared with pytest's own timeouts.
ANSWER_S = 30.0


def kit_sdks() -> list[str]:
    """The SDKs the kit covers: all of ADAPTERS, or the ones $DT_KIT_SDKS names (comma-separated)."""
    raw = os.environ.get(KIT_SDKS_ENV, "").strip()
    if not raw:
        return list(ADAPTERS)
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in ADAPTERS]
    if unknown:
        raise pytest.UsageError(f"{KIT_SDKS_ENV}={raw}: unknown SDK name(s) {', '.join(unknown)}; "
                                f"available: {', '.join(ADAPTERS)}")
    return names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "driver_sdk" in metafunc.fixturenames:
        metafunc.parametrize("driver_sdk", kit_sdks(), scope="module")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """A narrowed kit says so at the end of the run, so its green is not read as covering every SDK."""
    if os.environ.get(KIT_SDKS_ENV, "").strip():
        left_out = [n for n in ADAPTERS if n not in kit_sdks()]
        if left_out:
            terminalreporter.write_line(f"driver test kit: {KIT_SDKS_ENV} restricted it to {', '.join(kit_sdks())}; "
                                        f"NOT covered: {', '.join(left_out)}", yellow=True, bold=True)


_builds: dict[str, SdkBuild] = {}


def kit_build(sdk: str) -> SdkBuild:
    """The cached build of ``sdk``'s driver; fails (never skips) when its toolchain is missing."""
    if sdk not in _builds:
        try:
            _builds[sdk] = resolve(BuildChoice(sdk), default_cache_dir())
        except SdkUnavailable as exc:
            problem = str(exc)
        else:
            problem = ""
        if problem:  # failed outside the except block, so the report is the message, not a chained traceback
            others = ",".join(n for n in kit_sdks() if n != sdk) or "python"
            pytest.fail(f"cannot build the {sdk} driver: {problem}\n"
                        f"The driver test kit covers every SDK ({', '.join(ADAPTERS)}) and fails rather than skip "
                        f"one. Install the missing toolchain; or, on a developer machine only, narrow the kit to "
                        f"the SDKs you can build with {KIT_SDKS_ENV}, e.g. {KIT_SDKS_ENV}={others}", pytrace=False)
    return _builds[sdk]


@pytest.fixture(scope="module")
def build(driver_sdk: str) -> SdkBuild:
    return kit_build(driver_sdk)


@pytest.fixture(scope="module")
def history(driver_sdk: str) -> History:
    return History(f"driver-kit-{driver_sdk}")


@pytest.fixture(scope="module")
def fake(build: SdkBuild, history: History) -> Iterator[FakeSidecar]:
    """The real fake sidecar, speaking the build's wire schema (dapr builds cannot talk to a microsoft one)."""
    f = FakeSidecar(history, schema=build.schema)
    f.start()
    try:
        yield f
    finally:
        f.stop()


def start_driver(build: SdkBuild, history: History | None, log_dir: Path) -> Driver:
    """A started driver that has answered ``hello``; closed by the caller."""
    d = Driver(build.command(), history, log_dir=log_dir, default_timeout=ANSWER_S)
    try:
        d.hello()
    except BaseException:
        d.close()
        raise
    return d


def assert_nothing_left(pid: int) -> None:
    """No process of the driver's session (it was started in its own) outlives it."""
    left = session_members(pid)
    assert not left, f"processes of driver session {pid} still running after it exited: {left}"


@pytest.fixture(scope="module")
def driver(build: SdkBuild, history: History, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Driver]:
    """One driver process for the module's tests of one SDK; must still be healthy at the end."""
    d = start_driver(build, history, tmp_path_factory.mktemp("driver"))
    try:
        yield d
    finally:
        d.close()
    assert_nothing_left(d.pid)


@pytest.fixture
def make_driver(build: SdkBuild, tmp_path: Path) -> Iterator[Callable[..., Driver]]:
    """Fresh drivers for tests that end them (lifetime); each is closed (and its group killed) after."""
    made: list[Driver] = []

    def make(history: History | None = None) -> Driver:
        d = start_driver(build, history, tmp_path)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


def worker_channel(info: dict[str, Any]) -> str:
    """The channel mode a worker can run on: its own, or the caller's for SDKs that only take one (Go)."""
    return "sdk" if info["capabilities"].get("sdk_channel") else "caller"
