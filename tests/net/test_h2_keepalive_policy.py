"""The grpc-core ping abuse rules (harness/net/h2proxy/keepalive.py) on a clock we control."""

from __future__ import annotations

from harness.net.h2proxy.keepalive import IDLE_INTERVAL_S, KeepalivePolicy, PingJudge


def test_strikes_beyond_max_close_the_connection() -> None:
    j = PingJudge(KeepalivePolicy(min_time_without_data=1.0, max_strikes=2))
    assert [j.received_ping(t, open_streams=1) for t in (0.0, 0.1, 0.2, 0.3)] == [False, False, False, True]
    assert j.strikes == 3


def test_pings_spaced_by_the_minimum_are_fine() -> None:
    j = PingJudge(KeepalivePolicy(min_time_without_data=1.0, max_strikes=0 + 1))
    assert not any(j.received_ping(float(t), open_streams=1) for t in range(10))
    assert j.strikes == 0


def test_sending_headers_or_data_forgives() -> None:
    j = PingJudge(KeepalivePolicy(min_time_without_data=1.0, max_strikes=2))
    for t in (0.0, 0.1, 0.2):
        j.received_ping(t, open_streams=1)
    j.sent_headers_or_data()
    assert j.strikes == 0 and not j.received_ping(0.3, open_streams=1)


def test_zero_strikes_means_unlimited() -> None:
    j = PingJudge(KeepalivePolicy(min_time_without_data=1.0, max_strikes=0))
    assert not any(j.received_ping(t / 100, open_streams=1) for t in range(50))


def test_idle_transport_is_judged_against_two_hours_unless_permitted() -> None:
    strict = PingJudge(KeepalivePolicy(min_time_without_data=1.0, max_strikes=1))
    assert [strict.received_ping(t, open_streams=0) for t in (0.0, 10.0, 20.0)] == [False, False, True]
    assert IDLE_INTERVAL_S == 7200.0
    lenient = PingJudge(KeepalivePolicy(min_time_without_data=1.0, max_strikes=1, permit_without_calls=True))
    assert not any(lenient.received_ping(t, open_streams=0) for t in (0.0, 10.0, 20.0))
