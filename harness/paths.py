"""Where the harness keeps what it builds once and reuses: SDK environments, driver builds, the
Toxiproxy binary, server logs. One place, so the plugin, the command line and the repro runner agree."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$DT_CONFORMANCE_CACHE``, else ``$XDG_CACHE_HOME/durabletask-conformance`` (``~/.cache/...``)."""
    env = os.environ.get("DT_CONFORMANCE_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "durabletask-conformance"
