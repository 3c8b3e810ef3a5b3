"""Attach a test's history (and its driver's stderr) to the pytest report.

A failed conformance test carries: the timeline as a report section (printed by
pytest under the failure), the history saved as JSON (path in the section and in
``report.user_properties``), and the SDK process's stderr tail.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from harness.history import History

MAX_TIMELINE_LINES = 400


def history_path(settings: Any, nodeid: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")
    return Path(settings.history_dir) / f"{safe}.json"


def attach(item: pytest.Item, report: pytest.TestReport, settings: Any,
           history: History | None, drivers: list[Any]) -> None:
    if history is None:
        return
    failed = report.failed
    if report.when == "call" or failed:
        for key, value in (("sdk", history.meta.get("sdk", {}).get("sdk")),
                           ("sdk_version", history.meta.get("sdk", {}).get("sdk_version"))):
            if value and (key, value) not in report.user_properties:
                report.user_properties.append((key, value))
    if not (failed or (settings.keep_histories and report.when == "call")):
        return
    path = history.save(history_path(settings, item.nodeid))
    report.user_properties.append(("history", str(path)))
    text = history.format(limit=MAX_TIMELINE_LINES)
    if len(history) > MAX_TIMELINE_LINES:
        text += f"\n... {len(history) - MAX_TIMELINE_LINES} more events in {path}"
    report.sections.append(("history", f"saved to {path}\n{text}"))
    for d in drivers:
        tail = getattr(d, "stderr_tail", None)
        err = tail() if callable(tail) else getattr(d, "stderr_text", "")
        if err:
            report.sections.append(("SDK driver stderr", err[-8000:]))
