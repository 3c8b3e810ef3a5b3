"""The gate's and the matrix's pytest wiring: ``ReportPlugin`` (registered by harness/plugin.py on the
controller, not on xdist workers), the process's collector, ``on_report``/``on_finish``, and
``junit_properties`` (a test's requirement IDs as ``("requirement", ID)`` properties, added to
``item.user_properties`` at collection, which also puts them into ``--junitxml``).

With ``gate=True`` (every conformance run, i.e. with ``--sdk``) the plugin judges the gate at the end
(gate.py), sets the pytest exit code from it (0 only when it passes; other exit codes, e.g. an
interrupted run, are kept) and prints it with the INCONCLUSIVE and NOT IMPLEMENTED tests listed apart.

Works under pytest-xdist: requirement IDs, history paths, SDK name/version, verdicts and the status
facts travel in ``report.user_properties``, so the controller, which has reports but no items,
builds the gate and the matrix from ``pytest_runtest_logreport`` alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.report.collector import ConformanceCollector
from harness.report.gate import Gate, GateContext
from harness.report.results import junit_properties
from harness.report.results_file import RunInfo, status_reason
from harness.report.statuses import INCONCLUSIVE, NON_STRICT, NOT_IMPLEMENTED, NOT_RUN

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
              sdk_version: str | None = None, context: GateContext | None = None,
              info: RunInfo | None = None) -> tuple[Path, Path] | None:
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
    paths = c.write(Path(out_dir), sdk=sdk, sdk_version=sdk_version, context=context, info=info)
    _default = None
    return paths


def _opt(config: Any, name: str) -> str | None:
    try:
        v = config.getoption(name)
    except (ValueError, AttributeError):
        return None
    return str(v) if v else None


# pytest's exit codes the gate replaces (tests ran); others (interrupted, internal or usage error, no
# tests collected) say something the gate cannot and are kept.
_GATED_EXIT_CODES = (0, 1)


class ReportPlugin:
    """A pytest plugin object: register it on the controller (not on xdist workers) with
    ``config.pluginmanager.register(ReportPlugin(out_dir, context=..., gate=True), "conformance-report")``.
    ``out_dir`` None: judge the gate only, write no matrix."""

    def __init__(self, out_dir: Path | str | None, *, context: GateContext | None = None,
                 gate: bool = False, build_label: Callable[[], str] | None = None) -> None:
        self.out_dir = Path(out_dir) if out_dir else None
        self.build_label = build_label  # the build's header line for results.json (resolved at the end)
        self._started = ("", 0.0)  # (ISO wall-clock time, monotonic) at session start
        self.context = context or GateContext()
        self.judge_gate = gate
        self.gate: Gate | None = None
        self.paths: tuple[Path, Path] | None = None
        self._apart: dict[str, list[str]] = {}

    def pytest_sessionstart(self, session: Any) -> None:
        self._started = (datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), time.monotonic())

    def pytest_runtest_logreport(self, report: Any) -> None:
        on_report(None, report)

    def run_info(self, session: Any) -> RunInfo:
        """The build, start time, wall time (monotonic) and xdist workers of this run, for results.json."""
        build = ""
        if self.build_label is not None:
            try:
                build = self.build_label()
            except Exception as exc:  # the report must not fail because the build cannot be named again
                build = f"unknown ({exc})"
        workers = _opt(getattr(session, "config", None), "numprocesses") if getattr(session, "config", None) else None
        started, t0 = self._started
        return RunInfo(build=build, started=started, wall_time_s=(time.monotonic() - t0) if t0 else None,
                       workers=int(workers) if workers and str(workers).isdigit() else None)

    def pytest_sessionfinish(self, session: Any) -> None:
        global _default
        if self.judge_gate and collector().results:
            c = collector()
            self.gate = c.gate(self.context)
            self._apart = {s: [f"{r.nodeid}: {status_reason(r)}" for r in c.results if r.status == s]
                           for s in (INCONCLUSIVE, NOT_IMPLEMENTED, NON_STRICT, NOT_RUN)}
            if getattr(session, "exitstatus", None) in _GATED_EXIT_CODES:
                session.exitstatus = 0 if self.gate.passed else 1
        if self.out_dir is not None:
            self.paths = on_finish(session, self.out_dir, context=self.context, info=self.run_info(session))
        elif not hasattr(getattr(session, "config", None), "workerinput"):
            _default = None

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.gate is not None:
            markup = {"green": True} if self.gate.passed else {"red": True}
            terminalreporter.write_sep("=", f"conformance {self.gate.summary()}", bold=True, **markup)
            for line in self.gate.lines()[1:]:
                terminalreporter.write_line(line)
            for status, lines in self._apart.items():
                if lines:
                    terminalreporter.write_line(f"{status}:")
                    for line in lines:
                        terminalreporter.write_line(f"  {line}")
        if self.paths:
            terminalreporter.write_line(f"conformance report: {self.paths[1]} ({self.paths[0].name})")
