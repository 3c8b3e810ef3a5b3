"""The SDK seam (harness/sdk/): the registry, the one rule for choosing a build, and the Python adapter."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from harness.drivers.process import Driver
from harness.history import History
from harness.options import sdk_choice
from harness.sdk import (
    ADAPTERS,
    BuildChoice,
    SdkUnavailable,
    SdkUsageError,
    get_adapter,
    resolve,
    validate_choice,
)
from harness.sdk.python import probe_durabletask, resolve_python_sdk


def test_registry_names_every_adapter_in_errors():
    with pytest.raises(SdkUsageError) as ei:
        get_adapter("cobol")
    assert "--sdk=cobol" in str(ei.value) and all(name in str(ei.value) for name in ADAPTERS)


@pytest.mark.parametrize("choice, message", [
    (BuildChoice("python", "1.12.0", "/x"), "--sdk-version and --sdk-path exclude each other"),
    (BuildChoice("python", "1.12.0", None, {"--sdk-python": "/usr/bin/python3"}),
     "--sdk-version and --sdk-python exclude each other"),
    (BuildChoice(None, "1.12.0"), "--sdk-version needs --sdk"),
    (BuildChoice("nope"), "no driver for this SDK yet"),
])
def test_one_rule_for_choosing_a_build(choice, message):
    with pytest.raises(SdkUsageError) as ei:
        validate_choice(choice)
    assert message in str(ei.value)


def test_options_read_adapter_specific_flags_from_the_registry():
    values = {"--sdk": "python", "--sdk-version": None, "--sdk-path": None, "--sdk-python": "/p"}
    choice = sdk_choice(values.get)
    assert choice == BuildChoice("python", None, None, {"--sdk-python": "/p"})
    assert validate_choice(choice) is ADAPTERS["python"]


def test_build_names_itself_for_headers_and_folders(tmp_path: Path) -> None:
    build = resolve(BuildChoice("python"), tmp_path)
    assert build.label == f"python {build.version}" and build.folder_name == f"python-{build.version}"
    assert build.source in build.header() and sys.executable in build.header()
    patched = build.command(["/tmp/p.py"])
    assert patched.argv[-2:] == ("--patch", "/tmp/p.py") and build.command() == build.driver


def test_resolve_current_env(tmp_path: Path) -> None:
    import importlib.metadata
    build = resolve_python_sdk(version=None, path=None, python=None, cache_dir=tmp_path)
    assert build.driver.argv[0] == sys.executable
    assert build.version == importlib.metadata.version("durabletask")
    assert build.source.startswith("env:") and build.language == "python"


def test_resolve_bad_interpreter(tmp_path: Path) -> None:
    with pytest.raises(SdkUnavailable):
        resolve_python_sdk(version=None, path=None, python=str(tmp_path / "no-python"), cache_dir=tmp_path)


def test_resolve_bogus_version(tmp_path: Path) -> None:
    with pytest.raises(SdkUnavailable) as ei:
        resolve_python_sdk(version="0.0.0-nope", path=None, python=None, cache_dir=tmp_path)
    assert "durabletask==0.0.0-nope" in str(ei.value)
    assert not any(p.name.startswith("durabletask-0.0.0") for p in (tmp_path / "venvs").iterdir())


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("RUN_SLOW") != "1", reason="installs from PyPI; set RUN_SLOW=1")
def test_resolve_pypi_version_and_drive_it(tmp_path: Path) -> None:
    build = resolve_python_sdk(version="1.5.0", path=None, python=None, cache_dir=tmp_path)
    assert build.version == "1.5.0" and probe_durabletask(build.driver.argv[0]) == "1.5.0"
    again = resolve_python_sdk(version="1.5.0", path=None, python=None, cache_dir=tmp_path)
    assert again.driver == build.driver  # cached
    d = Driver(build.command(), History('t'), log_dir=tmp_path)
    try:
        info = d.hello()
        assert info["sdk_version"] == "1.5.0"
        assert info["capabilities"]["resiliency_options"] and not info["capabilities"]["logger"]
    finally:
        d.close()
