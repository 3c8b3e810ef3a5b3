"""What a timeline picture shows, read from a History: no pixels here.

- the time window drawn (seconds since ``history.t0``, spanning the events plus a margin);
- one connection per distinct ``peer`` the fake saw, with its server generations and its RPCs
  (``rpc_start``/``rpc_end`` paired by ``call_id``, the ``message_sent`` of each call);
- network fault bands (``fault_start``/``fault_end`` paired by ``fault_id``), instantaneous faults
  (``tcp_reset``, the fake's ``server_fault`` and ``goaway``), ``tcp_rst_seen``, the fake's
  ``server_started``/``server_stopped``, and the text of each network label;
- the SDK (driver) rows: one per channel, per client, for work, for lifecycle, for warnings, with
  their marks and each channel's life;
- the scenario's marks.

``layout.py`` places all of this, ``draw.py`` turns it into SVG/HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.history import DRIVER, FAKE, NETWORK, SCENARIO, Event, History

INSTANT_KINDS = ("tcp_reset", "server_fault", "goaway")
# the order of the SDK lane's row kinds
DRIVER_ROW_ORDER = {"ch": 0, "role": 1, "client": 2, "work": 3, "life": 4, "log": 5}


@dataclass
class Window:
    """The drawn time range, in seconds since the history's ``t0``."""

    tmin: float
    tmax: float

    @property
    def span(self) -> float:
        return self.tmax - self.tmin


@dataclass
class Rpc:
    call_id: Any
    method: str
    peer: str
    start: Event | None
    end: Event | None = None
    messages: list[Event] = field(default_factory=list)


@dataclass
class Conn:
    peer: str
    gens: list[Any] = field(default_factory=list)
    rpcs: list[Rpc] = field(default_factory=list)

    @property
    def port(self) -> str:
        return self.peer.rsplit(":", 1)[-1] if ":" in self.peer else self.peer


@dataclass
class Band:
    start: Event
    end: Event | None


@dataclass
class Network:
    bands: list[Band] = field(default_factory=list)
    instants: list[Event] = field(default_factory=list)
    rst_seen: list[Event] = field(default_factory=list)
    server_events: list[Event] = field(default_factory=list)

    def labels(self) -> list[tuple[Event, str]]:
        """(event, text) of every network-lane label, in drawing order before placement."""
        out = [(b.start, f"{b.start.get('fault', b.start.get('type', 'fault'))} ({b.start.get('stream', '')})")
               for b in self.bands]
        for ev in self.instants:
            if ev.kind == "server_fault":
                text = f"server_fault {ev.get('fault', '')} #{ev.get('call_id', '')}"
            elif ev.kind == "goaway":
                text = f"GOAWAY gen {ev.get('server_gen', '')}\u2192{ev.get('new_gen', '')}"
            else:
                text = f"tcp_reset :{ev.get('client_port', '')}"
            out.append((ev, text))
        out += [(ev, f"RST seen \u2192:{ev.get('dst_port', '')}") for ev in self.rst_seen]
        for ev in self.server_events:
            word = "up" if ev.kind == "server_started" else "down"
            out.append((ev, f"gen {ev.get('server_gen', '')} {word}"))
        return out


@dataclass
class DriverRows:
    """The SDK lane: row key -> label, each channel's (created, closed), and (row key, event) marks."""

    labels: dict[Any, str] = field(default_factory=dict)
    channel_life: dict[Any, list[Event | None]] = field(default_factory=dict)
    marks: list[tuple[Any, Event]] = field(default_factory=list)

    @property
    def keys(self) -> list[Any]:
        """Row keys in drawing order: channels, roles, clients, work, lifecycle, warnings."""
        return sorted(self.labels, key=lambda k: (DRIVER_ROW_ORDER[k[0]], str(k[1])))


@dataclass
class Timeline:
    events: list[Event]
    t0: float
    window: Window
    conns: list[Conn]  # ordered by their first call
    network: Network
    driver: DriverRows
    marks: list[Event]  # the scenario's

    @property
    def t_end(self) -> float:
        """Where open calls and bands end (monotonic seconds)."""
        return self.t0 + self.window.tmax

    def rpc_span(self, r: Rpc) -> tuple[float, float]:
        """A call's (start, end) in monotonic seconds; an open call runs to ``t_end``."""
        return _first_t(r, self.t0), (r.end.t if r.end is not None else self.t_end)


def build(history: History) -> Timeline:
    """Everything the picture of ``history`` shows."""
    events = history.events
    t0 = history.t0
    window = window_of(events, t0)
    conns = connections(events)
    return Timeline(events, t0, window,
                    sorted(conns, key=lambda c: min(_first_t(r, t0) for r in c.rpcs)),
                    network(events, t0 + window.tmin), driver_rows(events),
                    [ev for ev in events if ev.source == SCENARIO and ev.kind == "mark"])


def window_of(events: list[Event], t0: float) -> Window:
    # The axis is labelled in seconds since the test start but spans the events only: the first
    # few hundred ms of a test are the SDK process starting, and nothing happens in them.
    rels = [e.t - t0 for e in events]
    tmin = min(rels) if rels else 0.0
    tmax = max(rels) if rels else 1.0
    if tmax - tmin < 0.05:
        tmax = tmin + 0.05
    span = tmax - tmin
    tmin = max(min(0.0, tmin), tmin - span * 0.02) if tmin >= 0 else tmin - span * 0.02
    tmax += span * 0.03  # room after the last event, so a still-open call visibly runs on
    return Window(tmin, tmax)


def _first_t(r: Rpc, t0: float) -> float:
    return r.start.t if r.start is not None else (r.end.t if r.end is not None else t0)


def connections(events: list[Event]) -> list[Conn]:
    """One Conn per peer the fake saw, in order of appearance, with its calls and their messages."""
    conns: dict[str, Conn] = {}
    rpcs: dict[Any, Rpc] = {}

    def new_rpc(ev: Event, start: Event | None) -> Rpc:
        peer = str(ev.get("peer") or "unknown peer")
        r = Rpc(ev.get("call_id"), str(ev.get("method") or "?"), peer, start)
        rpcs[r.call_id] = r
        conns.setdefault(peer, Conn(peer)).rpcs.append(r)
        return r

    for ev in events:
        if ev.source != FAKE:
            continue
        if ev.kind == "rpc_start":
            r = new_rpc(ev, ev)
        elif ev.kind == "rpc_end":
            r = rpcs.get(ev.get("call_id"))
            if r is None:  # an end without a start: draw it as a zero-length call
                r = new_rpc(ev, None)
            if r.end is None:
                r.end = ev
        elif ev.kind == "message_sent":
            r = rpcs.get(ev.get("call_id"))
            if r is not None:
                r.messages.append(ev)
            continue
        else:
            continue
        gen = ev.get("server_gen")
        c = conns[r.peer]
        if gen is not None and gen not in c.gens:
            c.gens.append(gen)
    return list(conns.values())


def network(events: list[Event], window_start: float) -> Network:
    """Fault bands (an end without its start: a band from ``window_start``), instants and markers."""
    net = Network()
    open_bands: dict[Any, Band] = {}
    for ev in events:
        if ev.source == NETWORK and ev.kind == "fault_start":
            b = Band(ev, None)
            net.bands.append(b)
            open_bands[ev.get("fault_id", ("anon", ev.seq))] = b
        elif ev.source == NETWORK and ev.kind == "fault_end":
            b = open_bands.pop(ev.get("fault_id", None), None)
            if b is not None:
                b.end = ev
            else:
                net.bands.append(Band(Event(-1, window_start, NETWORK, "fault_start", dict(ev.data)), ev))
        elif (ev.source == NETWORK and ev.kind == "tcp_reset") or \
                (ev.source == FAKE and ev.kind in ("server_fault", "goaway")):
            net.instants.append(ev)
        elif ev.source == NETWORK and ev.kind == "tcp_rst_seen":
            net.rst_seen.append(ev)
        elif ev.source == FAKE and ev.kind in ("server_started", "server_stopped"):
            net.server_events.append(ev)
    return net


def _driver_row(ev: Event) -> tuple[Any, str] | None:
    """(row key, default label) of a driver event that gets a mark (channel events aside)."""
    if ev.kind == "rpc_done":
        cid = ev.get("channel_id")
        if cid is not None:
            return ("ch", cid), f"channel {cid}"
        return ("role", ev.get("role", "sdk")), f"{ev.get('role', 'sdk')} rpcs"
    if ev.kind == "client_call_done":
        return ("client", ev.get("client_id")), f"client {ev.get('client_id', '')} calls"
    if ev.kind.startswith("activity_") or ev.kind.startswith("orchestration_"):
        return ("work", None), "work done"
    if ev.kind in ("worker_started", "worker_stopped", "client_created", "client_closed"):
        return ("life", None), "worker / clients"
    if ev.kind == "log" and str(ev.get("level", "")).upper() in ("WARNING", "ERROR", "CRITICAL"):
        return ("log", None), "SDK warnings"
    return None


def driver_rows(events: list[Event]) -> DriverRows:
    """The SDK lane's rows: channels (created/closed, labelled with their owner), clients, work,
    worker/client lifecycle and warning logs."""
    rows = DriverRows()
    for ev in events:
        if ev.source != DRIVER:
            continue
        if ev.kind in ("channel_created", "channel_closed"):
            cid = ev.get("channel_id")
            key = ("ch", cid)
            if key not in rows.labels:
                rows.labels[key] = f"channel {cid}"
            life = rows.channel_life.setdefault(key, [None, None])
            if ev.kind == "channel_created":
                life[0] = life[0] or ev
                owner = ev.get("owner")
                rows.labels[key] = f"channel {cid}" + (f" ({owner})" if owner else "")
            else:
                life[1] = life[1] or ev
            rows.marks.append((key, ev))
            continue
        row = _driver_row(ev)
        if row is not None:
            rows.labels.setdefault(*row)
            rows.marks.append((row[0], ev))
    return rows
