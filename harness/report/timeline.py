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

Command line: ``python -m harness.timeline HISTORY.json [--html OUT.html] [--title T]``.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.history import DRIVER, FAKE, NETWORK, SCENARIO, Event, History

# -- geometry -------------------------------------------------------------------------------
WIDTH = 1560
LABEL_W = 200  # the lane-label column
RIGHT_PAD = 150  # room for labels right of the last event
AXIS_H = 26
ROW_H = 18  # one bar row in a connection lane
LABEL_ROW_H = 14  # one row of text labels (faults, marks)
LANE_PAD = 7
CHAR_W = 6.1  # estimated width of one character at font-size 11

# -- colours --------------------------------------------------------------------------------
ERROR = "#d62728"
OK_CAP = "#333333"
METHOD_COLOURS: list[tuple[str, str, str]] = [
    # (prefix, colour, legend text)
    ("GetWorkItems", "#4e79a7", "GetWorkItems (stream)"),
    ("Hello", "#59a14f", "Hello"),
    ("Complete", "#b07aa1", "Complete*"),
    ("WaitFor", "#f28e2b", "WaitFor* (long poll)"),
    ("AbandonTask", "#ff9da7", "Abandon*"),
    ("StartInstance", "#76b7b2", "StartInstance"),
    ("", "#9d9d9d", "other RPC"),
]
ITEM_COLOURS: dict[str, str] = {
    "healthPing": "#8c8c8c",
    "activityRequest": "#e8b400",
    "orchestratorRequest": "#17becf",
    "entityRequest": "#8c564b",
}
ITEM_OTHER = "#2ca02c"
FAULT_BAND = "#f5a623"
INSTANT_COLOURS = {"tcp_reset": ERROR, "server_fault": "#7b3294", "goaway": "#1f4e9c"}


def method_colour(method: str) -> str:
    for prefix, colour, _ in METHOD_COLOURS:
        if method.startswith(prefix):
            return colour
    return METHOD_COLOURS[-1][1]


def item_colour(item: str) -> str:
    return ITEM_COLOURS.get(item, ITEM_OTHER)


# -- the model: what gets drawn ---------------------------------------------------------------
@dataclass
class Rpc:
    call_id: Any
    method: str
    peer: str
    start: Event | None
    end: Event | None = None
    messages: list[Event] = field(default_factory=list)
    row: int = 0


@dataclass
class Conn:
    peer: str
    gens: list[Any] = field(default_factory=list)
    rpcs: list[Rpc] = field(default_factory=list)
    rows: int = 1

    @property
    def port(self) -> str:
        return self.peer.rsplit(":", 1)[-1] if ":" in self.peer else self.peer


@dataclass
class Band:
    start: Event
    end: Event | None


def _pack(intervals: list[tuple[float, float]], gap: float = 0.0) -> tuple[list[int], int]:
    """Greedy interval packing: the row of each interval (in input order) and the row count."""
    order = sorted(range(len(intervals)), key=lambda i: intervals[i])
    ends: list[float] = []
    rows = [0] * len(intervals)
    for i in order:
        a, b = intervals[i]
        for r, e in enumerate(ends):
            if a >= e + gap:
                ends[r] = b
                rows[i] = r
                break
        else:
            ends.append(b)
            rows[i] = len(ends) - 1
    return rows, max(1, len(ends))


def _describe(ev: Event, t0: float) -> str:
    parts = [f"t={ev.t - t0:.3f}s  {ev.source} {ev.kind}  (seq {ev.seq})"]
    for k, v in ev.data.items():
        if k in ("metadata", "request") and not v:
            continue
        s = v if isinstance(v, str) else json.dumps(v, default=str)
        if len(s) > 300:
            s = s[:297] + "..."
        parts.append(f"{k} = {s}")
    return "\n".join(parts)


class _Svg:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, s: str) -> None:
        self.parts.append(s)

    def el(self, tag: str, title: str | None = None, text: str | None = None, **attrs: Any) -> None:
        a = " ".join(f'{k.rstrip("_").replace("_", "-")}="{html.escape(str(v), quote=True)}"'
                     for k, v in attrs.items() if v is not None)
        inner = ""
        if title:
            inner += f"<title>{html.escape(title)}</title>"
        if text is not None:
            inner += html.escape(text)
        self.parts.append(f"<{tag} {a}>{inner}</{tag}>" if inner else f"<{tag} {a}/>")


def _nice_step(span: float, target: int = 14) -> float:
    raw = span / max(1, target)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def _place_labels(items: list[tuple[float, str]]) -> tuple[list[int], int]:
    """Rows for text labels starting at pixel x so that none overlap."""
    return _pack([(x, x + len(s) * CHAR_W + 6) for x, s in items])


# -- rendering ----------------------------------------------------------------------------------
def render_svg(history: History, *, verdict_evidence: Iterable[int] = ()) -> str:
    """The timeline picture alone, as an ``<svg>`` element string."""
    events = history.events
    t0 = history.t0
    rels = [e.t - t0 for e in events]
    # The axis is labelled in seconds since the test start but spans the events only: the first
    # few hundred ms of a test are the SDK process starting, and nothing happens in them.
    tmin = min(rels) if rels else 0.0
    tmax = max(rels) if rels else 1.0
    if tmax - tmin < 0.05:
        tmax = tmin + 0.05
    span = tmax - tmin
    tmin = max(min(0.0, tmin), tmin - span * 0.02) if tmin >= 0 else tmin - span * 0.02
    tmax += span * 0.03  # room after the last event, so a still-open call visibly runs on
    span = tmax - tmin
    plot_x0, plot_x1 = LABEL_W, WIDTH - RIGHT_PAD

    def X(t: float) -> float:
        return plot_x0 + (t - t0 - tmin) / span * (plot_x1 - plot_x0)

    t_end = t0 + tmax  # where open bars and bands end
    evidence = set(verdict_evidence)

    # --- gather -------------------------------------------------------------------------------
    conns: dict[str, Conn] = {}
    rpcs: dict[Any, Rpc] = {}
    orphans: list[Event] = []
    for ev in events:
        if ev.source != FAKE:
            continue
        if ev.kind == "rpc_start":
            peer = str(ev.get("peer") or "unknown peer")
            c = conns.setdefault(peer, Conn(peer))
            gen = ev.get("server_gen")
            if gen is not None and gen not in c.gens:
                c.gens.append(gen)
            r = Rpc(ev.get("call_id"), str(ev.get("method") or "?"), peer, ev)
            rpcs[r.call_id] = r
            c.rpcs.append(r)
        elif ev.kind == "rpc_end":
            r = rpcs.get(ev.get("call_id"))
            if r is None:  # an end without a start: draw it as a zero-length call
                peer = str(ev.get("peer") or "unknown peer")
                c = conns.setdefault(peer, Conn(peer))
                r = Rpc(ev.get("call_id"), str(ev.get("method") or "?"), peer, None)
                rpcs[r.call_id] = r
                c.rpcs.append(r)
            if r.end is None:
                r.end = ev
            gen = ev.get("server_gen")
            c = conns[r.peer]
            if gen is not None and gen not in c.gens:
                c.gens.append(gen)
        elif ev.kind == "message_sent":
            r = rpcs.get(ev.get("call_id"))
            if r is not None:
                r.messages.append(ev)
            else:
                orphans.append(ev)

    def rpc_span(r: Rpc) -> tuple[float, float]:
        a = r.start.t if r.start is not None else (r.end.t if r.end is not None else t0)
        b = r.end.t if r.end is not None else t_end
        return a, b

    min_px = 3.0  # every bar is at least this wide; pack in pixels so labels/caps don't collide
    for c in conns.values():
        iv = []
        side_labels = len(c.rpcs) <= 60  # name short calls beside their bar unless too many
        for r in c.rpcs:
            a, b = rpc_span(r)
            xa, xb = X(a), max(X(b), X(a) + min_px)
            if side_labels and xb - xa <= len(r.method) * CHAR_W * 0.9 + 8:
                xb += len(r.method) * CHAR_W * 0.9 + 6
            if r.end is not None and r.end.get("code") not in (None, "OK"):
                xb += len(str(r.end.get("code"))) * CHAR_W + 8  # room for the code label
            iv.append((xa, xb))
        rows, c.rows = _pack(iv, gap=2)
        for r, row in zip(c.rpcs, rows, strict=True):
            r.row = row
    conn_list = sorted(conns.values(), key=lambda c: min(rpc_span(r)[0] for r in c.rpcs))

    # network: bands and instants
    bands: list[Band] = []
    open_bands: dict[Any, Band] = {}
    instants: list[Event] = []
    rst_seen: list[Event] = []
    server_events: list[Event] = []
    for ev in events:
        if ev.source == NETWORK and ev.kind == "fault_start":
            b = Band(ev, None)
            bands.append(b)
            open_bands[ev.get("fault_id", ("anon", ev.seq))] = b
        elif ev.source == NETWORK and ev.kind == "fault_end":
            b = open_bands.pop(ev.get("fault_id", None), None)
            if b is not None:
                b.end = ev
            else:  # an end without its start: a band from the test start
                bands.append(Band(Event(-1, t0 + tmin, NETWORK, "fault_start", dict(ev.data)), ev))
        elif (ev.source == NETWORK and ev.kind == "tcp_reset") or \
                (ev.source == FAKE and ev.kind in ("server_fault", "goaway")):
            instants.append(ev)
        elif ev.source == NETWORK and ev.kind == "tcp_rst_seen":
            rst_seen.append(ev)
        elif ev.source == FAKE and ev.kind in ("server_started", "server_stopped"):
            server_events.append(ev)

    # network lane labels
    net_labels: list[tuple[float, str, str, Event]] = []  # x, text, colour, event
    for b in bands:
        net_labels.append((X(b.start.t), f"{b.start.get('fault', b.start.get('type', 'fault'))}"
                           f" ({b.start.get('stream', '')})", "#a35f00", b.start))
    for ev in instants:
        if ev.kind == "server_fault":
            text = f"server_fault {ev.get('fault', '')} #{ev.get('call_id', '')}"
        elif ev.kind == "goaway":
            text = f"GOAWAY gen {ev.get('server_gen', '')}\u2192{ev.get('new_gen', '')}"
        else:
            text = f"tcp_reset :{ev.get('client_port', '')}"
        net_labels.append((X(ev.t), text, INSTANT_COLOURS.get(ev.kind, "#555"), ev))
    for ev in rst_seen:
        net_labels.append((X(ev.t), f"RST seen \u2192:{ev.get('dst_port', '')}", ERROR, ev))
    for ev in server_events:
        word = "up" if ev.kind == "server_started" else "down"
        net_labels.append((X(ev.t), f"gen {ev.get('server_gen', '')} {word}", "#777", ev))
    net_labels.sort(key=lambda x: x[0])
    net_rows, net_nrows = _place_labels([(x + 6, s) for x, s, _, _ in net_labels])

    # driver rows: channels, clients, activities
    drv_rows: dict[Any, str] = {}  # key -> row label
    chan_life: dict[Any, list[Event | None]] = {}
    drv_marks: list[tuple[Any, Event]] = []
    for ev in events:
        if ev.source != DRIVER:
            continue
        if ev.kind in ("channel_created", "channel_closed"):
            cid = ev.get("channel_id")
            key = ("ch", cid)
            if key not in drv_rows:
                drv_rows[key] = f"channel {cid}"
            life = chan_life.setdefault(key, [None, None])
            if ev.kind == "channel_created":
                life[0] = life[0] or ev
                owner = ev.get("owner")
                drv_rows[key] = f"channel {cid}" + (f" ({owner})" if owner else "")
            else:
                life[1] = life[1] or ev
            drv_marks.append((key, ev))
        elif ev.kind == "rpc_done":
            cid = ev.get("channel_id")
            key = ("ch", cid) if cid is not None else ("role", ev.get("role", "sdk"))
            drv_rows.setdefault(key, f"channel {cid}" if cid is not None else f"{ev.get('role', 'sdk')} rpcs")
            drv_marks.append((key, ev))
        elif ev.kind == "client_call_done":
            key = ("client", ev.get("client_id"))
            drv_rows.setdefault(key, f"client {ev.get('client_id', '')} calls")
            drv_marks.append((key, ev))
        elif ev.kind.startswith("activity_") or ev.kind.startswith("orchestration_"):
            key = ("work", None)
            drv_rows.setdefault(key, "work done")
            drv_marks.append((key, ev))
        elif ev.kind in ("worker_started", "worker_stopped", "client_created", "client_closed"):
            key = ("life", None)
            drv_rows.setdefault(key, "worker / clients")
            drv_marks.append((key, ev))
        elif ev.kind == "log" and str(ev.get("level", "")).upper() in ("WARNING", "ERROR", "CRITICAL"):
            key = ("log", None)
            drv_rows.setdefault(key, "SDK warnings")
            drv_marks.append((key, ev))
    drv_keys = sorted(drv_rows, key=lambda k: ({"ch": 0, "role": 1, "client": 2, "work": 3, "life": 4,
                                                 "log": 5}[k[0]], str(k[1])))
    drv_index = {k: i for i, k in enumerate(drv_keys)}
    # labels of error markers need label rows too: give each driver row 2 text slots
    marks = [ev for ev in events if ev.source == SCENARIO and ev.kind == "mark"]
    mark_rows, mark_nrows = _place_labels([(X(ev.t) + 4, str(ev.get("label", ""))) for ev in marks])

    # --- layout -------------------------------------------------------------------------------
    lanes: list[tuple[str, str, float, float]] = []  # (key, label, y, height)
    y = AXIS_H + 6
    scen_h = max(1, mark_nrows) * LABEL_ROW_H + 2 * LANE_PAD
    lanes.append(("scenario", "scenario marks", y, scen_h))
    y += scen_h
    net_h = max(1, net_nrows) * LABEL_ROW_H + 2 * LANE_PAD + 4
    lanes.append(("network", "faults / network", y, net_h))
    y += net_h
    conn_y: dict[str, float] = {}
    for c in conn_list:
        h = c.rows * ROW_H + 2 * LANE_PAD
        gens = ",".join(str(g) for g in c.gens) or "?"
        lanes.append(("conn:" + c.peer, f"TCP :{c.port}  (server gen {gens})", y, h))
        conn_y[c.peer] = y
        y += h
    if not conn_list:
        lanes.append(("noconn", "no RPC reached the fake", y, ROW_H + 2 * LANE_PAD))
        y += ROW_H + 2 * LANE_PAD
    DRV_ROW_H = 22
    DRV_HEAD = 16  # the lane's own label sits above its rows
    drv_h = DRV_HEAD + max(1, len(drv_keys)) * DRV_ROW_H + 2 * LANE_PAD + 8  # + room for labels below
    drv_y = y
    lanes.append(("driver", "SDK (driver) view", y, drv_h))
    y += drv_h
    plot_bottom = y
    height = y + AXIS_H + 4
    lane_top = lanes[0][2]

    svg = _Svg()
    svg.add(f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0f}" '
            f'viewBox="0 0 {WIDTH} {height:.0f}" font-family="Helvetica, Arial, sans-serif" font-size="11">')
    # lane backgrounds and labels
    for i, (key, label, ly, lh) in enumerate(lanes):
        fill = "#f7f7f7" if i % 2 == 0 else "#ffffff"
        if key.startswith("conn:"):
            fill = "#eef3f9" if i % 2 == 0 else "#f6f9fc"
        svg.el("rect", x=0, y=f"{ly:.1f}", width=WIDTH, height=f"{lh:.1f}", fill=fill, class_="lane",
               data_lane=key)
        svg.el("line", x1=0, x2=WIDTH, y1=f"{ly + lh:.1f}", y2=f"{ly + lh:.1f}", stroke="#dddddd")
        weight = "bold" if not key.startswith("conn:") else "normal"
        svg.el("text", x=8, y=f"{ly + min(lh / 2, LANE_PAD + 8) + 4:.1f}", text=label, font_weight=weight,
               fill="#222", title=key[5:] if key.startswith("conn:") else None, class_="lane-label")
    for i, k in enumerate(drv_keys):
        ry = drv_y + DRV_HEAD + LANE_PAD + i * DRV_ROW_H + DRV_ROW_H / 2
        svg.el("text", x=20, y=f"{ry + 4:.1f}", text=drv_rows[k], fill="#555")
    svg.el("line", x1=LABEL_W - 4, x2=LABEL_W - 4, y1=lane_top, y2=f"{plot_bottom:.1f}", stroke="#bbbbbb")

    # axis and grid
    step = _nice_step(span)
    first = math.ceil(tmin / step) * step
    k = 0
    while first + k * step <= tmax + 1e-9:
        tv = first + k * step
        x = X(t0 + tv)
        svg.el("line", x1=f"{x:.1f}", x2=f"{x:.1f}", y1=AXIS_H, y2=f"{plot_bottom:.1f}", stroke="#e4e4e4")
        label = f"{tv:.{max(0, -int(math.floor(math.log10(step))))}f}s" if step < 1 else f"{tv:.0f}s"
        for ay in (AXIS_H - 8, plot_bottom + 16):
            svg.el("text", x=f"{x:.1f}", y=f"{ay:.1f}", text=label, text_anchor="middle", fill="#666")
        k += 1
    svg.el("text", x=8, y=AXIS_H - 8, text="seconds since test start", fill="#666", font_style="italic")

    if events:
        xe = X(events[-1].t)
        svg.el("line", x1=f"{xe:.1f}", x2=f"{xe:.1f}", y1=AXIS_H, y2=f"{plot_bottom:.1f}", stroke="#888",
               stroke_dasharray="2 2", class_="history-end", title=f"last event at {events[-1].t - t0:.3f}s")
        svg.el("text", x=f"{xe + 3:.1f}", y=f"{lane_top + 9:.1f}", text="end", fill="#888", font_size="9")
    # fault bands across all lanes
    for b in bands:
        xa = X(b.start.t)
        xb = X(b.end.t) if b.end is not None else X(t_end)
        tip = _describe(b.start, t0) + ("\n\n" + _describe(b.end, t0) if b.end is not None
                                        else "\n\n(no fault_end: still in force when the history ends)")
        svg.el("rect", x=f"{xa:.1f}", y=f"{lane_top:.1f}", width=f"{max(xb - xa, 1.5):.1f}",
               height=f"{plot_bottom - lane_top:.1f}", fill=FAULT_BAND, fill_opacity="0.16",
               stroke=FAULT_BAND, stroke_opacity="0.8", stroke_dasharray="4 3", class_="fault-band",
               data_fault_id=b.start.get("fault_id"), title=tip)
    # scenario marks: faint lines across all lanes
    for ev in marks:
        x = X(ev.t)
        svg.el("line", x1=f"{x:.1f}", x2=f"{x:.1f}", y1=f"{lane_top:.1f}", y2=f"{plot_bottom:.1f}",
               stroke="#555", stroke_opacity="0.35", stroke_dasharray="1 3", class_="mark-line")
    # instantaneous faults: vertical lines across all lanes
    for ev in instants:
        x = X(ev.t)
        colour = INSTANT_COLOURS.get(ev.kind, "#555")
        svg.el("line", x1=f"{x:.1f}", x2=f"{x:.1f}", y1=f"{lane_top:.1f}", y2=f"{plot_bottom:.1f}",
               stroke=colour, stroke_width="1.5", stroke_dasharray="6 3", class_="fault-instant",
               data_kind=ev.kind, title=_describe(ev, t0))

    # scenario lane
    _, _, sy, _ = lanes[0]
    for ev, row in zip(marks, mark_rows, strict=True):
        x = X(ev.t)
        ty = sy + LANE_PAD + row * LABEL_ROW_H + 10
        svg.el("path", d=f"M{x:.1f},{sy + 3:.1f} l4,4 l-4,4 z", fill="#444", title=_describe(ev, t0))
        svg.el("text", x=f"{x + 5:.1f}", y=f"{ty:.1f}", text=str(ev.get("label", "")), fill="#333",
               class_="mark", title=_describe(ev, t0))

    # network lane
    _, _, ny, nh = lanes[1]
    for (x, text, colour, ev), row in zip(net_labels, net_rows, strict=True):
        ty = ny + LANE_PAD + row * LABEL_ROW_H + 10
        if ev.kind == "tcp_rst_seen":
            svg.el("path", d=f"M{x:.1f},{ny + nh - 12:.1f} l5,6 l-5,6 l-5,-6 z", fill=ERROR,
                   stroke="#fff", class_="rst-seen", title=_describe(ev, t0))
        elif ev.kind in ("server_started", "server_stopped"):
            svg.el("line", x1=f"{x:.1f}", x2=f"{x:.1f}", y1=f"{ny + 2:.1f}", y2=f"{ny + nh - 2:.1f}",
                   stroke="#999", title=_describe(ev, t0))
        svg.el("text", x=f"{x + 4:.1f}", y=f"{ty:.1f}", text=text, fill=colour, class_="net-label",
               title=_describe(ev, t0))

    # connection lanes: RPC bars
    for c in conn_list:
        cy = conn_y[c.peer]
        for r in c.rpcs:
            a, b = rpc_span(r)
            xa = X(a)
            xb = max(X(b), xa + min_px)
            top = cy + LANE_PAD + r.row * ROW_H + 2
            bh = ROW_H - 5
            colour = method_colour(r.method)
            code = r.end.get("code") if r.end is not None else None
            tip = (f"{r.method}  call {r.call_id}  on {r.peer}\n"
                   + (f"{(b - a) * 1000:.1f} ms, ended {code} by {r.end.get('ended_by', '?')}"
                      + (f": {r.end.get('details')}" if r.end.get("details") else "")
                      if r.end is not None else "still open when the history ends")
                   + (f"\n{len(r.messages)} messages" if r.messages else "")
                   + ("\n\n" + _describe(r.start, t0) if r.start is not None else "")
                   + ("\n\n" + _describe(r.end, t0) if r.end is not None else ""))
            svg.add(f'<g class="rpc" data-method="{html.escape(r.method)}" data-call-id="{r.call_id}">')
            svg.el("rect", x=f"{xa:.1f}", y=f"{top:.1f}", width=f"{xb - xa:.1f}", height=bh, rx=2,
                   fill=colour, fill_opacity="0.85", title=tip)
            if r.end is None:  # open: an arrow at the end
                svg.el("path", d=f"M{xb:.1f},{top - 1:.1f} l7,{bh / 2 + 1:.1f} l-7,{bh / 2 + 1:.1f} z",
                       fill=colour, title=tip)
            elif code != "OK":
                svg.el("rect", x=f"{xb - 3:.1f}", y=f"{top - 1:.1f}", width=4, height=bh + 2, fill=ERROR,
                       class_="err-cap", title=tip)
                svg.el("text", x=f"{xb + 3:.1f}", y=f"{top + bh - 3:.1f}", text=str(code), fill=ERROR,
                       font_weight="bold", font_size="10", class_="err-code", title=tip)
            else:
                svg.el("rect", x=f"{xb - 1.5:.1f}", y=f"{top:.1f}", width=1.5, height=bh, fill=OK_CAP)
            if (xb - xa) > len(r.method) * CHAR_W * 0.9 + 8:
                svg.el("text", x=f"{xa + 4:.1f}", y=f"{top + bh - 3:.1f}", text=r.method, fill="#fff",
                       font_size="10", title=tip)
            elif len(c.rpcs) <= 60:
                lx = xb + (9 if r.end is None else 3)
                if r.end is not None and code != "OK":
                    lx += len(str(code)) * CHAR_W + 6
                svg.el("text", x=f"{lx:.1f}", y=f"{top + bh - 3:.1f}", text=r.method, fill=colour,
                       font_size="10", class_="rpc-label", title=tip)
            for m in r.messages:
                mx = X(m.t)
                item = str(m.get("item", ""))
                svg.el("rect", x=f"{mx - 1.25:.1f}", y=f"{top - 2:.1f}", width=2.5, height=bh + 4,
                       fill=item_colour(item), stroke="#fff", stroke_width="0.5", class_="msg",
                       title=_describe(m, t0))
            svg.add("</g>")

    # driver lane
    def drow_y(key: Any) -> float:
        return drv_y + DRV_HEAD + LANE_PAD + drv_index[key] * DRV_ROW_H + DRV_ROW_H / 2

    for key, (created, closed) in chan_life.items():
        yy = drow_y(key)
        xa = X(created.t) if created is not None else X(t0 + tmin)
        xb = X(closed.t) if closed is not None else X(t_end)
        svg.el("line", x1=f"{xa:.1f}", x2=f"{xb:.1f}", y1=f"{yy:.1f}", y2=f"{yy:.1f}", stroke="#4e79a7",
               stroke_width="3", stroke_opacity="0.45", stroke_linecap="round")
    err_labels: list[tuple[float, float, str, str]] = []
    for key, ev in drv_marks:
        yy = drow_y(key)
        x = X(ev.t)
        tip = _describe(ev, t0)
        if ev.kind == "channel_created":
            svg.el("path", d=f"M{x:.1f},{yy - 8:.1f} l0,16 M{x:.1f},{yy - 8:.1f} l5,0", stroke="#2a7a2a",
                   stroke_width="2", fill="none", class_="chan-created", title=tip)
            svg.el("rect", x=f"{x - 3:.1f}", y=f"{yy - 9:.1f}", width=6, height=18, fill="transparent",
                   title=tip)
        elif ev.kind == "channel_closed":
            svg.el("path", d=f"M{x:.1f},{yy - 8:.1f} l0,16 M{x:.1f},{yy + 8:.1f} l-5,0", stroke="#555",
                   stroke_width="2", fill="none", class_="chan-closed", title=tip)
            svg.el("rect", x=f"{x - 3:.1f}", y=f"{yy - 9:.1f}", width=6, height=18, fill="transparent",
                   title=tip)
        elif ev.kind in ("rpc_done", "client_call_done"):
            code = ev.get("code") if ev.kind == "rpc_done" else (
                "OK" if ev.get("outcome") == "ok" else (ev.get("grpc_code") or ev.get("exc_type") or "error"))
            if code == "OK":
                svg.el("circle", cx=f"{x:.1f}", cy=f"{yy:.1f}", r=3, fill="#59a14f", stroke="#fff",
                       class_="drv-ok", title=tip)
            else:
                svg.el("path", d=f"M{x - 4:.1f},{yy - 4:.1f} l8,8 M{x - 4:.1f},{yy + 4:.1f} l8,-8",
                       stroke=ERROR, stroke_width="2.5", class_="drv-err", title=tip)
                svg.el("rect", x=f"{x - 5:.1f}", y=f"{yy - 5:.1f}", width=10, height=10, fill="transparent",
                       title=tip)
                what = ev.get("method") or ev.get("op") or ""
                err_labels.append((x, yy, f"{what} {code}".strip(), tip))
        elif ev.kind == "log":
            svg.el("path", d=f"M{x:.1f},{yy - 5:.1f} l5,9 l-10,0 z", fill="#e8a33d", class_="drv-log",
                   title=tip)
        else:
            svg.el("circle", cx=f"{x:.1f}", cy=f"{yy:.1f}", r=3.5, fill=ITEM_COLOURS["activityRequest"]
                   if ev.kind.startswith("activity") else "#888", stroke="#333", stroke_width="0.5",
                   class_="drv-event", title=tip)
    # error labels: same text at (nearly) the same place once with a count; then above the row,
    # else below it, else left out (the marker's tooltip still has it)
    merged: list[list[Any]] = []  # [x, y, text, tip, count]
    for x, yy, text, tip in sorted(err_labels):
        m = merged[-1] if merged else None
        if m is not None and m[1] == yy and m[2] == text and x - m[0] < 12:
            m[3] += "\n\n" + tip
            m[4] += 1
        else:
            merged.append([x, yy, text, tip, 1])
    slot_end: dict[tuple[float, int], float] = {}
    for x, yy, text, tip, count in merged:
        label = text + (f" \u00d7{count}" if count > 1 else "")
        for slot, ty in ((0, yy - 6), (1, yy + 13)):
            if slot_end.get((yy, slot), -1e9) < x + 4:
                svg.el("text", x=f"{x + 6:.1f}", y=f"{ty:.1f}", text=label, fill=ERROR, font_size="10",
                       title=tip, class_="drv-err-label")
                slot_end[(yy, slot)] = x + 6 + len(label) * CHAR_W * 0.9
                break

    # verdict evidence: numbered pins on the axis
    if evidence:
        by_seq = {e.seq: e for e in events}
        for s in sorted(evidence):
            ev = by_seq.get(s)
            if ev is None:
                continue
            x = X(ev.t)
            svg.el("path", d=f"M{x:.1f},{AXIS_H + 5:.1f} l-5,-8 l10,0 z", fill=ERROR, class_="evidence",
                   title="verdict evidence\n" + _describe(ev, t0))
    svg.add("</svg>")
    return "\n".join(svg.parts)


def _legend() -> str:
    sw = []
    for _, colour, text in METHOD_COLOURS:
        sw.append(f'<span class="sw"><i style="background:{colour}"></i>{html.escape(text)}</span>')
    items = []
    for name in ("healthPing", "activityRequest", "orchestratorRequest"):
        items.append(f'<span class="sw"><i class="tick" style="background:{ITEM_COLOURS[name]}"></i>'
                     f'{name} message</span>')
    marks = [
        f'<span class="sw"><i style="background:#4e79a7;border-right:4px solid {ERROR}"></i>'
        f'RPC ended non-OK (code shown)</span>',
        '<span class="sw"><i style="background:#4e79a7;border-right:2px solid #333"></i>RPC ended OK</span>',
        '<span class="sw"><b style="color:#4e79a7">&#9654;</b>&nbsp;still open at the end</span>',
        f'<span class="sw"><i style="background:{FAULT_BAND};opacity:.35;border:1px dashed {FAULT_BAND}"></i>'
        'network fault in force</span>',
        f'<span class="sw"><i class="vline" style="border-color:{ERROR}"></i>tcp_reset</span>',
        f'<span class="sw"><i class="vline" style="border-color:{INSTANT_COLOURS["server_fault"]}"></i>'
        'server_fault</span>',
        f'<span class="sw"><i class="vline" style="border-color:{INSTANT_COLOURS["goaway"]}"></i>GOAWAY</span>',
        f'<span class="sw"><b style="color:{ERROR}">&#9670;</b>&nbsp;RST seen on the wire</span>',
        '<span class="sw"><b style="color:#2a7a2a">&#9121;</b>&nbsp;channel created, '
        '<b style="color:#555">&#9123;</b>&nbsp;closed</span>',
        f'<span class="sw"><b style="color:#59a14f">&#9679;</b>&nbsp;SDK call OK, '
        f'<b style="color:{ERROR}">&#10005;</b>&nbsp;SDK call failed</span>',
        '<span class="sw"><b style="color:#e8a33d">&#9650;</b>&nbsp;SDK warning log</span>',
    ]
    return ('<div class="legend" id="legend"><b>Legend</b> '
            + " ".join(sw) + "<br>" + " ".join(items) + "<br>" + " ".join(marks) + "</div>")


_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:16px;color:#222;background:#fff}
h1{font-size:18px;margin:0 0 4px 0} .sub{color:#666;font-size:12px;margin-bottom:10px}
ul.verdicts{list-style:none;padding:0;margin:6px 0 10px 0;font-size:13px}
ul.verdicts li{margin:2px 0;padding:3px 8px;border-radius:3px;white-space:pre-wrap}
ul.verdicts li.pass{background:#e8f5e9} ul.verdicts li.fail{background:#fdecea}
.badge{display:inline-block;font-weight:bold;padding:0 6px;border-radius:3px;color:#fff;margin-right:6px}
.badge.pass{background:#2e7d32} .badge.fail{background:#c62828}
.legend{font-size:12px;line-height:22px;margin:6px 0 8px 0}
.sw{display:inline-block;margin-right:14px;white-space:nowrap}
.sw i{display:inline-block;width:22px;height:10px;vertical-align:middle;margin-right:4px;border-radius:2px}
.sw i.tick{width:3px;height:14px} .sw i.vline{width:0;height:14px;border-left:2px dashed;border-radius:0}
.picture{overflow-x:auto;border:1px solid #ddd}
#tip{position:fixed;display:none;background:#222;color:#fff;font:11px/1.35 monospace;padding:6px 8px;
 border-radius:4px;white-space:pre;max-width:700px;overflow:hidden;pointer-events:none;z-index:10;opacity:.93}
details{margin-top:10px;font-size:12px} pre{font-size:11px;background:#fafafa;padding:8px;overflow-x:auto}
"""

_JS = """
(function(){var tip=document.getElementById('tip');
document.querySelectorAll('svg title').forEach(function(t){var p=t.parentNode;
 p.setAttribute('data-tip',t.textContent);t.remove();});
document.addEventListener('mousemove',function(e){var n=e.target.closest?e.target.closest('[data-tip]'):null;
 if(!n){tip.style.display='none';return;} tip.textContent=n.getAttribute('data-tip');tip.style.display='block';
 var x=e.clientX+14,y=e.clientY+14; if(x+tip.offsetWidth>innerWidth)x=e.clientX-tip.offsetWidth-10;
 if(y+tip.offsetHeight>innerHeight)y=e.clientY-tip.offsetHeight-10; tip.style.left=x+'px';tip.style.top=y+'px';});
})();
"""


SEP = " \u00b7 "


def render_html(history: History, *, title: str = "", verdicts: Sequence[Any] | None = None) -> str:
    """The whole page as a string (see ``render_timeline``)."""
    name = title or history.name or history.meta.get("test", "") or "history"
    sdk = history.meta.get("sdk") or {}
    sub = []
    if sdk.get("sdk"):
        sub.append(f"SDK {sdk.get('sdk')} {sdk.get('sdk_version', '')}")
    if history.meta.get("tolerance_s") is not None:
        sub.append(f"tolerance {history.meta['tolerance_s']}s")
    sub.append(f"{len(history)} events")
    evs = history.events
    if evs:
        sub.append(f"{evs[-1].t - history.t0:.3f}s long")
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(name)} \u2014 timeline</title>", f"<style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(name)}</h1>", f'<div class="sub">{html.escape(SEP.join(sub))}</div>']
    evidence: list[int] = []
    if verdicts:
        parts.append('<ul class="verdicts">')
        for v in verdicts:
            ok = bool(getattr(v, "ok", False))
            cls = "pass" if ok else "fail"
            parts.append(f'<li class="{cls}"><span class="badge {cls}">{"PASS" if ok else "FAIL"}</span>'
                         f'<b>{html.escape(str(getattr(v, "check", "")))}</b>: '
                         f'{html.escape(str(getattr(v, "summary", "")))}</li>')
            if not ok:
                evidence.extend(int(s) for s in (getattr(v, "evidence", None) or []) if isinstance(s, int))
        parts.append("</ul>")
    parts.append(_legend())
    parts.append('<div class="picture">' + render_svg(history, verdict_evidence=evidence) + "</div>")
    if not evs:
        parts.append('<p class="empty">The history has no events.</p>')
    parts.append(f"<details><summary>All {len(evs)} events</summary><pre>{html.escape(history.format())}"
                 "</pre></details>")
    parts.append('<div id="tip"></div>')
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts)


def render_timeline(history: History, path: Path, *, title: str = "",
                    verdicts: list | None = None) -> Path:
    """Write the timeline of ``history`` as one self-contained HTML file at ``path``; returns it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(history, title=title, verdicts=verdicts), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.timeline",
                                     description="Draw a saved history as an HTML timeline.")
    parser.add_argument("history", type=Path, help="a history JSON file (histories/*.json)")
    parser.add_argument("--html", type=Path, default=None,
                        help="where to write the page (default: next to the history, .html)")
    parser.add_argument("--title", default="")
    args = parser.parse_args(argv)
    try:
        h = History.load(args.history)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: cannot read {args.history}: {exc}", file=sys.stderr)
        return 2
    out = args.html or args.history.with_suffix(".html")
    render_timeline(h, out, title=args.title)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
