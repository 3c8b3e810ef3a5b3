"""What a test's pytest reports carry: its history (and its driver's stderr), and its verdicts.

A failed conformance test carries: the timeline as a report section (printed by
pytest under the failure), the history saved as JSON (path in the section and in
``report.user_properties``), and the SDK process's stderr tail.

Every test's call report carries the verdicts ``require`` judged during the call, as data:
``("verdicts", JSON list of Verdict.to_json())`` in ``report.user_properties`` and in
``item.user_properties`` (pytest-xdist sends report properties to the controller; ``--junitxml``
writes the teardown report's, which copies the item's), and ``history.meta["verdicts"]`` before the
history is saved. The matrix decides which requirements failed from it (``decode_verdicts``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from harness.checks.verdict import Verdict
from harness.history import History

MAX_TIMELINE_LINES = 400


VERDICTS = "verdicts"  # the user property (and history.meta key) with a test's verdicts


def verdicts_json(verdicts: Iterable[Verdict]) -> list[dict[str, Any]]:
    """``Verdict.to_json()`` of each, JSON-safe (a measured value JSON cannot carry becomes its str)."""
    return json.loads(json.dumps([v.to_json() for v in verdicts], default=str))


def decode_verdicts(text: str) -> list[Verdict]:
    """The verdicts of a ``("verdicts", text)`` property; ValueError if it is not one."""
    data = json.loads(text)
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise ValueError(f"not a list of verdicts: {text[:80]!r}")
    try:
        return [Verdict.from_json(d) for d in data]
    except TypeError as exc:
        raise ValueError(f"not a list of verdicts: {exc}") from exc


def attach_verdicts(item: pytest.Item, report: pytest.TestReport, verdicts: Iterable[Verdict],
                    history: History | None) -> None:
    """Put the verdicts judged during the call into the call report, the item (so the teardown
    report and --junitxml carry them too) and ``history.meta`` (call before ``attach`` saves it;
    verdicts already there, e.g. a field-report scenario's, stay when ``require`` judged none)."""
    data = verdicts_json(verdicts)
    prop = (VERDICTS, json.dumps(data))
    report.user_properties.append(prop)
    item.user_properties.append(prop)
    if history is not None and (data or VERDICTS not in history.meta):
        history.meta[VERDICTS] = data


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
