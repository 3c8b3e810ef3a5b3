"""Which SDK build is under test, and how its driver process is started: the SDK seam.

Owns: the adapter protocol (``SdkAdapter``), the registry of adapters (``ADAPTERS``), the one rule
for choosing a build from the command line (``BuildChoice``), and the ``SdkBuild`` an adapter
resolves to: the SDK's name and version, where it came from, and the driver's command (argv,
environment, working directory). Adding a language is one adapter module and one line in
``ADAPTERS``; ``--help``, option validation, error messages, the pytest header and output folder
names all read the registry.

May import: ``harness.history``, ``harness.paths``, ``harness.drivers`` (the driver programs the
adapters start live there).
"""

from __future__ import annotations

from pathlib import Path

from harness.sdk.base import (
    BuildChoice,
    BuildOption,
    DriverCommand,
    SdkAdapter,
    SdkBuild,
    SdkUnavailable,
    SdkUsageError,
)

__all__ = ["ADAPTERS", "BuildChoice", "BuildOption", "DriverCommand", "SdkAdapter", "SdkBuild", "SdkUnavailable",
           "SdkUsageError", "get_adapter", "resolve", "validate_choice"]


def _registry() -> dict[str, SdkAdapter]:
    from harness.sdk.go import DAPR as DAPR_GO
    from harness.sdk.go import GoAdapter
    from harness.sdk.java import DAPR, MICROSOFT, JavaAdapter
    from harness.sdk.js import dapr_adapter, microsoft_adapter
    from harness.sdk.python import DAPR as DAPR_PYTHON
    from harness.sdk.python import PythonAdapter
    return {"python": PythonAdapter(), "dapr-python": PythonAdapter(DAPR_PYTHON),
            "go": GoAdapter(), "dapr-go": GoAdapter(DAPR_GO),
            "js": microsoft_adapter(), "dapr-js": dapr_adapter(),
            "java": JavaAdapter(MICROSOFT), "dapr-java": JavaAdapter(DAPR)}


ADAPTERS: dict[str, SdkAdapter] = _registry()


def get_adapter(name: str) -> SdkAdapter:
    try:
        return ADAPTERS[name]
    except KeyError:
        raise SdkUsageError(f"--sdk={name}: no driver for this SDK yet; available: {', '.join(ADAPTERS)}") from None


def all_build_options() -> list[tuple[BuildOption, SdkAdapter]]:
    """Every adapter-specific option once (an option is one pytest flag even when two adapters share
    it, e.g. --sdk-python for python and dapr-python), with the first adapter that declares it."""
    seen: dict[str, tuple[BuildOption, SdkAdapter]] = {}
    for a in ADAPTERS.values():
        for o in a.build_options:
            seen.setdefault(o.flag, (o, a))
    return list(seen.values())


def resolve(choice: BuildChoice, cache_dir: Path) -> SdkBuild:
    adapter = validate_choice(choice)
    if adapter is None:
        raise SdkUsageError(f"no --sdk given; available: {', '.join(ADAPTERS)}")
    return adapter.resolve(choice, Path(cache_dir))


def sdk_help() -> str:
    return ", ".join(f"{a.name} ({a.registry})" for a in ADAPTERS.values())


def validate_choice(choice: BuildChoice) -> SdkAdapter | None:
    """The one rule for choosing a build; returns the adapter (None when no --sdk was given)."""
    picked = choice.chosen()
    if len(picked) > 1:
        raise SdkUsageError(f"{' and '.join(picked)} exclude each other: pick one way to select the SDK build")
    if choice.sdk is None:
        if picked:
            raise SdkUsageError(f"{picked[0]} needs --sdk (e.g. --sdk={next(iter(ADAPTERS))})")
        return None
    adapter = get_adapter(choice.sdk)
    foreign = [f for f, v in choice.extra.items() if v and f not in {o.flag for o in adapter.build_options}]
    if foreign:
        raise SdkUsageError(f"{foreign[0]} does not apply to --sdk={choice.sdk}")
    return adapter
