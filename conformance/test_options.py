"""The documented resiliency options exist, with their documented defaults.

For the Python SDK the options are part of the promise (P: "on by default with conservative values
and explicit override/disable knobs"; promises.md §1, python-sdk.md §3). A build that renames one
field keeps its behaviour, so every behavioural test passes on it (at the defaults, where the driver
cannot configure it); only this test sees that the documented knob is gone.

Procedure
  Nothing runs: the driver reads the build's option classes (``dataclasses.fields``: names and
  defaults) and declares them in its ``hello`` (harness/drivers/PROTOCOL.md, ``options``).
Asserts
  - OPT-001: GrpcWorkerResiliencyOptions has hello_timeout_seconds 30, silent_disconnect_timeout_seconds
    120, channel_recreate_failure_threshold 5, reconnect_backoff_base_seconds 1, reconnect_backoff_cap_seconds 30.
  - OPT-002: GrpcClientResiliencyOptions has channel_recreate_failure_threshold 5,
    min_recreate_interval_seconds 30.
A build without the classes (durabletask < 1.5.0) is NOT IMPLEMENTED: its driver cannot configure
the options, so the test "runs at the defaults" and fails there (it costs nothing).
"""

import pytest

from harness.checks.options import documented_options
from harness.checks.verdict import for_requirement, require


@pytest.mark.needs("resiliency_options")
@pytest.mark.at_defaults("instant: nothing runs, the build's declaration is read", slow=False)
@pytest.mark.requirement("OPT-001")
def test_worker_options_are_documented(driver, history):
    require(*for_requirement("OPT-001", documented_options(history, kind="worker")), history=history)


@pytest.mark.needs("client_resiliency_options")
@pytest.mark.at_defaults("instant: nothing runs, the build's declaration is read", slow=False)
@pytest.mark.requirement("OPT-002")
def test_client_options_are_documented(driver, history):
    require(*for_requirement("OPT-002", documented_options(history, kind="client")), history=history)
