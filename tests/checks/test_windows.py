from harness.checks.windows import WorkerOptions, any_reconnect_bound, backoff_upper, first_reconnect_bound


def test_full_jitter_upper_bound_grows_then_caps():
    assert [backoff_upper(k, 0.1, 1.0) for k in range(5)] == [0.1, 0.2, 0.4, 0.8, 1.0]
    assert backoff_upper(1000, 0.1, 1.0) == 1.0  # exponent is capped, no overflow


def test_windows_derive_from_options():
    opts = WorkerOptions(reconnect_backoff_base_seconds=0.1, reconnect_backoff_cap_seconds=1.0)
    assert first_reconnect_bound(opts) == 0.2
    assert any_reconnect_bound(opts) == 1.0
    assert opts.as_dict()["reconnect_backoff_cap_seconds"] == 1.0
