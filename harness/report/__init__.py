"""What a run shows people: histories and verdicts attached to test reports, the SPEC parser, the
conformance matrix and its rendering (Markdown, HTML), and timeline pictures of a history.

    attach.py      what a test's reports carry: its history, driver stderr, verdicts (as data)
    spec.py        conformance/SPEC.md's requirements table
    statuses.py    the statuses (PASS, FAIL, NOT IMPLEMENTED, NON-STRICT, INCONCLUSIVE, NOT APPLICABLE,
                   NOT RUN) and the rules that decide them per test and per requirement
    gate.py        the release gate over a run: PASS/FAIL, counts, tolerance, patches, strict
    results.py     a test's result, a requirement's row, what the renderings show
    markdown.py    conformance.md
    html.py        conformance.html
    collector.py   reports -> results -> the matrix, written with a timeline per failure
    plugin.py      the pytest wiring: ReportPlugin (gate, exit code, matrix), on_report, on_finish,
                   junit_properties
    timeline/      one history as an SVG/HTML picture (model, layout, draw, cli)

May import: ``harness.history``, ``harness.checks`` (to read Verdicts back from their JSON).
"""
