"""Workload steps shared by scenarios: start a worker, wait for its stream, probe it with work.

These pace a scenario (Jepsen's generator role); they never decide a verdict.
A wait that runs out returns None and the checker reports what is missing.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.checks.windows import WorkerOptions
from harness.history import FAKE, History

PROBE_ACTIVITY = "probe"


@contextlib.contextmanager
def not_applicable_if_unsupported() -> Iterator[None]:
    """An SDK build that cannot be configured for a scenario makes it NOT APPLICABLE, never a pass."""
    from harness.drivers.process import DriverUnsupported
    try:
        yield
    except DriverUnsupported as exc:
        pytest.skip(f"NOT APPLICABLE to this SDK build: {exc}")


def start_worker(driver: Any, address: str, opts: WorkerOptions | None, *,
                 channel: str = "sdk", activities: list[dict] | None = None,
                 orchestrations: list[dict] | None = None) -> None:
    acts = [{"name": PROBE_ACTIVITY, "sleep_seconds": 0, "result": "probe-ok"}] + list(activities or [])
    with not_applicable_if_unsupported():
        driver.start_worker(address=address, channel=channel,
                            resiliency=opts.as_dict() if opts else None,
                            activities=acts, orchestrations=orchestrations or [])


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
