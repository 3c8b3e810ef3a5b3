"""``--sdk=dapr-python``: dapr's fork of the Python SDK (PyPI ``durabletask-dapr``), run by the same driver as
``--sdk=python`` because both install the import package ``durabletask``. What tells them apart is the
distribution that provides the import, so these tests hold the adapter to reading it, not guessing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from harness.options import add_sdk_options, sdk_choice
from harness.paths import default_cache_dir
from harness.sdk import ADAPTERS, BuildChoice, SdkUnavailable, all_build_options, resolve, validate_choice
from harness.sdk.python import DAPR, MICROSOFT, probe_durabletask, resolve_python_sdk


def test_dapr_python_is_registered_with_its_distribution_and_schema() -> None:
    adapter = ADAPTERS["dapr-python"]
    assert adapter.name == "dapr-python" and adapter.language == "python"
    assert adapter.registry == "PyPI package durabletask-dapr"
    assert (DAPR.distribution, DAPR.schema) == ("durabletask-dapr", "dapr")
    assert (MICROSOFT.distribution, MICROSOFT.schema) == ("durabletask", "microsoft")


def test_sdk_python_is_one_option_shared_by_both_python_adapters() -> None:
    flags = [o.flag for o, _a in all_build_options()]
    assert flags.count("--sdk-python") == 1
    parser = argparse.ArgumentParser()
    add_sdk_options(parser.add_argument)  # argparse raises on a flag registered twice
    ns = parser.parse_args(["--sdk=dapr-python", "--sdk-python=/p"])
    choice = sdk_choice(lambda flag: getattr(ns, flag.lstrip("-").replace("-", "_")))
    assert choice == BuildChoice("dapr-python", None, None, {"--sdk-python": "/p"})
    assert validate_choice(choice) is ADAPTERS["dapr-python"]


def test_probe_refuses_microsofts_durabletask_for_dapr_python() -> None:
    # This environment has microsoft's durabletask: the same import name, the wrong distribution.
    with pytest.raises(SdkUnavailable) as ei:
        probe_durabletask(sys.executable, DAPR.distribution)
    msg = str(ei.value)
    assert "imports durabletask from durabletask, not from durabletask-dapr" in msg
    assert "--sdk=python" in msg


def test_dapr_python_via_an_interpreter_without_the_sdk_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(SdkUnavailable) as ei:
        resolve_python_sdk(version=None, path=None, python=str(tmp_path / "no-python"), cache_dir=tmp_path,
                           sdk=DAPR)
    assert "cannot run" in str(ei.value)


def test_bogus_dapr_version_names_the_dapr_distribution(tmp_path: Path) -> None:
    with pytest.raises(SdkUnavailable) as ei:
        resolve(BuildChoice("dapr-python", "0.0.0-nope"), tmp_path)
    assert "durabletask-dapr==0.0.0-nope" in str(ei.value)
    assert not any(p.name.startswith("durabletask-dapr-0.0.0") for p in (tmp_path / "venvs").iterdir())


@pytest.fixture(scope="module")
def dapr_build():
    """The default dapr-python build: the pinned PyPI release, installed once into the harness cache (the
    same venv tests/fakes/test_dapr_python_e2e.py uses)."""
    return resolve(BuildChoice("dapr-python"), default_cache_dir())


@pytest.mark.slow
def test_default_dapr_python_build_is_the_pinned_release_with_the_dapr_schema(dapr_build) -> None:
    assert dapr_build.sdk == "dapr-python" and dapr_build.version == DAPR.default_version
    assert dapr_build.schema == "dapr" and dapr_build.source.startswith(f"pypi:durabletask-dapr=={DAPR.default_version}")
    assert dapr_build.folder_name == f"dapr-python-{DAPR.default_version}"
    assert probe_durabletask(dapr_build.driver.argv[0], DAPR.distribution) == DAPR.default_version


@pytest.mark.slow
def test_a_dapr_interpreter_is_refused_for_python_and_accepted_for_dapr_python(dapr_build, tmp_path: Path) -> None:
    python = dapr_build.driver.argv[0]
    with pytest.raises(SdkUnavailable) as ei:
        resolve(BuildChoice("python", extra={"--sdk-python": python}), tmp_path)
    assert "not from durabletask." in str(ei.value) and "--sdk=dapr-python" in str(ei.value)
    build = resolve(BuildChoice("dapr-python", extra={"--sdk-python": python}), tmp_path)
    assert (build.sdk, build.version, build.schema) == ("dapr-python", DAPR.default_version, "dapr")
    assert build.source == f"python:{python}"
