"""Draw one History as a self-contained HTML page with an inline SVG timeline.

``render_timeline(history, path)`` writes a single HTML file (no JS libraries, no network; a
few lines of inline JS only move a hover tooltip) that explains a test at a glance:

- x axis: seconds since the test started (``history.t0``);
- one lane per TCP connection as the fake saw it (distinct ``peer``), labelled with the client
  port and the server generation(s), carrying the RPCs on that connection as bars from
  ``rpc_start`` to ``rpc_end`` (coloured by method, a red end cap and the code for a non-OK end,
  an arrow for a call still open when the history ends) and the stream messages as ticks
  (pings grey, work items coloured);
- a network lane: network faults (``fault_start``/``fault_end`` matched by ``fault_id``) as
  shaded bands across every lane, instantaneous faults (``tcp_reset``, the fake's
  ``server_fault`` and ``goaway``) as vertical lines, ``tcp_rst_seen`` as a marker;
- an SDK lane (the driver's view): one row per SDK channel (created/closed ticks, the channel's
  life as a line, ``rpc_done`` markers: red with the code when not OK), one row per client for
  ``client_call_done``, one row for activities;
- a scenario lane with the test's marks.

Every drawn element has an SVG ``<title>`` with the event's details (hover). Verdicts, if
given, are listed above the picture; the full event list is in a collapsible section below.

Modules: ``model.py`` what is drawn (from a History), ``layout.py`` where (pixels), ``draw.py``
how (SVG and the HTML page), ``cli.py`` the command line:
``python -m harness.report.timeline HISTORY.json [--html OUT.html] [--title T]`` (also
``python -m harness timeline HISTORY.json --html OUT.html``).
"""

from harness.report.timeline.cli import main
from harness.report.timeline.draw import render_html, render_svg, render_timeline

__all__ = ["main", "render_html", "render_svg", "render_timeline"]
