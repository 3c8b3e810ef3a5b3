"""Collect scenario files as tests: ``pytest scenarios/field --sdk=python``.

One test item per ``*.toml`` under scenarios/ (except templates starting with ``_``). Each item
uses the conformance plugin's fixtures and options (harness/plugin.py): the SDK build
(``--sdk``/``--sdk-version``/``--sdk-path``), the session's Toxiproxy server, the test's History and
the timing tolerance, then runs harness.repro.runner.ScenarioRun, which starts the test's fake, proxy
and driver with harness/rig.py (the same parts as the plugin's fixtures) behind the session's
Toxiproxy and stops them whatever happens. A file that does not validate is a
collection error naming the file, the step and the field. PASS passes, FAIL fails with every
verdict explained, NOT IMPLEMENTED and INCONCLUSIVE fail with the reason (the build lacks a promised
option; the driver cannot observe it), NOT APPLICABLE (an optional feature missing) skips with "NOT
APPLICABLE to this SDK build: ...": the same classes as the conformance suite
(harness/drivers/capabilities.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.repro.schema import ScenarioError, load_scenario


def pytest_collect_file(parent: pytest.Collector, file_path: Path):
    if file_path.suffix == ".toml" and not file_path.name.startswith("_"):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self):
        try:
            # The run's tolerance: a file whose scale would let it swamp a window is a collection error.
            scenario = load_scenario(self.path, tolerance=float(self.config.getoption("--timing-tolerance")))
        except ScenarioError as exc:
            raise self.CollectError(str(exc)) from None

        def test_scenario(sdk_build, toxiproxy, history, conformance_settings, tmp_path):
            _run(scenario, sdk_build, toxiproxy, history, conformance_settings, tmp_path)

        item = pytest.Function.from_parent(self, name=self.path.stem, callobj=test_scenario)
        item.add_marker(pytest.mark.requirement(*[f"field:{s}" for s in scenario.source]))
        yield item


def _run(scenario, sdk_build, toxiproxy, history, settings, tmp_path: Path) -> None:
    from harness.checks.verdict import judged
    from harness.repro.output import safe, verdict_text, write_outputs
    from harness.repro.runner import ERROR, FAIL, INCONCLUSIVE, NOT_APPLICABLE, NOT_IMPLEMENTED, ScenarioRun
    run = ScenarioRun(scenario, sdk=sdk_build, history=history, toxiproxy=toxiproxy,
                      cache_dir=settings.cache_dir, tolerance=settings.tolerance, log_dir=tmp_path,
                      patches=list(settings.sdk_patches))
    out = run.run()
    judged(*out.verdicts)  # the matrix and --junitxml read them as data
    if out.verdict in (FAIL, ERROR, NOT_IMPLEMENTED, INCONCLUSIVE) or settings.keep_histories:
        folder = Path(settings.history_dir) / safe(f"repro-{scenario.name}")
        write_outputs(out, folder)
        where = f"\noutput folder: {folder}"
    else:
        where = ""
    if out.verdict == NOT_APPLICABLE:
        pytest.skip(out.reason)
    if out.verdict in (NOT_IMPLEMENTED, INCONCLUSIVE):
        pytest.fail(f"{out.reason}{where}", pytrace=False)
    if out.verdict == ERROR:
        pytest.fail(f"scenario could not run: {out.reason}{where}", pytrace=False)
    if out.verdict == FAIL:
        raise AssertionError(verdict_text(out) + where)
