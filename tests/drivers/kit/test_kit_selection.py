"""The kit's own contract: it covers every SDK unless told otherwise, and a missing toolchain fails it."""

from __future__ import annotations

import pytest

from harness.sdk import ADAPTERS
from tests.drivers.kit import conftest as kit


def test_all_eight_sdks_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(kit.KIT_SDKS_ENV, raising=False)
    assert kit.kit_sdks() == list(ADAPTERS)
    assert set(ADAPTERS) == {"python", "dapr-python", "go", "dapr-go", "js", "dapr-js", "java", "dapr-java"}


def test_env_narrows_and_rejects_unknown_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(kit.KIT_SDKS_ENV, " python, go ")
    assert kit.kit_sdks() == ["python", "go"]
    monkeypatch.setenv(kit.KIT_SDKS_ENV, "python,cobol")
    with pytest.raises(pytest.UsageError, match="cobol"):
        kit.kit_sdks()


def test_missing_toolchain_fails_naming_it_and_the_escape_hatch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kit, "_builds", {})  # no cached build: resolve for real
    monkeypatch.setenv("GO", "/nonexistent/go")
    with pytest.raises(pytest.fail.Exception) as ei:
        kit.kit_build("go")
    text = str(ei.value)
    assert "Go toolchain" in text and "install Go" in text and kit.KIT_SDKS_ENV in text
