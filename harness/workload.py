"""Workload steps shared by scenarios: the options a test runs with on this build, start a worker or a
client, wait for its stream, probe it with work.

These pace a scenario (Jepsen's generator role); they never decide a verdict.
A wait that runs out returns None and the checker reports what is missing.

Options. A test asks ``sdk_options.worker(OPTIONS)`` (the ``sdk_options`` fixture, harness/plugin.py)
for the options it runs with and derives every window from the answer: OPTIONS when the build takes
worker options, else the build's own defaults (harness/drivers/capabilities.py: the test then runs at
the defaults, slowly, and a failure is NOT IMPLEMENTED). ``start_worker``/``create_client`` configure
the build only when it can be configured, and refuse options a build cannot take that are not its
defaults: a test that bypassed ``sdk_options`` would otherwise judge the defaults with its own windows.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pytest

from harness.checks.options import ClientOptions
from harness.checks.verdict import Inconclusive
from harness.checks.windows import WorkerOptions
from harness.drivers.capabilities import (
    CAPABILITIES,
    CONFIGURABILITY,
    OBSERVATION,
    OPTIONAL,
    CapabilityError,
    Defaults,
    NotImplementedByBuild,
    defaults_of,
)
from harness.history import FAKE, History

PROBE_ACTIVITY = "probe"


class SdkOptions:
    """The resiliency options a test runs with on the build under test (the ``sdk_options`` fixture).

    ``worker(OPTIONS)`` is OPTIONS when the build takes worker options, else the build's defaults
    (declared by its driver; the design's where the build has no such setting). ``worker(None)`` is the
    build's defaults (an "sdk-defaults" variant, which configures nothing). ``client(...)`` likewise
    for the client options, as a dict. A test that configures options must declare
    ``@pytest.mark.needs("resiliency_options")`` (or ``"client_resiliency_options"``), so that the
    plugin can decide what it becomes on a build without them."""

    def __init__(self, info: Mapping[str, Any], needs: Iterable[str] = ()) -> None:
        self.capabilities: Mapping[str, Any] = info.get("capabilities") or {}
        self.defaults: Defaults = defaults_of(info)
        self.needs = set(needs)

    def configurable(self, capability: str) -> bool:
        return bool(self.capabilities.get(capability, False))

    def _declared(self, capability: str) -> None:
        if capability not in self.needs:
            raise CapabilityError(f"the test configures {capability} but does not declare "
                                  f"@pytest.mark.needs({capability!r}) (harness/drivers/capabilities.py)")

    def worker(self, configured: WorkerOptions | None) -> WorkerOptions:
        if configured is None:
            return self.defaults.worker
        self._declared("resiliency_options")
        return configured if self.configurable("resiliency_options") else self.defaults.worker

    def client(self, configured: Mapping[str, float | int] | ClientOptions | None) -> dict[str, float | int]:
        if configured is None:
            return self.defaults.client.as_dict()
        self._declared("client_resiliency_options")
        wanted = configured.as_dict() if isinstance(configured, ClientOptions) else dict(configured)
        return wanted if self.configurable("client_resiliency_options") else self.defaults.client.as_dict()


@contextlib.contextmanager
def unsupported_is_judged() -> Iterator[None]:
    """A step the build cannot do although its driver declared nothing missing (the driver answers
    ``unsupported`` naming the capability): by the capability's class, an optional feature is NOT
    APPLICABLE, a missing option NOT IMPLEMENTED, a missing observation INCONCLUSIVE; never a pass."""
    from harness.drivers.process import DriverUnsupported
    try:
        yield
    except DriverUnsupported as exc:
        cap = (exc.error or {}).get("capability")
        kind = CAPABILITIES[cap].kind if cap in CAPABILITIES else None
        if kind == OPTIONAL:
            pytest.skip(f"NOT APPLICABLE to this SDK build: {exc.short} (optional capability {cap})")
        if kind == OBSERVATION:
            raise Inconclusive(f"the harness cannot observe this build: {exc.short}") from exc
        if kind == CONFIGURABILITY:
            raise NotImplementedByBuild(f"{exc.short} ({cap}: the build lacks a promised option)") from exc
        raise


def _configured(driver: Any, capability: str, wanted: Any, defaults: Any) -> Any:
    """``wanted`` when the build takes ``capability``; None (its defaults) when it does not and
    ``wanted`` are those defaults (from SdkOptions); a harness error otherwise."""
    if wanted is None:
        return None
    caps = (getattr(driver, "info", None) or {}).get("capabilities") or {}
    if caps.get(capability, False):
        return wanted
    if wanted != defaults:
        raise CapabilityError(f"this build cannot take {capability}: obtain the options with the sdk_options "
                              "fixture, so that the test runs at the build's defaults with their windows")
    return None


def start_worker(driver: Any, address: str, opts: WorkerOptions | None, *,
                 channel: str = "sdk", activities: list[dict] | None = None,
                 orchestrations: list[dict] | None = None, **extra: Any) -> None:
    """Start the worker with ``opts`` (None: configure nothing); ``extra`` goes to the driver as is
    (e.g. ``metadata``)."""
    acts = [{"name": PROBE_ACTIVITY, "sleep_seconds": 0, "result": "probe-ok"}] + list(activities or [])
    defaults = defaults_of(getattr(driver, "info", None) or {}).worker
    resiliency = _configured(driver, "resiliency_options", opts, defaults)
    with unsupported_is_judged():
        driver.start_worker(address=address, channel=channel,
                            resiliency=resiliency.as_dict() if resiliency else None,
                            activities=acts, orchestrations=orchestrations or [], **extra)


def create_client(driver: Any, client_id: str, *, kind: str = "sync", address: str, channel: str = "sdk",
                  resiliency: Mapping[str, float | int] | None = None, **extra: Any) -> None:
    """Create a client with ``resiliency`` (from ``sdk_options.client``; None: configure nothing);
    ``extra`` goes to the driver as is (e.g. ``metadata``)."""
    defaults = defaults_of(getattr(driver, "info", None) or {}).client.as_dict()
    res = _configured(driver, "client_resiliency_options", dict(resiliency) if resiliency else None, defaults)
    with unsupported_is_judged():
        driver.create_client(client_id, kind=kind, address=address, channel=channel, resiliency=res, **extra)


def wait_for_stream(history: History, *, after: float | None = None, timeout: float = 15.0):
    """The next GetWorkItems call the fake sees after ``after``."""
    return history.wait_for(timeout, source=FAKE, kind="rpc_start", method="GetWorkItems", after=after)


def wait_for_messages(history: History, call_id: int, n: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(history.select(FAKE, "message_sent", call_id=call_id)) >= n:
            return True
        time.sleep(0.02)
    return False


def probe(fake: Any, history: History, timeout: float) -> tuple[str, float]:
    """Queue a standalone activity and wait (bounded) for its completion.

    Returns (completion token, time it was queued). A worker that completes it has a
    WORKING stream, not merely an open one."""
    t = time.monotonic()
    token = fake.schedule_activity(PROBE_ACTIVITY, '"ping"')
    history.wait_for(timeout, source=FAKE, kind="work_item_completed", completion_token=token)
    return token, t


_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def number_word(n: int) -> str:
    """``n`` as a word up to ten (else digits): scenarios put counts derived from the options into
    check names ("two UNAVAILABLE with threshold 2"), and the names stay what they were when the
    configured options give the same count."""
    return _WORDS[n] if 0 <= n < len(_WORDS) else str(n)
