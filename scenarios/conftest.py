"""Collect scenario files as tests: ``pytest scenarios/field --sdk=python`` or ``pytest scenarios/field --field-sdk=own``.

One test item per ``*.toml`` under scenarios/ (except templates starting with ``_``). Each item
uses the conformance plugin's fixtures and options (harness/plugin.py): the SDK build
(``--sdk``/``--sdk-version``/``--sdk-path``), the session's Toxiproxy server, the test's History and
the timing tolerance, then runs harness.repro.runner.ScenarioRun, which starts the test's fake, proxy
and driver with harness/rig.py (the same parts as the plugin's fixtures) behind the session's
Toxiproxy and stops them whatever happens. A file that does not validate is a
collection error naming the file, the step and the field.

Which SDK a file runs against, ``--field-sdk``:
  ``given`` (default, as before): every file against the build --sdk names (without --sdk the items skip,
            like the conformance tests);
  ``own``:  every file against the SDK its report is about (its ``sdk``) at that SDK's default version,
            or the reference build (python) when that SDK has no driver (runner.pick_sdk); --sdk and its
            build options then apply only to the conformance tests of the same session.

PASS passes; REPRODUCED (an ``expected = "fail"`` file whose stated checks failed and only those)
passes; FIXED fails with the message to update the file; FAIL fails with every verdict explained;
NOT IMPLEMENTED and INCONCLUSIVE fail with the reason (the build lacks a promised option; the driver
cannot observe it); NOT APPLICABLE (an optional feature missing) skips with "NOT APPLICABLE to this SDK
build: ...": the same classes as the conformance suite (harness/drivers/capabilities.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.repro.schema import ScenarioError, load_scenario

FIELD_SDK_MODES = ("given", "own")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("durabletask-conformance").addoption(
        "--field-sdk", choices=FIELD_SDK_MODES, default="given",
        help="scenario files: 'given' (default) runs every file against the --sdk build; 'own' runs each file "
             "against the SDK its report is about (its `sdk`), or the reference build (python) when that SDK "
             "has no driver (scenarios/README.md)")


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

        if self.config.getoption("--field-sdk", default="given") == "own":
            from harness.repro.runner import pick_sdk
            pick = pick_sdk(scenario, None)  # no --sdk: the file's own SDK, else the reference build

            # No `sdk_build` fixture: the plugin skips its users when no --sdk is given.
            def test_scenario(toxiproxy, history, conformance_settings, tmp_path):
                build = _build_of(pick.sdk, conformance_settings)
                _run(scenario, build, pick.note, toxiproxy, history, conformance_settings, tmp_path)
        else:
            def test_scenario(sdk_build, toxiproxy, history, conformance_settings, tmp_path):
                from harness.repro.runner import pick_sdk
                pick = pick_sdk(scenario, sdk_build.sdk)
                _run(scenario, sdk_build, pick.note, toxiproxy, history, conformance_settings, tmp_path)

        item = pytest.Function.from_parent(self, name=self.path.stem, callobj=test_scenario)
        item.add_marker(pytest.mark.requirement(*[f"field:{s}" for s in scenario.source]))
        yield item


_BUILDS: dict[str, Any] = {}  # --field-sdk=own: one resolved build per SDK name and process


def _build_of(name: str, settings: Any) -> Any:
    """The default build of the SDK ``name`` (as ``--sdk=name`` alone would pick it), resolved once."""
    from harness.sdk import BuildChoice, SdkUnavailable, resolve
    if name not in _BUILDS:
        try:
            _BUILDS[name] = resolve(BuildChoice(name), settings.cache_dir)
        except SdkUnavailable as exc:
            pytest.fail(f"SDK {name} not available for this file's report: {exc}", pytrace=False)
    return _BUILDS[name]


def _run(scenario, sdk_build, sdk_note: str, toxiproxy, history, settings, tmp_path: Path) -> None:
    from harness.checks.verdict import judged
    from harness.repro.output import safe, verdict_text, write_outputs
    from harness.repro.runner import (
        ERROR,
        FAIL,
        FIXED,
        INCONCLUSIVE,
        NOT_APPLICABLE,
        NOT_IMPLEMENTED,
        ScenarioRun,
    )
    run = ScenarioRun(scenario, sdk=sdk_build, history=history, toxiproxy=toxiproxy,
                      cache_dir=settings.cache_dir, tolerance=settings.tolerance, log_dir=tmp_path,
                      patches=list(settings.sdk_patches), sdk_note=sdk_note)
    out = run.run()
    judged(*out.verdicts)  # the matrix and --junitxml read them as data
    if out.verdict in (FAIL, FIXED, ERROR, NOT_IMPLEMENTED, INCONCLUSIVE) or settings.keep_histories:
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
    if out.verdict == FIXED:
        pytest.fail(f"{scenario.path}: {out.reason}\n\n{verdict_text(out)}{where}", pytrace=False)
    if out.verdict == FAIL:
        raise AssertionError(verdict_text(out) + where)
