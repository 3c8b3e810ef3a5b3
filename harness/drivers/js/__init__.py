"""The JavaScript driver: ``driver.js`` and ``lib/`` run under Node.js next to an npm install of
``@microsoft/durabletask-js`` or ``@dapr/durabletask-js`` (harness/sdk/js.py builds that folder)."""

from __future__ import annotations

from pathlib import Path

DRIVER_DIR = Path(__file__).parent
DRIVER_SCRIPT = DRIVER_DIR / "driver.js"


def source_files() -> list[Path]:
    """The files a build folder gets a copy of: the driver program, never Python or docs."""
    return [DRIVER_SCRIPT, *sorted((DRIVER_DIR / "lib").glob("*.js"))]
