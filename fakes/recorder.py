"""What the fake needs from the record it writes into: one method, ``record``.

The fake sidecar (sidecar.py, calls.py, engine.py) only *appends* events; it never reads them back
(its own state -- open calls, streams, the work queue -- lives in the fake). So any object with
``record(source, kind, t=None, **data)`` will do; the harness passes its ``harness.history.History``,
which satisfies this Protocol. ``fakes/`` imports nothing from ``harness/`` (tests/test_layout.py).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

# The source name of every event the fake records. harness.history.FAKE is the same string
# (tests/fakes/test_recorder.py asserts it): checkers filter the History on it.
FAKE = "fake"


@runtime_checkable
class Recorder(Protocol):
    """An append-only event log shared with the rest of a test."""

    def record(self, source: str, kind: str, t: float | None = None, **data: Any) -> Any:
        """Append an event from ``source`` (always ``FAKE`` here) of ``kind`` with ``data``; ``t``
        (monotonic seconds) defaults to now."""
        ...
