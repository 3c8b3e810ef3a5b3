"""What a run shows people: histories attached to failed tests, the SPEC parser, the conformance
matrix and its rendering (Markdown, HTML), and timeline pictures of a history.

May import: ``harness.history``, ``harness.checks`` (to read Verdicts back from their JSON).
"""
