"""SDK drivers: the SDK under test runs in its own process and speaks PROTOCOL.md (JSON lines).

Owns: ``process`` (the harness side of the protocol: spawn, request/answer, events into the
History, always-kill on close) and one folder per language driver (``python/driver.py``, with the
deliberately broken SDK variants the suite's own tests use in ``python/mutants/``).

Also ``capabilities``: every capability name a driver may declare, its class (optional,
configurability, observation), what a test that needs a missing one becomes, and the SDK defaults a
test runs at when it cannot configure the build.

May import: ``harness.history``; ``capabilities`` also ``harness.checks`` (the option types and the
design's defaults). Which interpreter or binary runs a driver is the SDK adapter's business
(harness/sdk/), not this package's.
"""
