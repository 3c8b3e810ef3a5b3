"""What a run shows people: histories and verdicts attached to test reports, the SPEC parser, the
conformance matrix and its rendering (Markdown, HTML), and timeline pictures of a history.

    attach.py      what a test's reports carry: its history, driver stderr, verdicts (as data)
    spec.py        conformance/SPEC.md's requirements table
    results.py     a test's result, a requirement's row, the outcome/status rules
    markdown.py    conformance.md
    html.py        conformance.html
    collector.py   reports -> results -> the matrix, written with a timeline per failure
    plugin.py      the pytest wiring: ReportPlugin, on_report, on_finish, junit_properties
    timeline/      one history as an SVG/HTML picture (model, layout, draw, cli)

May import: ``harness.history``, ``harness.checks`` (to read Verdicts back from their JSON).
"""
