"""The Python adapters read the SDK version from the interpreter under test, never from the directory the
harness runs in: CI runs the suite from inside an SDK checkout, whose ``durabletask/`` package would shadow
the installed one for ``python -c`` (the working directory comes first on its sys.path)."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

from harness.sdk.python import probe_durabletask


def test_probe_ignores_a_durabletask_package_in_the_working_directory(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    shadow = tmp_path / "durabletask"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('the checkout in the working directory was imported')\n")
    monkeypatch.chdir(tmp_path)
    assert probe_durabletask(sys.executable) == importlib.metadata.version("durabletask")
