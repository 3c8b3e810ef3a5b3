"""harness/report/timeline/: the HTML/SVG picture of one history (synthetic histories, no network)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree

from harness.history import FAKE, NETWORK, History
from harness.report.timeline import main, render_svg, render_timeline
from tests.report import timeline_cases

PEER_A = "ipv4:127.0.0.1:50542"
PEER_B = "ipv4:127.0.0.1:50544"


def _history() -> History:
    """The example history of the golden cases (fixed times; see timeline_cases.example)."""
    return timeline_cases.example()


def _svg_root(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def test_page_is_self_contained_and_has_the_parts(tmp_path: Path) -> None:
    h = _history()
    verdicts = [SimpleNamespace(check="reconnects", ok=True, summary="new stream 0.1s after"),
                SimpleNamespace(check="silent timeout", ok=False, summary="no abandon within 2.0s", evidence=[5])]
    out = render_timeline(h, tmp_path / "t.html", title="my test", verdicts=verdicts)
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
    assert "https://" not in page
    assert "<script src" not in page
    # a lane per TCP connection, labelled with port and server generation
    assert "TCP :50542  (server gen 1)" in page
    assert "TCP :50544  (server gen 2)" in page
    assert 'data-lane="conn:ipv4:127.0.0.1:50542"' in page
    assert 'data-lane="conn:ipv4:127.0.0.1:50544"' in page
    assert 'data-lane="driver"' in page and 'data-lane="scenario"' in page
    # one band for the matched fault, instants as lines, RST as a marker
    assert page.count('class="fault-band"') == 1
    assert 'data-fault-id="7"' in page
    assert page.count('class="fault-instant"') == 3  # tcp_reset, goaway, server_fault
    assert 'class="rst-seen"' in page
    # RPC bars, the non-OK end, the stream messages
    assert page.count('class="rpc"') == 3
    assert 'class="err-code"' in page and "CANCELLED" in page
    assert page.count('class="msg"') == 2
    # legend and verdicts
    assert 'id="legend"' in page and "GetWorkItems (stream)" in page
    assert '<span class="badge pass">PASS</span>' in page
    assert '<span class="badge fail">FAIL</span>' in page
    assert 'class="evidence"' in page  # the failed verdict's evidence event is pinned
    assert "<title>" in page  # hover details
    assert "my test" in page
    assert "fault applied" in page and "done" in page


def test_svg_is_well_formed_xml() -> None:
    root = _svg_root(render_svg(_history()))
    assert root.tag.endswith("svg")
    assert float(root.get("height")) > 100


def test_open_stream_runs_to_the_end_of_the_history() -> None:
    h = _history()
    root = _svg_root(render_svg(h))
    ns = "{http://www.w3.org/2000/svg}"
    bars = {g.get("data-call-id"): g.find(ns + "rect") for g in root.iter(ns + "g") if g.get("class") == "rpc"}
    end_line = next(el for el in root.iter(ns + "line") if el.get("class") == "history-end")
    bar3 = bars["3"]
    assert float(bar3.get("x")) + float(bar3.get("width")) >= float(end_line.get("x1"))
    g3 = next(g for g in root.iter(ns + "g") if g.get("data-call-id") == "3")
    assert "still open" in ElementTree.tostring(g3, encoding="unicode")


def test_unmatched_fault_start_is_a_band_to_the_end() -> None:
    h = History("x")
    h.record(NETWORK, "fault_start", t=h.t0 + 0.1, fault="latency", fault_id=1, type="latency", stream="downstream")
    h.record(FAKE, "rpc_start", t=h.t0 + 0.2, call_id=1, method="Hello", peer=PEER_A, server_gen=1)
    svg = render_svg(h)
    assert svg.count('class="fault-band"') == 1
    assert "still in force when the history ends" in svg


def test_empty_history(tmp_path: Path) -> None:
    h = History("empty")
    page = render_timeline(h, tmp_path / "e.html").read_text()
    assert "no events" in page
    assert "no RPC reached the fake" in page
    _svg_root(re.search(r"<svg.*</svg>", page, re.S).group(0))


def test_hundreds_of_events(tmp_path: Path) -> None:
    h = timeline_cases.big()
    page = render_timeline(h, tmp_path / "big.html").read_text()
    assert page.count('class="rpc"') == 300
    assert sum(f"TCP :{50000 + k}" in page for k in range(5)) == 5
    _svg_root(re.search(r"<svg.*</svg>", page, re.S).group(0))


def test_loaded_history_and_cli(tmp_path: Path) -> None:
    src = _history().save(tmp_path / "h.json")
    loaded = History.load(src)
    a = render_svg(loaded)
    assert a.count('class="rpc"') == 3
    out = tmp_path / "out" / "t.html"
    assert main([str(src), "--html", str(out)]) == 0
    assert "TCP :50542" in out.read_text()
    assert main([str(src)]) == 0  # default: next to the history
    assert (tmp_path / "h.html").exists()
    assert main([str(tmp_path / "missing.json")]) == 2


def test_text_is_escaped() -> None:
    h = History("<x>")
    h.mark("<script>alert(1)</script>")
    svg = render_svg(h)
    assert "<script>alert" not in svg
    _svg_root(svg)


def test_pictures_are_unchanged() -> None:
    """Byte for byte the pinned renderings of tests/report/timeline_cases.py (see its docstring to
    re-pin after a deliberate change)."""
    pins = json.loads(timeline_cases.GOLDEN.read_text())
    assert set(pins) == set(timeline_cases.CASES)
    changed = [name for name in timeline_cases.CASES
               if timeline_cases.digest(timeline_cases.render(name)) != pins[name]]
    assert not changed, f"these timeline renderings changed: {changed}"


def test_module_and_harness_command_lines(tmp_path: Path) -> None:
    src = _history().save(tmp_path / "h.json")
    root = Path(__file__).resolve().parents[2]
    for cmd in (["-m", "harness.report.timeline", str(src), "--html", str(tmp_path / "a.html")],
                ["-m", "harness", "timeline", str(src), "--html", str(tmp_path / "b.html")]):
        proc = subprocess.run([sys.executable, *cmd], cwd=root, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "a.html").read_text() == (tmp_path / "b.html").read_text()
    assert "TCP :50542" in (tmp_path / "a.html").read_text()
