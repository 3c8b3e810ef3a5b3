"""harness/drivers/capabilities.py: the class of each capability decides what a test that needs a missing
one becomes; the defaults a test runs at; and harness/workload.py's SdkOptions and step guards."""

from __future__ import annotations

import pytest

from harness.checks.options import ClientOptions
from harness.checks.verdict import Inconclusive
from harness.checks.windows import WorkerOptions
from harness.drivers import capabilities as caps
from harness.drivers.process import DriverUnsupported
from harness.workload import SdkOptions, create_client, start_worker, unsupported_is_judged

ALL = {name: True for name in caps.CAPABILITIES}
FEASIBLE = caps.AtDefaults(cost="about 3 min")
INFEASIBLE = caps.AtDefaults(infeasible="about 10 min")


def decide(needed, missing=(), at_defaults=FEASIBLE, skip=False):
    declared = {**ALL, **{m: False for m in missing}}
    return caps.decide(needed, declared, build="python 1.4.0", at_defaults=at_defaults, skip_at_defaults=skip)


def test_every_capability_has_a_class_and_protocol_md_names_it():
    from pathlib import Path
    protocol = (Path(caps.__file__).parent / "PROTOCOL.md").read_text()
    for name, cap in caps.CAPABILITIES.items():
        assert cap.kind in (caps.OPTIONAL, caps.CONFIGURABILITY, caps.OBSERVATION)
        assert f"`{name}`" in protocol, f"PROTOCOL.md does not document capability {name}"
        assert (cap.options is not None) == (cap.kind == caps.CONFIGURABILITY)


def test_nothing_missing_runs():
    assert decide(["resiliency_options", "rpc_observer", "async_client"]).action == caps.RUN


def test_a_missing_optional_feature_is_not_applicable_and_named():
    d = decide(["client_resiliency_options", "async_client"], missing=["async_client", "client_resiliency_options"])
    assert d.action == caps.NOT_APPLICABLE and d.missing == ("async_client",)
    assert "async_client" in d.reason and "optional" in d.reason


def test_a_missing_option_runs_at_the_defaults_or_is_left_out_only_when_asked():
    d = decide(["resiliency_options"], missing=["resiliency_options"])
    assert d.action == caps.AT_DEFAULTS and "about 3 min" in d.reason and "resiliency_options" in d.reason
    left = decide(["resiliency_options"], missing=["resiliency_options"], skip=True)
    assert left.action == caps.LEFT_OUT and left.reason.startswith("left out by --skip-at-defaults")
    assert decide(["resiliency_options"], skip=True).action == caps.RUN  # a configurable build is never left out
    quick = caps.AtDefaults(cost="instant", slow=False)  # only slow runs at the defaults are left out
    assert decide(["resiliency_options"], missing=["resiliency_options"], at_defaults=quick, skip=True).action \
        == caps.AT_DEFAULTS


def test_an_infeasible_run_at_the_defaults_is_not_implemented_whatever_else_is_missing():
    d = decide(["resiliency_options", "rpc_observer"], missing=["resiliency_options", "rpc_observer"],
               at_defaults=INFEASIBLE)
    assert d.action == caps.NOT_IMPLEMENTED and "about 10 min" in d.reason


def test_a_missing_observation_is_inconclusive():
    d = decide(["resiliency_options", "rpc_observer"], missing=["rpc_observer"])
    assert d.action == caps.INCONCLUSIVE and "rpc_observer" in d.reason
    assert decide(["rpc_observer"], missing=["rpc_observer", "resiliency_options"]).action == caps.INCONCLUSIVE


def test_declaration_errors_are_loud():
    with pytest.raises(caps.CapabilityError, match="unknown capability"):
        decide(["resiliency_option"])
    with pytest.raises(caps.CapabilityError, match="at_defaults"):
        decide(["resiliency_options"], missing=["resiliency_options"], at_defaults=None)


def test_defaults_come_from_the_build_and_else_from_the_design():
    d = caps.defaults_of({"defaults": {"worker": {"silent_disconnect_timeout_seconds": 60.0}, "client": {}}})
    assert d.worker == WorkerOptions(silent_disconnect_timeout_seconds=60.0)
    assert d.source["worker"]["silent_disconnect_timeout_seconds"] == "build"
    assert d.source["worker"]["hello_timeout_seconds"] == "design"
    assert d.client == ClientOptions()
    assert d.describe("worker").endswith("(the build's defaults; the design's for hello_timeout_seconds, "
                                         "channel_recreate_failure_threshold, reconnect_backoff_base_seconds, "
                                         "reconnect_backoff_cap_seconds)")
    assert caps.defaults_of({}).describe("client") == ("channel_recreate_failure_threshold=5, "
                                                       "min_recreate_interval_seconds=30 (the design's defaults)")


HELLO_140 = {"capabilities": {**ALL, "resiliency_options": False, "client_resiliency_options": False},
             "defaults": {"worker": {}, "client": {}}}
HELLO_112 = {"capabilities": ALL, "defaults": {"worker": WorkerOptions().as_dict(),
                                               "client": ClientOptions().as_dict()}}
FAST = WorkerOptions(hello_timeout_seconds=1.0, silent_disconnect_timeout_seconds=2.0,
                     reconnect_backoff_base_seconds=0.1, reconnect_backoff_cap_seconds=1.0)


def test_sdk_options_give_the_configured_options_or_the_builds_defaults():
    needs = ["resiliency_options", "client_resiliency_options"]
    assert SdkOptions(HELLO_112, needs).worker(FAST) is FAST
    assert SdkOptions(HELLO_140, needs).worker(FAST) == WorkerOptions()
    assert SdkOptions(HELLO_140, needs).worker(None) == WorkerOptions()
    res = {"channel_recreate_failure_threshold": 2, "min_recreate_interval_seconds": 0.0}
    assert SdkOptions(HELLO_112, needs).client(res) == res
    assert SdkOptions(HELLO_140, needs).client(res) == ClientOptions().as_dict()
    with pytest.raises(caps.CapabilityError, match="needs"):
        SdkOptions(HELLO_112, []).worker(FAST)  # configures without declaring it


class FakeDriver:
    def __init__(self, info, unsupported=None):
        self.info, self.calls, self.unsupported = info, [], unsupported

    def start_worker(self, **kw):
        if self.unsupported:
            raise DriverUnsupported("start_worker: Unsupported", error={"capability": self.unsupported})
        self.calls.append(kw)

    def create_client(self, cid, **kw):
        self.calls.append(kw)


def test_steps_configure_only_a_build_that_can_and_refuse_options_that_bypassed_sdk_options():
    d = FakeDriver(HELLO_112)
    start_worker(d, "a:1", FAST)
    assert d.calls[-1]["resiliency"] == FAST.as_dict()
    d = FakeDriver(HELLO_140)
    start_worker(d, "a:1", WorkerOptions())  # the defaults SdkOptions handed out: configure nothing
    create_client(d, "c", address="a:1", resiliency=ClientOptions().as_dict())
    assert d.calls[0]["resiliency"] is None and d.calls[1]["resiliency"] is None
    with pytest.raises(caps.CapabilityError, match="sdk_options"):
        start_worker(d, "a:1", FAST)


@pytest.mark.parametrize("cap, outcome", [("async_client", "skip"), ("resiliency_options", "not implemented"),
                                          ("rpc_observer", "inconclusive"), (None, "error")])
def test_an_unsupported_step_is_judged_by_the_class_of_what_is_missing(cap, outcome):
    expected = {"skip": pytest.skip.Exception, "not implemented": caps.NotImplementedByBuild,
                "inconclusive": Inconclusive, "error": DriverUnsupported}[outcome]
    with pytest.raises(expected):
        with unsupported_is_judged():
            raise DriverUnsupported("x: Unsupported", error={"capability": cap} if cap else {})
