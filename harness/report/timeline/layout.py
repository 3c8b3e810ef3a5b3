"""Where a Timeline's parts go in the picture: the time scale and axis ticks, the lanes (scenario,
network, one per connection, the SDK), the rows RPC bars are packed into, and rows for text labels
so that none overlap. Pixels only; what is drawn is ``model.py``'s, how it looks ``draw.py``'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from harness.history import Event
from harness.report.timeline.model import Conn, Timeline, Window

# -- geometry -------------------------------------------------------------------------------
WIDTH = 1560
LABEL_W = 200  # the lane-label column
RIGHT_PAD = 150  # room for labels right of the last event
AXIS_H = 26
ROW_H = 18  # one bar row in a connection lane
LABEL_ROW_H = 14  # one row of text labels (faults, marks)
LANE_PAD = 7
CHAR_W = 6.1  # estimated width of one character at font-size 11
MIN_BAR_PX = 3.0  # every bar is at least this wide; pack in pixels so labels/caps don't collide
SIDE_LABELS_MAX = 60  # name short calls beside their bar unless a connection has more calls
DRV_ROW_H = 22  # one row of the SDK lane
DRV_HEAD = 16  # the SDK lane's own label sits above its rows


def pack(intervals: list[tuple[float, float]], gap: float = 0.0) -> tuple[list[int], int]:
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


def place_labels(items: list[tuple[float, str]]) -> tuple[list[int], int]:
    """Rows for text labels starting at pixel x so that none overlap."""
    return pack([(x, x + len(s) * CHAR_W + 6) for x, s in items])


def nice_step(span: float, target: int = 14) -> float:
    raw = span / max(1, target)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


@dataclass
class Scale:
    """Monotonic seconds -> pixel x, for a window that starts ``tmin`` seconds after ``t0``."""

    t0: float
    tmin: float
    span: float
    x0: float = LABEL_W
    x1: float = WIDTH - RIGHT_PAD

    def x(self, t: float) -> float:
        return self.x0 + (t - self.t0 - self.tmin) / self.span * (self.x1 - self.x0)


@dataclass
class Lane:
    key: str  # "scenario", "network", "conn:<peer>", "noconn", "driver"
    label: str
    y: float
    h: float


@dataclass
class ConnPlace:
    """A connection lane: its top and the bar row of each of its calls (in ``Conn.rpcs`` order)."""

    y: float
    rows: list[int]
    nrows: int


@dataclass
class Layout:
    scale: Scale
    lanes: list[Lane]  # scenario, network, connections, driver: top to bottom
    conns: dict[str, ConnPlace]  # by peer
    net_labels: list[tuple[float, str, Event]]  # (x, text, event), left to right
    net_rows: list[int]
    mark_rows: list[int]  # of Timeline.marks
    driver_keys: list[Any]
    driver_y: float
    plot_bottom: float
    height: float

    @property
    def lane_top(self) -> float:
        return self.lanes[0].y

    def driver_row_y(self, index: int) -> float:
        """The middle of the SDK lane's row ``index``."""
        return self.driver_y + DRV_HEAD + LANE_PAD + index * DRV_ROW_H + DRV_ROW_H / 2


def bar_extent(scale: Scale, a: float, b: float) -> tuple[float, float]:
    """Pixel x of a bar from ``a`` to ``b`` (at least MIN_BAR_PX wide)."""
    xa = scale.x(a)
    return xa, max(scale.x(b), xa + MIN_BAR_PX)


def pack_rpcs(tl: Timeline, c: Conn, scale: Scale) -> tuple[list[int], int]:
    """Bar rows of a connection's calls, leaving room for side labels and non-OK codes."""
    iv = []
    side_labels = len(c.rpcs) <= SIDE_LABELS_MAX
    for r in c.rpcs:
        a, b = tl.rpc_span(r)
        xa, xb = bar_extent(scale, a, b)
        if side_labels and xb - xa <= len(r.method) * CHAR_W * 0.9 + 8:
            xb += len(r.method) * CHAR_W * 0.9 + 6
        if r.end is not None and r.end.get("code") not in (None, "OK"):
            xb += len(str(r.end.get("code"))) * CHAR_W + 8  # room for the code label
        iv.append((xa, xb))
    return pack(iv, gap=2)


def layout(tl: Timeline) -> Layout:
    """Place every part of ``tl``."""
    scale = Scale(tl.t0, tl.window.tmin, tl.window.span)
    net_labels = sorted(((scale.x(ev.t), text, ev) for ev, text in tl.network.labels()), key=lambda x: x[0])
    net_rows, net_nrows = place_labels([(x + 6, s) for x, s, _ in net_labels])
    mark_rows, mark_nrows = place_labels([(scale.x(ev.t) + 4, str(ev.get("label", ""))) for ev in tl.marks])
    lanes: list[Lane] = []
    y = AXIS_H + 6
    scen_h = max(1, mark_nrows) * LABEL_ROW_H + 2 * LANE_PAD
    lanes.append(Lane("scenario", "scenario marks", y, scen_h))
    y += scen_h
    net_h = max(1, net_nrows) * LABEL_ROW_H + 2 * LANE_PAD + 4
    lanes.append(Lane("network", "faults / network", y, net_h))
    y += net_h
    conns: dict[str, ConnPlace] = {}
    for c in tl.conns:
        rows, nrows = pack_rpcs(tl, c, scale)
        h = nrows * ROW_H + 2 * LANE_PAD
        gens = ",".join(str(g) for g in c.gens) or "?"
        lanes.append(Lane("conn:" + c.peer, f"TCP :{c.port}  (server gen {gens})", y, h))
        conns[c.peer] = ConnPlace(y, rows, nrows)
        y += h
    if not tl.conns:
        lanes.append(Lane("noconn", "no RPC reached the fake", y, ROW_H + 2 * LANE_PAD))
        y += ROW_H + 2 * LANE_PAD
    driver_keys = tl.driver.keys
    drv_h = DRV_HEAD + max(1, len(driver_keys)) * DRV_ROW_H + 2 * LANE_PAD + 8  # + room for labels below
    driver_y = y
    lanes.append(Lane("driver", "SDK (driver) view", y, drv_h))
    y += drv_h
    return Layout(scale, lanes, conns, net_labels, net_rows, mark_rows, driver_keys, driver_y,
                  plot_bottom=y, height=y + AXIS_H + 4)


def ticks(scale: Scale, window: Window) -> list[tuple[float, str]]:
    """(x, label) of each axis tick: a round step in seconds since the test start."""
    step = nice_step(window.span)
    first = math.ceil(window.tmin / step) * step
    out = []
    k = 0
    while first + k * step <= window.tmax + 1e-9:
        tv = first + k * step
        label = f"{tv:.{max(0, -int(math.floor(math.log10(step))))}f}s" if step < 1 else f"{tv:.0f}s"
        out.append((scale.x(scale.t0 + tv), label))
        k += 1
    return out


def place_error_labels(labels: list[tuple[float, float, str, str]]) -> list[tuple[float, float, str, str]]:
    """(x, y, text, tooltip) of the SDK lane's error labels, from (marker x, row y, text, tooltip):
    the same text at (nearly) the same place once with a count; then above the row, else below
    it, else left out (the marker's tooltip still has it)."""
    merged: list[list[Any]] = []  # [x, y, text, tip, count]
    for x, yy, text, tip in sorted(labels):
        m = merged[-1] if merged else None
        if m is not None and m[1] == yy and m[2] == text and x - m[0] < 12:
            m[3] += "\n\n" + tip
            m[4] += 1
        else:
            merged.append([x, yy, text, tip, 1])
    out = []
    slot_end: dict[tuple[float, int], float] = {}
    for x, yy, text, tip, count in merged:
        label = text + (f" \u00d7{count}" if count > 1 else "")
        for slot, ty in ((0, yy - 6), (1, yy + 13)):
            if slot_end.get((yy, slot), -1e9) < x + 4:
                out.append((x + 6, ty, label, tip))
                slot_end[(yy, slot)] = x + 6 + len(label) * CHAR_W * 0.9
                break
    return out
