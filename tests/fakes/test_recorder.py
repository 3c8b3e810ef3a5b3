"""fakes/ records through a one-method Protocol and names its source itself: both must agree with
harness.history, which the checkers read."""

from __future__ import annotations

import fakes.recorder
import harness.history
from fakes.recorder import Recorder
from harness.history import History


def test_source_name_is_the_same_string():
    assert fakes.recorder.FAKE == harness.history.FAKE == "fake"


def test_history_is_a_recorder():
    h = History("t")
    assert isinstance(h, Recorder)
    h.record(fakes.recorder.FAKE, "x", a=1)
    assert h.first(source=harness.history.FAKE, kind="x").get("a") == 1


def test_a_plain_list_recorder_runs_the_fake():
    """The fake needs nothing but ``record``: a minimal recorder is enough to serve a call."""
    import grpc

    from fakes import pb
    from fakes.sidecar import FakeSidecar

    class Log:
        def __init__(self) -> None:
            self.events: list[tuple[str, str, dict]] = []

        def record(self, source, kind, t=None, **data):
            self.events.append((source, kind, data))

    log = Log()
    with FakeSidecar(log) as fake, grpc.insecure_channel(fake.address) as ch:
        ch.unary_unary("/TaskHubSidecarService/Hello", request_serializer=lambda m: m.SerializeToString(),
                       response_deserializer=pb.Empty.FromString)(pb.Empty(), timeout=5)
    kinds = [(s, k) for s, k, _ in log.events]
    assert ("fake", "rpc_start") in kinds and ("fake", "rpc_end") in kinds
