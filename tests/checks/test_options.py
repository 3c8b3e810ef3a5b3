"""harness/checks/options.py: the documented resiliency options (OPT-001/002) as the driver declares them."""

from __future__ import annotations

from harness.checks.options import DOCUMENTED, documented_options
from harness.history import History


def _history(worker, client=None) -> History:
    h = History("t")
    h.meta["sdk"] = {"options": {"worker": worker, "client": client}}
    return h


def _declared(kind: str, **changes):
    cls, fields = DOCUMENTED[kind]
    fields = dict(fields)
    for old, new in changes.items():
        fields[new if isinstance(new, str) else old] = fields.pop(old) if isinstance(new, str) else new
    return {"class": cls, "fields": fields}


def test_the_documented_options_pass():
    h = _history(_declared("worker"), _declared("client"))
    assert documented_options(h, kind="worker").ok and documented_options(h, kind="client").ok


def test_a_build_without_the_options_fails():
    v = documented_options(_history(None), kind="worker")
    assert not v.ok and "no GrpcWorkerResiliencyOptions" in v.summary


def test_one_renamed_field_fails_and_names_both():
    v = documented_options(_history(_declared("worker", hello_timeout_seconds="hello_deadline_seconds")), kind="worker")
    assert not v.ok and "missing field(s) hello_timeout_seconds" in v.summary and "hello_deadline_seconds" in v.summary


def test_a_changed_default_fails():
    v = documented_options(_history(None, _declared("client", min_recreate_interval_seconds=10.0)), kind="client")
    assert not v.ok and "min_recreate_interval_seconds=10.0 (documented 30.0)" in v.summary


def test_the_verdict_can_be_rejudged_from_the_saved_history():
    v = documented_options(_history(_declared("worker")), kind="worker")
    assert v.call == {"fn": "harness.checks.options:documented_options", "kwargs": {"kind": "worker"},
                      "history_len": 0}
