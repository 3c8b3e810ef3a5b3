"""The history is the single source of truth: ordering, selection, persistence."""

import threading
import time

from harness.history import DRIVER, FAKE, History


def test_events_are_ordered_by_time_even_when_recorded_out_of_order():
    h = History("t")
    now = time.monotonic()
    h.record(DRIVER, "b", t=now + 1)
    h.record(FAKE, "a", t=now)
    assert [e.kind for e in h.events] == ["a", "b"]


def test_select_filters_by_source_kind_window_and_fields():
    h = History()
    t = time.monotonic()
    h.record(FAKE, "rpc_start", t=t, method="Hello", call_id=1)
    h.record(FAKE, "rpc_start", t=t + 1, method="GetWorkItems", call_id=2)
    h.record(DRIVER, "rpc_start", t=t + 2, method="GetWorkItems")
    assert [e.get("call_id") for e in h.select(FAKE, "rpc_start", method="GetWorkItems")] == [2]
    assert len(h.select(after=t + 0.5, before=t + 1.5)) == 1
    assert h.first(source=DRIVER).kind == "rpc_start"
    assert h.last(source=FAKE).get("call_id") == 2


def test_bytes_and_objects_are_made_json_safe(tmp_path):
    h = History("persist")
    h.record(FAKE, "rpc_start", request=b"\x01\x02", obj=object(), items=[1, 2])
    path = h.save(tmp_path / "h.json")
    loaded = History.load(path)
    ev = loaded.events[0]
    assert ev.get("request") == "0102"
    assert isinstance(ev.get("obj"), str)
    assert ev.get("items") == [1, 2]
    assert loaded.name == "persist"


def test_wait_for_wakes_on_a_matching_event_and_times_out_otherwise():
    h = History()
    threading.Timer(0.1, lambda: h.record(FAKE, "rpc_start", method="Hello")).start()
    start = time.monotonic()
    ev = h.wait_for(5, source=FAKE, method="Hello")
    assert ev is not None and time.monotonic() - start < 2
    start = time.monotonic()
    assert h.wait_for(0.2, source=FAKE, method="Nope") is None
    assert 0.15 < time.monotonic() - start < 1.5


def test_format_gives_relative_times_and_skips_raw_requests():
    h = History()
    h.record(FAKE, "rpc_start", method="Hello", request=b"\xff" * 100)
    text = h.format()
    assert "Hello" in text and "ffff" not in text
