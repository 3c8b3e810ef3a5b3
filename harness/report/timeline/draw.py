"""How a timeline looks: SVG elements for a placed Timeline (``render_svg``), and the whole
self-contained HTML page around it (``render_html``: title, verdicts, legend, the picture, the
event list; no JS libraries, no network, a few lines of inline JS only move a hover tooltip).

Colours and shapes live here; what is drawn is ``model.py``'s, where it goes ``layout.py``'s.
Every drawn element has an SVG ``<title>`` with the event's details (hover).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from harness.history import Event, History
from harness.report.timeline.layout import (
    AXIS_H,
    CHAR_W,
    LABEL_ROW_H,
    LABEL_W,
    LANE_PAD,
    ROW_H,
    SIDE_LABELS_MAX,
    WIDTH,
    Layout,
    Scale,
    bar_extent,
    layout,
    place_error_labels,
    ticks,
)
from harness.report.timeline.model import Conn, Rpc, Timeline, build

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


def net_label_colour(ev: Event) -> str:
    """A network-lane label's colour, by what it labels."""
    if ev.kind == "fault_start":
        return "#a35f00"
    if ev.kind == "tcp_rst_seen":
        return ERROR
    if ev.kind in ("server_started", "server_stopped"):
        return "#777"
    return INSTANT_COLOURS.get(ev.kind, "#555")


def describe(ev: Event, t0: float) -> str:
    """An event's tooltip."""
    parts = [f"t={ev.t - t0:.3f}s  {ev.source} {ev.kind}  (seq {ev.seq})"]
    for k, v in ev.data.items():
        if k in ("metadata", "request") and not v:
            continue
        s = v if isinstance(v, str) else json.dumps(v, default=str)
        if len(s) > 300:
            s = s[:297] + "..."
        parts.append(f"{k} = {s}")
    return "\n".join(parts)


class Svg:
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


# -- the picture --------------------------------------------------------------------------------
def render_svg(history: History, *, verdict_evidence: Iterable[int] = ()) -> str:
    """The timeline picture alone, as an ``<svg>`` element string."""
    evidence = set(verdict_evidence)
    tl = build(history)
    lay = layout(tl)
    svg = Svg()
    svg.add(f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{lay.height:.0f}" '
            f'viewBox="0 0 {WIDTH} {lay.height:.0f}" font-family="Helvetica, Arial, sans-serif" font-size="11">')
    _lanes(svg, tl, lay)
    _axis(svg, tl, lay)
    _across_lanes(svg, tl, lay)
    _scenario_lane(svg, tl, lay)
    _network_lane(svg, tl, lay)
    for c in tl.conns:
        _connection_lane(svg, tl, lay, c)
    _driver_lane(svg, tl, lay)
    _evidence(svg, tl, lay.scale, evidence)
    svg.add("</svg>")
    return "\n".join(svg.parts)


def _lanes(svg: Svg, tl: Timeline, lay: Layout) -> None:
    """Lane backgrounds and labels, the SDK lane's row labels, the label column's edge."""
    for i, lane in enumerate(lay.lanes):
        conn = lane.key.startswith("conn:")
        fill = "#f7f7f7" if i % 2 == 0 else "#ffffff"
        if conn:
            fill = "#eef3f9" if i % 2 == 0 else "#f6f9fc"
        svg.el("rect", x=0, y=f"{lane.y:.1f}", width=WIDTH, height=f"{lane.h:.1f}", fill=fill, class_="lane",
               data_lane=lane.key)
        svg.el("line", x1=0, x2=WIDTH, y1=f"{lane.y + lane.h:.1f}", y2=f"{lane.y + lane.h:.1f}", stroke="#dddddd")
        weight = "bold" if not conn else "normal"
        svg.el("text", x=8, y=f"{lane.y + min(lane.h / 2, LANE_PAD + 8) + 4:.1f}", text=lane.label,
               font_weight=weight, fill="#222", title=lane.key[5:] if conn else None, class_="lane-label")
    for i, k in enumerate(lay.driver_keys):
        svg.el("text", x=20, y=f"{lay.driver_row_y(i) + 4:.1f}", text=tl.driver.labels[k], fill="#555")
    svg.el("line", x1=LABEL_W - 4, x2=LABEL_W - 4, y1=lay.lane_top, y2=f"{lay.plot_bottom:.1f}", stroke="#bbbbbb")


def _axis(svg: Svg, tl: Timeline, lay: Layout) -> None:
    """Axis labels above and below, grid lines."""
    for x, label in ticks(lay.scale, tl.window):
        svg.el("line", x1=f"{x:.1f}", x2=f"{x:.1f}", y1=AXIS_H, y2=f"{lay.plot_bottom:.1f}", stroke="#e4e4e4")
        for ay in (AXIS_H - 8, lay.plot_bottom + 16):
            svg.el("text", x=f"{x:.1f}", y=f"{ay:.1f}", text=label, text_anchor="middle", fill="#666")
    svg.el("text", x=8, y=AXIS_H - 8, text="seconds since test start", fill="#666", font_style="italic")


def _across_lanes(svg: Svg, tl: Timeline, lay: Layout) -> None:
    """What crosses every lane: the history's end, fault bands, scenario marks, instant faults."""
    X, t0, top, bottom = lay.scale.x, tl.t0, lay.lane_top, lay.plot_bottom
    if tl.events:
        xe = X(tl.events[-1].t)
        svg.el("line", x1=f"{xe:.1f}", x2=f"{xe:.1f}", y1=AXIS_H, y2=f"{bottom:.1f}", stroke="#888",
               stroke_dasharray="2 2", class_="history-end", title=f"last event at {tl.events[-1].t - t0:.3f}s")
        svg.el("text", x=f"{xe + 3:.1f}", y=f"{top + 9:.1f}", text="end", fill="#888", font_size="9")
    for b in tl.network.bands:
        xa = X(b.start.t)
        xb = X(b.end.t) if b.end is not None else X(tl.t_end)
        tip = describe(b.start, t0) + ("\n\n" + describe(b.end, t0) if b.end is not None
                                       else "\n\n(no fault_end: still in force when the history ends)")
        svg.el("rect", x=f"{xa:.1f}", y=f"{top:.1f}", width=f"{max(xb - xa, 1.5):.1f}",
               height=f"{bottom - top:.1f}", fill=FAULT_BAND, fill_opacity="0.16",
               stroke=FAULT_BAND, stroke_opacity="0.8", stroke_dasharray="4 3", class_="fault-band",
               data_fault_id=b.start.get("fault_id"), title=tip)
    for ev in tl.marks:  # faint lines
        x = X(ev.t)
        svg.el("line", x1=f"{x:.1f}", x2=f"{x:.1f}", y1=f"{top:.1f}", y2=f"{bottom:.1f}",
               stroke="#555", stroke_opacity="0.35", stroke_dasharray="1 3", class_="mark-line")
    for ev in tl.network.instants:
        x = X(ev.t)
        colour = INSTANT_COLOURS.get(ev.kind, "#555")
        svg.el("line", x1=f"{x:.1f}", x2=f"{x:.1f}", y1=f"{top:.1f}", y2=f"{bottom:.1f}",
               stroke=colour, stroke_width="1.5", stroke_dasharray="6 3", class_="fault-instant",
               data_kind=ev.kind, title=describe(ev, t0))


def _scenario_lane(svg: Svg, tl: Timeline, lay: Layout) -> None:
    sy = lay.lanes[0].y
    for ev, row in zip(tl.marks, lay.mark_rows, strict=True):
        x = lay.scale.x(ev.t)
        ty = sy + LANE_PAD + row * LABEL_ROW_H + 10
        svg.el("path", d=f"M{x:.1f},{sy + 3:.1f} l4,4 l-4,4 z", fill="#444", title=describe(ev, tl.t0))
        svg.el("text", x=f"{x + 5:.1f}", y=f"{ty:.1f}", text=str(ev.get("label", "")), fill="#333",
               class_="mark", title=describe(ev, tl.t0))


def _network_lane(svg: Svg, tl: Timeline, lay: Layout) -> None:
    ny, nh = lay.lanes[1].y, lay.lanes[1].h
    for (x, text, ev), row in zip(lay.net_labels, lay.net_rows, strict=True):
        ty = ny + LANE_PAD + row * LABEL_ROW_H + 10
        if ev.kind == "tcp_rst_seen":
            svg.el("path", d=f"M{x:.1f},{ny + nh - 12:.1f} l5,6 l-5,6 l-5,-6 z", fill=ERROR,
                   stroke="#fff", class_="rst-seen", title=describe(ev, tl.t0))
        elif ev.kind in ("server_started", "server_stopped"):
            svg.el("line", x1=f"{x:.1f}", x2=f"{x:.1f}", y1=f"{ny + 2:.1f}", y2=f"{ny + nh - 2:.1f}",
                   stroke="#999", title=describe(ev, tl.t0))
        svg.el("text", x=f"{x + 4:.1f}", y=f"{ty:.1f}", text=text, fill=net_label_colour(ev), class_="net-label",
               title=describe(ev, tl.t0))


def _connection_lane(svg: Svg, tl: Timeline, lay: Layout, c: Conn) -> None:
    """A connection's RPC bars, one group per call."""
    place = lay.conns[c.peer]
    side_labels = len(c.rpcs) <= SIDE_LABELS_MAX
    for r, row in zip(c.rpcs, place.rows, strict=True):
        _rpc(svg, tl, lay.scale, r, place.y + LANE_PAD + row * ROW_H + 2, side_labels)


def _rpc_tip(r: Rpc, a: float, b: float, code: Any, t0: float) -> str:
    return (f"{r.method}  call {r.call_id}  on {r.peer}\n"
            + (f"{(b - a) * 1000:.1f} ms, ended {code} by {r.end.get('ended_by', '?')}"
               + (f": {r.end.get('details')}" if r.end.get("details") else "")
               if r.end is not None else "still open when the history ends")
            + (f"\n{len(r.messages)} messages" if r.messages else "")
            + ("\n\n" + describe(r.start, t0) if r.start is not None else "")
            + ("\n\n" + describe(r.end, t0) if r.end is not None else ""))


def _rpc(svg: Svg, tl: Timeline, scale: Scale, r: Rpc, top: float, side_labels: bool) -> None:
    """One call: its bar (an arrow if still open, a red cap and the code if it ended non-OK), its
    name inside or beside the bar, its stream messages as ticks."""
    a, b = tl.rpc_span(r)
    xa, xb = bar_extent(scale, a, b)
    bh = ROW_H - 5
    colour = method_colour(r.method)
    code = r.end.get("code") if r.end is not None else None
    tip = _rpc_tip(r, a, b, code, tl.t0)
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
    elif side_labels:
        lx = xb + (9 if r.end is None else 3)
        if r.end is not None and code != "OK":
            lx += len(str(code)) * CHAR_W + 6
        svg.el("text", x=f"{lx:.1f}", y=f"{top + bh - 3:.1f}", text=r.method, fill=colour,
               font_size="10", class_="rpc-label", title=tip)
    for m in r.messages:
        mx = scale.x(m.t)
        item = str(m.get("item", ""))
        svg.el("rect", x=f"{mx - 1.25:.1f}", y=f"{top - 2:.1f}", width=2.5, height=bh + 4,
               fill=item_colour(item), stroke="#fff", stroke_width="0.5", class_="msg",
               title=describe(m, tl.t0))
    svg.add("</g>")


def _driver_lane(svg: Svg, tl: Timeline, lay: Layout) -> None:
    """Each channel's life as a line, the SDK's marks, then the labels of its errors."""
    X = lay.scale.x
    index = {k: i for i, k in enumerate(lay.driver_keys)}
    for key, (created, closed) in tl.driver.channel_life.items():
        yy = lay.driver_row_y(index[key])
        xa = X(created.t) if created is not None else X(tl.t0 + tl.window.tmin)
        xb = X(closed.t) if closed is not None else X(tl.t_end)
        svg.el("line", x1=f"{xa:.1f}", x2=f"{xb:.1f}", y1=f"{yy:.1f}", y2=f"{yy:.1f}", stroke="#4e79a7",
               stroke_width="3", stroke_opacity="0.45", stroke_linecap="round")
    err_labels: list[tuple[float, float, str, str]] = []
    for key, ev in tl.driver.marks:
        label = _driver_mark(svg, ev, X(ev.t), lay.driver_row_y(index[key]), describe(ev, tl.t0))
        if label is not None:
            err_labels.append(label)
    for x, y, text, tip in place_error_labels(err_labels):
        svg.el("text", x=f"{x:.1f}", y=f"{y:.1f}", text=text, fill=ERROR, font_size="10",
               title=tip, class_="drv-err-label")


def _driver_mark(svg: Svg, ev: Event, x: float, yy: float, tip: str) -> tuple[float, float, str, str] | None:
    """One SDK event's marker; for a failed call, its error label (x, y, text, tooltip) to place."""
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
            return None
        svg.el("path", d=f"M{x - 4:.1f},{yy - 4:.1f} l8,8 M{x - 4:.1f},{yy + 4:.1f} l8,-8",
               stroke=ERROR, stroke_width="2.5", class_="drv-err", title=tip)
        svg.el("rect", x=f"{x - 5:.1f}", y=f"{yy - 5:.1f}", width=10, height=10, fill="transparent",
               title=tip)
        what = ev.get("method") or ev.get("op") or ""
        return x, yy, f"{what} {code}".strip(), tip
    elif ev.kind == "log":
        svg.el("path", d=f"M{x:.1f},{yy - 5:.1f} l5,9 l-10,0 z", fill="#e8a33d", class_="drv-log",
               title=tip)
    else:
        svg.el("circle", cx=f"{x:.1f}", cy=f"{yy:.1f}", r=3.5, fill=ITEM_COLOURS["activityRequest"]
               if ev.kind.startswith("activity") else "#888", stroke="#333", stroke_width="0.5",
               class_="drv-event", title=tip)
    return None


def _evidence(svg: Svg, tl: Timeline, scale: Scale, evidence: set[int]) -> None:
    """Verdict evidence: numbered pins on the axis."""
    if evidence:
        by_seq = {e.seq: e for e in tl.events}
        for s in sorted(evidence):
            ev = by_seq.get(s)
            if ev is None:
                continue
            x = scale.x(ev.t)
            svg.el("path", d=f"M{x:.1f},{AXIS_H + 5:.1f} l-5,-8 l10,0 z", fill=ERROR, class_="evidence",
                   title="verdict evidence\n" + describe(ev, tl.t0))


# -- the page -----------------------------------------------------------------------------------
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
