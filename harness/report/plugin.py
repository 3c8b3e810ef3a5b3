"""The matrix's pytest wiring: ``ReportPlugin`` (registered by harness/plugin.py on the controller,
not on xdist workers), the process's collector, ``on_report``/``on_finish``, and
``junit_properties`` (a test's requirement IDs as ``("requirement", ID)`` properties, added to
``item.user_properties`` at collection, which also puts them into ``--junitxml``).

Works under pytest-xdist: requirement IDs, history paths, SDK name/version and verdicts travel in
``report.user_properties``, so the controller, which has reports but no items, builds the matrix
from ``pytest_runtest_logreport`` alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.report.collector import ConformanceCollector
from harness.report.results import junit_properties

__all__ = ["ConformanceCollector", "ReportPlugin", "collector", "junit_properties", "on_finish", "on_report"]

_default: ConformanceCollector | None = None


def collector() -> ConformanceCollector:
    """The process's collector used by ``on_report`` / ``on_finish``."""
    global _default
    if _default is None:
        _default = ConformanceCollector()
    return _default


def on_report(item: Any, report: Any) -> None:
    """Record one phase report. ``item`` may be None (xdist controller: IDs come from the
    report's ``("requirement", ID)`` user properties)."""
    collector().add(report, item)


def on_finish(session: Any, out_dir: Path | str, *, sdk: str | None = None,
              sdk_version: str | None = None) -> tuple[Path, Path] | None:
    """Write the matrix into ``out_dir`` (on the xdist controller or a plain run; a no-op on a
    worker) and forget the collected reports. SDK name/version: given, else the ones the tests'
    reports carry (``("sdk", ...)``, ``("sdk_version", ...)``), else the ``--sdk``/``--sdk-version``
    options."""
    global _default
    config = getattr(session, "config", None)
    if config is not None and hasattr(config, "workerinput"):
        return None
    c = collector()
    if config is not None:
        c.sdk = c.sdk or sdk or next((r.sdk for r in c.results if r.sdk), None) or _opt(config, "--sdk")
        c.sdk_version = (c.sdk_version or sdk_version or next((r.sdk_version for r in c.results if r.sdk_version),
                                                              None) or _opt(config, "--sdk-version"))
    paths = c.write(Path(out_dir), sdk=sdk, sdk_version=sdk_version)
    _default = None
    return paths


def _opt(config: Any, name: str) -> str | None:
    try:
        v = config.getoption(name)
    except (ValueError, AttributeError):
        return None
    return str(v) if v else None


class ReportPlugin:
    """A pytest plugin object: register it on the controller (not on xdist workers) with
    ``config.pluginmanager.register(ReportPlugin(out_dir), "conformance-report")``."""

    def __init__(self, out_dir: Path | str) -> None:
        self.out_dir = Path(out_dir)
        self.paths: tuple[Path, Path] | None = None

    def pytest_runtest_logreport(self, report: Any) -> None:
        on_report(None, report)

    def pytest_sessionfinish(self, session: Any) -> None:
        self.paths = on_finish(session, self.out_dir)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.paths:
            terminalreporter.write_line(f"conformance report: {self.paths[1]} ({self.paths[0].name})")
