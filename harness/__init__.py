"""durabletask-conformance: the harness that judges a Durable Task SDK build over real sockets.

One package per role. Each package's docstring says what it owns and what it may import; the
order below is enforced by tests/test_layout.py (a package imports only packages above it in
this list, or itself; ``fakes/`` imports nothing from ``harness/``):

    harness.history, harness.paths   the one record of a test; where caches live
    harness.checks                   verdicts: Verdict, windows, history queries, one module per area
    harness.net                      Toxiproxy, faults on the link, faults on one connection, sockets
    harness.drivers                  the SDK process side of drivers/PROTOCOL.md, one folder per language
    harness.sdk                      which SDK build is under test: adapters (Python first) and their registry
    harness.report                   histories attached to failures, the SPEC parser, the matrix, timelines
    harness.rig, harness.workload    starts Toxiproxy -> fake -> proxy -> driver; workload steps for tests
    harness.repro                    field-report scenario files: schema, runner, expectations, output
    harness.options, harness.recheck the plugin's options; re-judging a saved history (``check``)
    harness.plugin, harness.__main__ the pytest plugin and the command line
"""
