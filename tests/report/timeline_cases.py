"""Fixed synthetic histories for the timeline's golden test (tests/report/test_timeline.py).

Every case has a fixed ``t0`` and explicit event times, so the picture is the same on every run; the
SHA-256 of each rendering is pinned in ``timeline_golden.json``. Between them the cases reach every
branch of the drawing: the example history of test_timeline.py, one with every kind of lane, row,
label and marker (unmatched fault ends, calls without a start, merged error labels, a connection with
more than 60 calls, a negative time), the empty history, hundreds of events, a span under 50 ms, a
span of seconds and escaped text.

After a DELIBERATE change to the picture, regenerate the pins and say why in the change:
``.venv/bin/python -m tests.report.timeline_cases --write`` (``--dump DIR`` writes the renderings
themselves, to diff old and new).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from harness.history import DRIVER, FAKE, NETWORK, SCENARIO, History

GOLDEN = Path(__file__).with_name("timeline_golden.json")
T0 = 1000.0
PEER_A = "ipv4:127.0.0.1:50542"
PEER_B = "ipv4:127.0.0.1:50544"


def _h(name: str) -> History:
    h = History(name)
    h.t0 = T0
    return h


def example() -> History:
    """test_timeline.py's history, with fixed times."""
    h = _h("tests/test_x.py::test_example")
    t0 = h.t0
    h.meta["sdk"] = {"sdk": "python", "sdk_version": "1.12.0"}
    h.record(FAKE, "server_started", t=t0 + 0.01, port=4000, server_gen=1)
    h.record(DRIVER, "channel_created", t=t0 + 0.02, channel_id=1, owner="sdk")
    h.record(FAKE, "rpc_start", t=t0 + 0.03, call_id=1, method="Hello", peer=PEER_A, server_gen=1)
    h.record(FAKE, "rpc_end", t=t0 + 0.04, call_id=1, method="Hello", peer=PEER_A, code="OK", ended_by="server",
             server_gen=1)
    h.record(FAKE, "rpc_start", t=t0 + 0.05, call_id=2, method="GetWorkItems", peer=PEER_A, server_gen=1)
    h.record(FAKE, "message_sent", t=t0 + 0.5, call_id=2, peer=PEER_A, item="healthPing")
    h.record(SCENARIO, "mark", t=t0 + 0.55, label="fault applied")
    h.record(NETWORK, "fault_start", t=t0 + 0.6, fault="blackhole", fault_id=7, type="timeout", stream="both")
    h.record(NETWORK, "tcp_rst_seen", t=t0 + 0.8, src_port=44209, dst_port=45714)
    h.record(NETWORK, "tcp_reset", t=t0 + 0.81, fault="tcp_reset", client_port=45714)
    h.record(DRIVER, "rpc_done", t=t0 + 0.82, method="GetWorkItems", channel_id=1, code="UNAVAILABLE",
             details="Stream removed")
    h.record(FAKE, "rpc_end", t=t0 + 0.83, call_id=2, method="GetWorkItems", peer=PEER_A, code="CANCELLED",
             ended_by="client", server_gen=1)
    h.record(NETWORK, "fault_end", t=t0 + 1.0, fault="blackhole", fault_id=7, type="timeout", stream="both")
    h.record(FAKE, "goaway", t=t0 + 1.1, server_gen=1, new_gen=2)
    h.record(DRIVER, "channel_closed", t=t0 + 1.15, channel_id=1)
    h.record(FAKE, "rpc_start", t=t0 + 1.2, call_id=3, method="GetWorkItems", peer=PEER_B, server_gen=2)
    h.record(FAKE, "message_sent", t=t0 + 1.3, call_id=3, peer=PEER_B, item="activityRequest")
    h.record(FAKE, "server_fault", t=t0 + 1.35, fault="Abort", call_id=3, method="GetWorkItems")
    h.record(SCENARIO, "mark", t=t0 + 1.5, label="done")
    return h


def _rich_fake(h: History) -> None:
    t0 = h.t0
    h.record(FAKE, "server_started", t=t0 - 0.2, port=4000, server_gen=1)  # before the test start
    h.record(FAKE, "rpc_start", t=t0 + 0.1, call_id=1, method="Hello", peer=PEER_A, server_gen=1,
             metadata={}, request={})
    h.record(FAKE, "rpc_end", t=t0 + 0.11, call_id=1, method="Hello", peer=PEER_A, code="OK", ended_by="server",
             server_gen=1, details="")
    h.record(FAKE, "rpc_end", t=t0 + 0.12, call_id=1, method="Hello", peer=PEER_A, code="INTERNAL")  # a 2nd end
    h.record(FAKE, "rpc_end", t=t0 + 0.3, call_id=99, method="CompleteOrchestratorTask", peer=PEER_B,
             code="UNAVAILABLE", ended_by="server", details="x" * 400, server_gen=2)  # no start
    h.record(FAKE, "message_sent", t=t0 + 0.31, call_id=12345, item="orchestratorRequest")  # no call
    h.record(FAKE, "rpc_start", t=t0 + 0.4, call_id=2, method="GetWorkItems", server_gen=3)  # no peer
    for item, dt in (("healthPing", 0.1), ("activityRequest", 0.2), ("orchestratorRequest", 0.3),
                     ("entityRequest", 0.4), ("somethingNew", 0.5)):
        h.record(FAKE, "message_sent", t=t0 + 0.4 + dt, call_id=2, item=item)
    h.record(FAKE, "rpc_end", t=t0 + 1.2, call_id=2, method="GetWorkItems", code="DEADLINE_EXCEEDED",
             ended_by="deadline", details="deadline")
    for i in range(70):  # more than 60 calls on one connection: no side labels
        t = t0 + 1.3 + i * 0.004
        h.record(FAKE, "rpc_start", t=t, call_id=100 + i, method=("WaitForInstanceCompletion", "AbandonTaskActivity",
                 "StartInstance", "GetInstance")[i % 4], peer="unix:/tmp/sock", server_gen=1)
        if i % 3:
            h.record(FAKE, "rpc_end", t=t + 0.002, call_id=100 + i, method="x", peer="unix:/tmp/sock",
                     code="OK" if i % 5 else "RESOURCE_EXHAUSTED", server_gen=1)
    h.record(FAKE, "goaway", t=t0 + 1.7, server_gen=1)
    h.record(FAKE, "server_fault", t=t0 + 1.72, fault="Reset")
    h.record(FAKE, "server_stopped", t=t0 + 1.8, server_gen=1)


def _rich_network(h: History) -> None:
    t0 = h.t0
    h.record(NETWORK, "fault_end", t=t0 + 0.2, fault="latency", fault_id=3, type="latency")  # no start
    h.record(NETWORK, "fault_start", t=t0 + 0.25, fault="slicer", fault_id=4, stream="upstream")
    h.record(NETWORK, "fault_start", t=t0 + 0.26, type="bandwidth")  # no fault_id
    h.record(NETWORK, "fault_end", t=t0 + 0.5, fault_id=4)
    h.record(NETWORK, "fault_start", t=t0 + 1.5, fault="blackhole", fault_id=5, stream="both")  # never ends
    h.record(NETWORK, "tcp_reset", t=t0 + 0.6)
    h.record(NETWORK, "tcp_rst_seen", t=t0 + 0.61)
    h.record(NETWORK, "packet", t=t0 + 0.62, what="ignored")


def _rich_driver(h: History) -> None:
    t0 = h.t0
    h.record(DRIVER, "channel_created", t=t0 + 0.05, channel_id=1)
    h.record(DRIVER, "channel_created", t=t0 + 0.06, channel_id=1, owner="caller")  # a 2nd create
    h.record(DRIVER, "channel_closed", t=t0 + 0.9, channel_id=2)  # closed, never created
    h.record(DRIVER, "channel_closed", t=t0 + 0.95, channel_id=2)
    h.record(DRIVER, "rpc_done", t=t0 + 0.2, method="Hello", channel_id=1, code="OK")
    for i in range(4):  # the same error at nearly the same place: one label with a count
        h.record(DRIVER, "rpc_done", t=t0 + 0.7 + i * 0.001, method="GetWorkItems", channel_id=1,
                 code="UNAVAILABLE")
    h.record(DRIVER, "rpc_done", t=t0 + 0.705, method="Hello", channel_id=1, code="UNAVAILABLE")  # below
    h.record(DRIVER, "rpc_done", t=t0 + 0.706, method="Hello", channel_id=1, code="UNKNOWN")  # no room
    h.record(DRIVER, "rpc_done", t=t0 + 0.4, method="GetInstance", role="client", code="NOT_FOUND")
    h.record(DRIVER, "rpc_done", t=t0 + 0.41, op="x", code="CANCELLED")  # no channel, no role
    h.record(DRIVER, "client_call_done", t=t0 + 0.5, client_id="c1", op="get_state", outcome="ok")
    h.record(DRIVER, "client_call_done", t=t0 + 0.51, client_id="c1", op="get_state", outcome="error",
             grpc_code="UNAVAILABLE")
    h.record(DRIVER, "client_call_done", t=t0 + 0.52, client_id="c2", outcome="error", exc_type="TimeoutError")
    h.record(DRIVER, "client_call_done", t=t0 + 0.53, client_id="c2", outcome="error")
    h.record(DRIVER, "activity_started", t=t0 + 0.8, name="a")
    h.record(DRIVER, "orchestration_completed", t=t0 + 0.85, name="o")
    h.record(DRIVER, "worker_started", t=t0 + 0.01)
    h.record(DRIVER, "client_created", t=t0 + 0.02, client_id="c1")
    h.record(DRIVER, "worker_stopped", t=t0 + 1.9)
    h.record(DRIVER, "log", t=t0 + 0.75, level="warning", message="retrying")
    h.record(DRIVER, "log", t=t0 + 0.76, level="INFO", message="not drawn")
    h.record(DRIVER, "something_else", t=t0 + 0.77)


def rich() -> History:
    """Every lane, row kind, label and marker the picture has."""
    h = _h("tests/test_x.py::test_rich[<&>]")
    h.meta["sdk"] = {"sdk": "python", "sdk_version": "1.4.0"}
    h.meta["tolerance_s"] = 0.25
    _rich_fake(h)
    _rich_network(h)
    _rich_driver(h)
    for i, label in enumerate(["step one", "step two overlapping", "step three", "a long label " * 5]):
        h.record(SCENARIO, "mark", t=h.t0 + 0.3 + i * 0.01, label=label)
    h.record(SCENARIO, "mark", t=h.t0 + 1.95)  # no label
    h.record(SCENARIO, "note", t=h.t0 + 1.96, text="not a mark")
    return h


def big() -> History:
    """Hundreds of calls on five connections (test_timeline.py's test_hundreds_of_events)."""
    h = _h("big")
    t = h.t0
    for i in range(1, 301):
        peer = f"ipv4:127.0.0.1:{50000 + i % 5}"
        h.record(FAKE, "rpc_start", t=t + i * 0.01, call_id=i, method="CompleteActivityTask", peer=peer, server_gen=1)
        h.record(FAKE, "rpc_end", t=t + i * 0.01 + 0.004, call_id=i, method="CompleteActivityTask", peer=peer,
                 code="OK" if i % 7 else "UNAVAILABLE", server_gen=1)
        h.record(DRIVER, "rpc_done", t=t + i * 0.01 + 0.005, method="CompleteActivityTask", channel_id=1,
                 code="OK" if i % 7 else "UNAVAILABLE")
    return h


def tiny() -> History:
    """All events within 50 ms, none at the test start."""
    h = _h("tiny")
    h.record(FAKE, "rpc_start", t=h.t0 + 0.3, call_id=1, method="Hello", peer=PEER_A, server_gen=1)
    h.record(FAKE, "rpc_end", t=h.t0 + 0.31, call_id=1, method="Hello", peer=PEER_A, code="OK", server_gen=1)
    return h


def long() -> History:
    """Half a minute: whole-second axis labels."""
    h = _h("long")
    h.record(FAKE, "rpc_start", t=h.t0 + 1.0, call_id=1, method="GetWorkItems", peer=PEER_A, server_gen=1)
    h.record(NETWORK, "fault_start", t=h.t0 + 5.0, fault="blackhole", fault_id=1)
    h.record(NETWORK, "fault_end", t=h.t0 + 25.0, fault="blackhole", fault_id=1)
    h.record(FAKE, "rpc_end", t=h.t0 + 31.0, call_id=1, method="GetWorkItems", peer=PEER_A, code="UNAVAILABLE",
             server_gen=1)
    return h


def escaped() -> History:
    h = _h("<x>")
    h.record(SCENARIO, "mark", t=h.t0 + 0.1, label="<script>alert(1)</script>")
    h.record(FAKE, "rpc_start", t=h.t0 + 0.2, call_id="<c>", method='M"<&>', peer='p"<>:1', server_gen="<g>")
    return h


def _verdicts() -> list[Any]:
    return [SimpleNamespace(check="reconnects", ok=True, summary="new stream 0.1s after"),
            SimpleNamespace(check="silent <timeout>", ok=False, summary="no abandon within 2.0s & more",
                            evidence=[5, 9999, "x"]),
            SimpleNamespace(check="no evidence attribute", ok=False, summary="")]


# name -> (history factory, render: "svg" or "html", keyword arguments)
CASES: dict[str, tuple[Callable[[], History], str, dict[str, Any]]] = {
    "example.svg": (example, "svg", {}),
    "example-evidence.svg": (example, "svg", {"verdict_evidence": [5, 2, 9999]}),
    "example.html": (example, "html", {"title": "my test", "verdicts": _verdicts()}),
    "example-untitled.html": (example, "html", {}),
    "rich.svg": (rich, "svg", {"verdict_evidence": [3, 40]}),
    "rich.html": (rich, "html", {"verdicts": _verdicts()}),
    "empty.html": (lambda: _h("empty"), "html", {}),
    "big.html": (big, "html", {}),
    "tiny.svg": (tiny, "svg", {}),
    "long.svg": (long, "svg", {}),
    "escaped.html": (escaped, "html", {"title": "<t>", "verdicts": []}),
}


def render(name: str) -> str:
    from harness.report.timeline import render_html, render_svg
    factory, kind, kwargs = CASES[name]
    return render_svg(factory(), **kwargs) if kind == "svg" else render_html(factory(), **kwargs)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"write the pins into {GOLDEN.name}")
    parser.add_argument("--dump", type=Path, default=None, help="write every rendering into this folder")
    args = parser.parse_args(argv)
    pins = {name: digest(render(name)) for name in CASES}
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)
        for name in CASES:
            (args.dump / name).write_text(render(name), encoding="utf-8")
    if args.write:
        GOLDEN.write_text(json.dumps(pins, indent=1, sort_keys=True) + "\n")
    print(json.dumps(pins, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
