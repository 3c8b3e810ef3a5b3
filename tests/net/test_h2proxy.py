"""The HTTP/2 fault proxy (harness/net/h2proxy/) with a real grpc client (grpcio) and the real fake
sidecar over loopback: traffic passes unchanged, and each fault puts real frames on the wire and
gives the client what grpc-core gives it for those frames."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from fakes import pb
from fakes.faults import Abort
from fakes.sidecar import FakeSidecar
from harness.history import NETWORK, History
from harness.net.h2proxy import H2Proxy, KeepalivePolicy
from harness.net.h2proxy.frames import ERROR_CODES
from harness.repro.model import RST_STREAM_STATUS
from tests.net.h2_wire_tap import WireTap

GWI = "/TaskHubSidecarService/GetWorkItems"
HELLO = "/TaskHubSidecarService/Hello"


def _h2_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("h2proxy")]


@pytest.fixture
def history() -> History:
    return History("test_h2proxy")


@pytest.fixture
def fake(history: History) -> Iterator[FakeSidecar]:
    with FakeSidecar(history) as f:
        yield f


@pytest.fixture
def proxy(history: History, fake: FakeSidecar) -> Iterator[H2Proxy]:
    before = _h2_threads()
    p = H2Proxy(history, fake.address)
    p.start()
    try:
        yield p
    finally:
        p.stop()
        # nothing left running: no relay or accept thread, and the port no longer accepts
        assert _h2_threads() == before
        with socket.socket() as s, pytest.raises(ConnectionRefusedError):
            s.connect(("127.0.0.1", p.port))


def channel(target: str, **options: Any) -> grpc.Channel:
    opts = [("grpc.use_local_subchannel_pool", 1)] + [(f"grpc.{k}", v) for k, v in options.items()]
    return grpc.insecure_channel(target, options=opts)


def unary(ch: grpc.Channel, method: str) -> grpc.UnaryUnaryMultiCallable:
    req, resp, _ = pb.method_types(method)
    return ch.unary_unary(f"/TaskHubSidecarService/{method}", request_serializer=lambda m: m.SerializeToString(),
                          response_deserializer=resp.FromString)


def work_items(ch: grpc.Channel, timeout: float | None = None) -> grpc.Call:
    return ch.unary_stream(GWI, request_serializer=lambda m: m.SerializeToString(),
                           response_deserializer=pb.WorkItem.FromString)(pb.GetWorkItemsRequest(), timeout=timeout)


class StreamReader:
    """Reads a server stream in a thread: messages as they come, then the final status."""

    def __init__(self, call: grpc.Call) -> None:
        self.call = call
        self.items: list[Any] = []
        self.error: grpc.RpcError | None = None
        self.ended_at: float | None = None
        self._got = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for m in self.call:
                with self._got:
                    self.items.append(m)
                    self._got.notify_all()
        except grpc.RpcError as e:
            self.error = e
        self.ended_at = time.monotonic()

    def wait_items(self, n: int, timeout: float) -> bool:
        with self._got:
            return self._got.wait_for(lambda: len(self.items) >= n, timeout)

    def wait_end(self, timeout: float) -> grpc.RpcError | None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"stream still open after {timeout}s"
        return self.error


def frames(history: History, **match: Any) -> list[Any]:
    return history.select(NETWORK, "h2_frame", **match)


def test_unary_and_server_stream_pass_through(proxy: H2Proxy, fake: FakeSidecar, history: History) -> None:
    with channel(proxy.address) as ch:
        unary(ch, "Hello")(pb.Empty(), timeout=3)
        token = fake.schedule_activity("act", '"x"')
        reader = StreamReader(work_items(ch, timeout=10))
        assert reader.wait_items(1, 5)
        assert reader.items[0].completionToken == token
        assert reader.items[0].activityRequest.input.value == '"x"'
        reader.call.cancel()
        reader.wait_end(5)
    paths = [e.get("path") for e in history.select(NETWORK, "h2_stream")]
    assert paths == [HELLO, GWI]
    # the SDK's stream ids map onto the fake's in order, and every hop saw the frames
    assert [(e.get("down_stream_id"), e.get("up_stream_id")) for e in history.select(NETWORK, "h2_stream")] == [(1, 1), (3, 3)]
    for hop in ("sdk->proxy", "proxy->fake", "fake->proxy", "proxy->sdk"):
        assert {"HEADERS", "DATA", "SETTINGS"} <= {e.get("type") for e in frames(history, hop=hop)}, hop
    # the SDK's cancel reached the fake as a real RST_STREAM CANCEL
    assert history.wait_for(2, source=NETWORK, kind="h2_frame", hop="proxy->fake", type="RST_STREAM")
    rst = frames(history, hop="proxy->fake", type="RST_STREAM")
    assert [(e.get("stream_id"), e.get("error_name")) for e in rst] == [(3, "CANCEL")]
    assert all(e.t > 0 for e in frames(history))


def test_statuses_pass_through_unchanged(proxy: H2Proxy, fake: FakeSidecar, history: History) -> None:
    """A trailers-only response (status, no message) stays one HEADERS frame with END_STREAM, and
    trailers after messages keep their status: the client sees exactly what the fake sent."""
    fake.inject("Hello", Abort(grpc.StatusCode.UNAVAILABLE, "try later"))
    with channel(proxy.address) as ch:
        with pytest.raises(grpc.RpcError) as e:
            unary(ch, "Hello")(pb.Empty(), timeout=3)
        assert (e.value.code(), e.value.details()) == (grpc.StatusCode.UNAVAILABLE, "try later")
        fake.schedule_activity("act", '"x"')
        reader = StreamReader(work_items(ch, timeout=10))
        assert reader.wait_items(1, 5)
        fake.end_stream(fake.wait_for_stream(1), grpc.StatusCode.FAILED_PRECONDITION, "scripted end")
        err = reader.wait_end(5)
    assert err is not None and (err.code(), err.details()) == (grpc.StatusCode.FAILED_PRECONDITION, "scripted end")
    to_sdk = [(e.get("type"), e.get("flags")) for e in frames(history, hop="proxy->sdk", stream_id=1)]
    assert to_sdk == [("HEADERS", ["END_HEADERS", "END_STREAM"])]
    assert not [e for e in frames(history, hop="proxy->sdk", type="DATA") if "END_STREAM" in e.get("flags")]


def test_multi_megabyte_messages_both_ways(proxy: H2Proxy, history: History) -> None:
    big = '"' + "x" * 3_000_000 + '"'  # under grpcio's 4 MiB default receive limit on both ends
    with channel(proxy.address) as ch:
        req = pb.method_types("StartInstance")[0](name="orch")
        req.input.value = big
        iid = unary(ch, "StartInstance")(req, timeout=20).instanceId
        got = unary(ch, "GetInstance")(pb.GetInstanceRequest(instanceId=iid, getInputsAndOutputs=True), timeout=20)
    assert got.orchestrationState.input.value == big
    # flow control really ran: 64 KiB windows, so many WINDOW_UPDATEs toward each sender
    up = sum(e.get("length") for e in frames(history, hop="proxy->fake", type="DATA"))
    down = sum(e.get("length") for e in frames(history, hop="proxy->sdk", type="DATA"))
    assert up > 3_000_000 and down > 3_000_000
    assert len(frames(history, hop="proxy->sdk", type="WINDOW_UPDATE")) > 40
    assert len(frames(history, hop="proxy->fake", type="WINDOW_UPDATE")) > 40
    assert max(e.get("length") for e in frames(history, type="DATA")) <= 16384


@pytest.mark.parametrize("code", ["CANCEL", "REFUSED_STREAM", "INTERNAL_ERROR", "ENHANCE_YOUR_CALM"])
def test_rst_stream_status_matches_the_fake_approximation(proxy: H2Proxy, fake: FakeSidecar, history: History,
                                                          code: str) -> None:
    """harness/repro/model.py RST_STREAM_STATUS says which status grpc-core gives for each code; the
    real frame must give the same, or the fake's approximation is wrong."""
    fake.schedule_activity("act", '"x"')
    with channel(proxy.address) as ch:
        reader = StreamReader(work_items(ch, timeout=20))
        assert reader.wait_items(1, 5)
        t_rst = time.monotonic()
        hit = proxy.rst_stream(GWI, code, after_response_headers=True)
        err = reader.wait_end(5)
    assert hit["down_stream_id"] == 1 and hit["response_headers_sent"]
    assert err is not None
    history.record("scenario", "client_saw", code=err.code().name, details=err.details(), t_rst=t_rst)
    assert err.code().name == RST_STREAM_STATUS[code], err.details()
    sent = frames(history, hop="proxy->sdk", type="RST_STREAM")
    assert [(e.get("stream_id"), e.get("error_code")) for e in sent] == [(1, ERROR_CODES[code])]
    assert history.first(source=NETWORK, kind="h2_fault", fault="rst_stream").get("down_stream_id") == 1


def test_rst_stream_no_error_after_response_headers(proxy: H2Proxy, fake: FakeSidecar, history: History) -> None:
    """The AGC field report: RST_STREAM NO_ERROR on the open GetWorkItems stream after its headers."""
    fake.schedule_activity("act", '"x"')
    with channel(proxy.address) as ch:
        reader = StreamReader(work_items(ch, timeout=20))
        assert reader.wait_items(1, 5)
        proxy.rst_stream(GWI, "NO_ERROR", after_response_headers=True)
        err = reader.wait_end(5)
        unary(ch, "Hello")(pb.Empty(), timeout=3)  # the connection itself survives a stream reset
    assert err is not None
    history.record("scenario", "client_saw", code=err.code().name, details=err.details())
    assert err.code().name == RST_STREAM_STATUS["NO_ERROR"], err.details()
    assert "RST_STREAM" in err.details()
    kinds = [(e.get("hop"), e.get("type")) for e in frames(history, stream_id=1)]
    assert kinds.index(("proxy->sdk", "HEADERS")) < kinds.index(("proxy->sdk", "RST_STREAM"))
    # the fake's half was cancelled, and it saw the call end
    assert [e.get("error_name") for e in frames(history, hop="proxy->fake", type="RST_STREAM")] == ["CANCEL"]
    assert len({e.get("conn") for e in history.select(NETWORK, "h2_connection")}) == 1


def test_rst_stream_waits_for_a_matching_stream_and_names_the_fix(proxy: H2Proxy) -> None:
    with pytest.raises(TimeoutError, match="start the call first"):
        proxy.rst_stream(GWI, "CANCEL", timeout=0.2)
    with pytest.raises(ValueError, match="unknown HTTP/2 error code"):
        proxy.rst_stream(GWI, "NOPE", timeout=0.2)


def test_goaway_with_last_stream_id(proxy: H2Proxy, fake: FakeSidecar, history: History) -> None:
    """GOAWAY(last_stream_id=1): stream 1 (open, processed) keeps working; new calls need a new connection."""
    with channel(proxy.address) as ch:
        reader = StreamReader(work_items(ch, timeout=20))
        assert fake.wait_for_stream(5) is not None
        hits = proxy.goaway("NO_ERROR", last_stream_id=1, debug_data=b"drain")
        assert [h["last_stream_id_sent"] for h in hits] == [1]
        unary(ch, "Hello")(pb.Empty(), timeout=5)
        token = fake.schedule_activity("act", '"after goaway"')
        assert reader.wait_items(1, 5), "the stream below last-stream-id stopped delivering"
        assert reader.items[0].completionToken == token
        reader.call.cancel()
        reader.wait_end(5)
    goaways = frames(history, hop="proxy->sdk", type="GOAWAY")
    assert [(e.get("last_stream_id"), e.get("error_name"), e.get("debug_data")) for e in goaways] == [(1, "NO_ERROR", "drain")]
    opened = history.select(NETWORK, "h2_connection", state="open")
    assert len(opened) == 2  # Hello went out on a fresh connection
    hello = history.first(source=NETWORK, kind="h2_stream", path=HELLO)
    assert hello.get("conn") == opened[1].get("conn")


def test_goaway_below_an_open_stream_is_retried_transparently(proxy: H2Proxy, fake: FakeSidecar,
                                                              history: History) -> None:
    """GOAWAY(last_stream_id=0) while stream 1 is open tells the client the server never processed
    it. Measured (grpcio 1.85): grpc-core resets stream 1 (RST_STREAM NO_ERROR), leaves the
    connection and re-sends the call on a new one; the application sees no error at all, the
    fake sees the first call CANCELLED and a second GetWorkItems."""
    with channel(proxy.address) as ch:
        reader = StreamReader(work_items(ch, timeout=20))
        first = fake.wait_for_stream(5)
        assert first is not None
        proxy.goaway("NO_ERROR", last_stream_id=0)
        assert history.wait_for(5, source=NETWORK, kind="h2_stream", path=GWI, conn=2), "no retry on a new connection"
        token = fake.schedule_activity("act", '"after retry"')
        assert reader.wait_items(1, 5) and reader.items[0].completionToken == token
        assert reader.error is None
        reader.call.cancel()
        reader.wait_end(5)
    assert [e.get("last_stream_id") for e in frames(history, hop="proxy->sdk", type="GOAWAY")] == [0]
    sdk_rst = frames(history, hop="sdk->proxy", type="RST_STREAM", conn=1)
    history.record("scenario", "client_saw", rst_from_client=[e.get("error_name") for e in sdk_rst], error=None)
    assert [(e.get("stream_id"), e.get("error_name")) for e in sdk_rst] == [(1, "NO_ERROR")]
    starts = history.select(source="fake", kind="rpc_start", method="GetWorkItems")
    assert len(starts) == 2 and starts[0].get("peer") != starts[1].get("peer")
    assert history.first(source="fake", kind="rpc_end", call_id=first).get("code") == "CANCELLED"


def test_withheld_ping_acks_make_a_keepalive_client_give_up(proxy: H2Proxy, fake: FakeSidecar,
                                                             history: History) -> None:
    opts = {"keepalive_time_ms": 500, "keepalive_timeout_ms": 500, "http2.ping_timeout_ms": 1000,
            "keepalive_permit_without_calls": 1, "http2.max_pings_without_data": 0}
    with channel(proxy.address, **opts) as ch:
        reader = StreamReader(work_items(ch, timeout=30))
        assert fake.wait_for_stream(5) is not None
        with proxy.withhold_pings():
            t0 = time.monotonic()
            err = reader.wait_end(10)
    assert err is not None and err.code() == grpc.StatusCode.UNAVAILABLE, err
    history.record("scenario", "client_saw", code=err.code().name, details=err.details(),
                   after_s=reader.ended_at - t0)
    assert "ping" in err.details().lower() or "keepalive" in err.details().lower(), err.details()
    withheld = history.select(NETWORK, "h2_frame_suppressed", reason="withhold_pings")
    assert withheld and all(e.get("type") == "PING" and "ACK" in e.get("flags") for e in withheld)
    # PINGs kept arriving, and no ACK left the proxy toward the SDK during the window
    start = history.first(source=NETWORK, kind="fault_start", fault="withhold_pings")
    assert not frames(history, hop="proxy->sdk", type="PING", after=start.t)
    assert history.first(source=NETWORK, kind="fault_end", fault="withhold_pings") is not None


def test_keepalive_policy_sends_too_many_pings(proxy: H2Proxy, fake: FakeSidecar, history: History) -> None:
    # grpcio 1.85 sends keepalive PINGs at most once a second whatever keepalive_time_ms says
    # (measured), so a 2 s minimum makes every ping after the first a strike.
    opts = {"keepalive_time_ms": 100, "keepalive_permit_without_calls": 1, "http2.max_pings_without_data": 0}
    with channel(proxy.address, **opts) as ch:
        reader = StreamReader(work_items(ch, timeout=30))
        assert fake.wait_for_stream(5) is not None
        with proxy.keepalive_policy(KeepalivePolicy(min_time_without_data=2.0, max_strikes=2,
                                                    permit_without_calls=True)):
            err = reader.wait_end(10)
    assert err is not None
    history.record("scenario", "client_saw", code=err.code().name, details=err.details())
    # what a real grpcio 1.85 server's default policy gives (measured through tests/net/h2_wire_tap.py:
    # GOAWAY, then trailers grpc-status 14 "Too many pings" + RST_STREAM NO_ERROR per open stream)
    assert (err.code(), err.details()) == (grpc.StatusCode.UNAVAILABLE, "Too many pings")
    goaway = frames(history, hop="proxy->sdk", type="GOAWAY")
    assert [(e.get("error_name"), e.get("debug_data"), e.get("last_stream_id")) for e in goaway] == [
        ("ENHANCE_YOUR_CALM", "too_many_pings", 1)]
    after = [(e.get("type"), e.get("stream_id"), e.get("error_name")) for e in frames(history, hop="proxy->sdk", after=goaway[0].t)
             if e.get("type") in ("HEADERS", "RST_STREAM")]
    assert after == [("HEADERS", 1, None), ("RST_STREAM", 1, "NO_ERROR")]
    verdict = history.first(source=NETWORK, kind="h2_fault", action="too_many_pings")
    assert verdict.get("strikes") == 3  # grpc-core: more than max_ping_strikes (2)
    pings = frames(history, hop="sdk->proxy", type="PING", before=goaway[0].t)
    assert len([p for p in pings if "ACK" not in p.get("flags")]) >= 3


def test_stall_one_stream_while_others_flow(proxy: H2Proxy, fake: FakeSidecar, history: History) -> None:
    with channel(proxy.address) as ch:
        reader = StreamReader(work_items(ch, timeout=30))
        assert fake.wait_for_stream(5) is not None
        with proxy.stall_stream(GWI, direction="to_sdk"):
            token = fake.schedule_activity("act", '"held"')
            assert not reader.wait_items(1, 0.5)
            unary(ch, "Hello")(pb.Empty(), timeout=3)  # same connection, other stream: flows
        assert reader.wait_items(1, 5), "the held frames were not released when the stall ended"
        assert reader.items[0].completionToken == token
        reader.call.cancel()
        reader.wait_end(5)
    assert len(history.select(NETWORK, "h2_connection", state="open")) == 1


def test_delay_and_drop_one_stream(proxy: H2Proxy, fake: FakeSidecar, history: History) -> None:
    with channel(proxy.address) as ch:
        with proxy.delay_stream(HELLO, 0.3):
            t0 = time.monotonic()
            unary(ch, "Hello")(pb.Empty(), timeout=5)
            assert time.monotonic() - t0 >= 0.3
        reader = StreamReader(work_items(ch, timeout=30))
        assert fake.wait_for_stream(5) is not None
        with proxy.drop_stream(GWI):
            fake.schedule_activity("act", '"lost"')
            assert history.wait_for(5, source=NETWORK, kind="h2_frame_suppressed", reason="drop_stream")
        token = fake.schedule_activity("act", '"kept"')
        assert reader.wait_items(1, 5)
        assert [m.completionToken for m in reader.items] == [token]  # the dropped message never arrived
        reader.call.cancel()
        reader.wait_end(5)


def test_wire_capture_shows_real_rst_stream_and_goaway(proxy: H2Proxy, fake: FakeSidecar, history: History) -> None:
    """An independent TCP tap between the client and the proxy, decoded with hyperframe: the
    RST_STREAM and GOAWAY frames are on the wire with the chosen codes and last-stream-id."""
    host, port = proxy.address.split(":")
    tap = WireTap((host, int(port)))
    try:
        fake.schedule_activity("act", '"x"')
        with channel(tap.address) as ch:
            reader = StreamReader(work_items(ch, timeout=20))
            assert reader.wait_items(1, 5)
            proxy.rst_stream(GWI, "NO_ERROR", after_response_headers=True)
            reader.wait_end(5)
            reader2 = StreamReader(work_items(ch, timeout=20))
            assert fake.wait_for_stream(5) is not None
            proxy.goaway("ENHANCE_YOUR_CALM", last_stream_id=3, debug_data=b"chosen")
            reader2.call.cancel()
            reader2.wait_end(5)
        time.sleep(0.1)
    finally:
        tap.close()
    wire = tap.frames_to_client()
    rst = [f for f in wire if f["type"] == "RstStreamFrame"]
    goaway = [f for f in wire if f["type"] == "GoAwayFrame"]
    assert [(f["stream_id"], f["error_code"]) for f in rst] == [(1, 0)]
    assert [(f["last_stream_id"], f["error_code"], f["additional_data"]) for f in goaway] == [(3, 11, b"chosen")]
    # and the proxy's own record says the same
    rec = [(e.get("type"), e.get("stream_id"), e.get("error_code")) for e in frames(history, hop="proxy->sdk")
           if e.get("type") in ("RST_STREAM", "GOAWAY")]
    assert rec == [("RST_STREAM", 1, 0), ("GOAWAY", 0, 11)]


def test_scoped_faults_record_windows_and_restore(proxy: H2Proxy, history: History) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with proxy.withhold_pings():
            raise RuntimeError("boom")
    assert not proxy.faults.withholding_pings
    start = history.first(source=NETWORK, kind="fault_start", fault="withhold_pings")
    end = history.first(source=NETWORK, kind="fault_end", fault="withhold_pings")
    assert start.get("fault_id") == end.get("fault_id") and end.get("cleared_by") == "removed"
    with pytest.raises(ValueError, match="direction must be one of"):
        proxy.stall_stream(GWI, direction="sideways")


def test_bad_upstream_names_the_fix(history: History) -> None:
    with pytest.raises(ValueError, match="host:port"):
        H2Proxy(history, "localhost")


def test_goaway_from_the_fake_is_forwarded(proxy: H2Proxy, fake: FakeSidecar, history: History) -> None:
    """The fake's rolling hand-over (grpcio stop(grace): GOAWAY 2^31-1, PING, final GOAWAY) reaches
    the SDK as GOAWAYs with the same code and debug data, last-stream-ids mapped to the SDK's ids."""
    with channel(proxy.address) as ch:
        unary(ch, "Hello")(pb.Empty(), timeout=3)
        fake.goaway(grace=0.5).wait(5)
        assert history.wait_for(5, source=NETWORK, kind="h2_frame", hop="proxy->sdk", type="GOAWAY")
        unary(ch, "Hello")(pb.Empty(), timeout=5)  # on a new connection to the new generation
    from_fake = frames(history, hop="fake->proxy", type="GOAWAY")
    to_sdk = frames(history, hop="proxy->sdk", type="GOAWAY")
    assert from_fake and len(to_sdk) == len(from_fake)
    assert [(e.get("error_code"), e.get("debug_data")) for e in to_sdk] == [
        (e.get("error_code"), e.get("debug_data")) for e in from_fake]
    assert to_sdk[0].get("last_stream_id") == 2**31 - 1  # grpc's first, drain GOAWAY
    assert all(e.get("last_stream_id") in (1, 2**31 - 1) for e in to_sdk)
    assert len(history.select(NETWORK, "h2_connection", state="open")) == 2


def test_unreachable_upstream_closes_the_sdk_connection(history: History) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"  # bound, never listening: connect is refused
        with H2Proxy(history, dead) as proxy, channel(proxy.address) as ch:
            with pytest.raises(grpc.RpcError) as e:
                unary(ch, "Hello")(pb.Empty(), timeout=2)
    assert e.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    closed = history.first(source=NETWORK, kind="h2_connection", state="closed")
    assert closed is not None and "upstream connect failed" in closed.get("reason")
    assert not _h2_threads()


def test_many_calls_share_one_relayed_connection(proxy: H2Proxy, history: History) -> None:
    with channel(proxy.address) as ch:
        hello = unary(ch, "Hello")
        for _ in range(200):
            hello(pb.Empty(), timeout=3)
    streams = history.select(NETWORK, "h2_stream")
    assert [e.get("down_stream_id") for e in streams] == list(range(1, 401, 2))
    assert {e.get("conn") for e in streams} == {1}
