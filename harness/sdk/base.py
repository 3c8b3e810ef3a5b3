"""The SDK seam's data: a resolved ``SdkBuild``, its ``DriverCommand``, the user's ``BuildChoice``, the
``SdkAdapter`` protocol every language implements, and the errors. The registry is in ``__init__``."""


from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class SdkUnavailable(RuntimeError):
    """The requested SDK build cannot be used; the message says how to fix it."""


class SdkUsageError(ValueError):
    """The options name no valid build (unknown SDK, conflicting options); the message says which."""


@dataclass(frozen=True)
class DriverCommand:
    """How to start one driver process (harness/drivers/PROTOCOL.md)."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)  # added to the harness's environment
    cwd: Path | None = None


@dataclass(frozen=True)
class SdkBuild:
    """One SDK build, resolved: what is tested and how its driver starts."""

    sdk: str  # the --sdk name, e.g. "python"
    language: str
    version: str  # the SDK's version in this build, read before any driver starts
    source: str  # where it came from: env:..., pypi:durabletask==X, path:..., python:...
    driver: DriverCommand
    runtime: str = ""  # what runs the driver, for the header (e.g. "python /path/to/python")
    patch_option: str | None = None  # the driver's option to load a patch file; None: no patches
    # Which wire schema the build speaks ("microsoft" or "dapr", fakes/schemas.py): the fake is started
    # with it, because dapr builds send messages a microsoft-schema server cannot decode.
    schema: str = "microsoft"

    @property
    def label(self) -> str:
        """``python 1.12.0``: for headers, titles and matrix columns."""
        return f"{self.sdk} {self.version}"

    @property
    def folder_name(self) -> str:
        """``python-1.12.0``: for output folder names."""
        return f"{self.sdk}-{self.version}"

    def header(self) -> str:
        extra = f"; {self.runtime}" if self.runtime else ""
        return f"{self.label} ({self.source}{extra})"

    def command(self, patches: Sequence[str | Path] = ()) -> DriverCommand:
        """The driver's command, with deliberately broken variants loaded (the suite's own tests)."""
        if not patches:
            return self.driver
        if self.patch_option is None:
            raise SdkUsageError(f"--sdk-patch: the {self.sdk} driver cannot load patches")
        argv = list(self.driver.argv)
        for p in patches:
            argv += [self.patch_option, str(Path(p).resolve())]
        return DriverCommand(tuple(argv), self.driver.env, self.driver.cwd)


@dataclass(frozen=True)
class BuildOption:
    """An option only one adapter understands (e.g. ``--sdk-python``): one more way to pick a build."""

    flag: str  # "--sdk-python"
    metavar: str
    help: str

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class BuildChoice:
    """What the user asked for: at most one of a registry version, a local checkout, or one
    adapter-specific way (``extra``: flag -> value)."""

    sdk: str | None
    version: str | None = None
    path: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def chosen(self) -> list[str]:
        picked = [n for n, v in (("--sdk-version", self.version), ("--sdk-path", self.path)) if v]
        return picked + [flag for flag, v in self.extra.items() if v]


class SdkAdapter(Protocol):
    """One SDK family: how to resolve a build of it and start its driver."""

    name: str  # the --sdk value
    language: str
    registry: str  # where --sdk-version installs from, for help and errors ("PyPI package durabletask")
    build_options: tuple[BuildOption, ...]  # adapter-specific ways to pick a build

    def resolve(self, choice: BuildChoice, cache_dir: Path) -> SdkBuild:
        """The build the choice names; SdkUnavailable with the fix when it cannot be had."""
        ...
