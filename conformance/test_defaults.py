"""The documented defaults are the ones in force (promises.md section 1).

A user who passes no options gets the defaults both designs document: Hello deadline 30 s, silent
timeout 120 s, recreate threshold 5, backoff base 1 s / cap 30 s, client threshold 5 and minimum
recreate interval 30 s, long-poll timeout 60 s. Waiting out 120 s of silence would prove the silent
timeout, and nothing else; the values the build USES when given none are read through the driver
instead (``defaults_in_force``: from a worker and a client constructed without options; OPT-001/002
hold the option classes' own defaults, which a build can keep while substituting others when none are
given), and the one that can be seen at once on the wire, the Hello deadline, is cross-checked
black-box.

Procedures
  - declared: ask the driver for the defaults the build uses; record them in the history.
  - on the wire: a worker started with NO resiliency options says Hello to the fake; the fake records
    the deadline the Hello carries.
Asserts
  - DEFAULTS-001: every documented default equals the build's (a setting the build lacks is a mismatch).
  - DEFAULTS-002: the Hello of a worker started with no options carries the documented 30 s deadline.
    A worker that opens GetWorkItems without any Hello FAILs it (no Hello, so no deadline: Java 1.5.0);
    only a worker that never connects at all is INCONCLUSIVE.
Both run on every build (no capability needed): a build without resiliency options fails them.
"""

import pytest

from harness.checks.promises import defaults_as_documented, documented_defaults
from harness.checks.verdict import Verdict, inconclusive, require
from harness.checks.windows import WorkerOptions, guard
from harness.checks.worker import hello_deadline
from harness.history import FAKE, SCENARIO
from harness.workload import start_worker

DOCUMENTED = WorkerOptions()  # windows.py keeps the documented worker defaults as its own


@pytest.mark.requirement("DEFAULTS-001")
def test_declared_defaults_are_documented(driver, history, tolerance):
    guard(tolerance)  # its checks add the tolerance to no option-derived window (windows.guard)
    answer = driver.request("defaults_in_force")
    history.record(SCENARIO, "sdk_defaults", **answer)
    require(defaults_as_documented(history, documented=documented_defaults()), history=history)


@pytest.mark.requirement("DEFAULTS-002")
def test_default_hello_deadline_on_the_wire(driver, fake, history, tolerance):
    guard(tolerance, hello_timeout=DOCUMENTED.hello_timeout_seconds)
    start_worker(driver, fake.address, None)
    if history.wait_for(15, source=FAKE, kind="rpc_start", method="Hello") is None:
        stream = history.first(source=FAKE, kind="rpc_start", method="GetWorkItems")
        if stream is None:
            inconclusive("setup: the worker never connected (no Hello, no GetWorkItems in 15 s)")
        # A worker that works without a Hello sends no Hello deadline: the promise is broken, not
        # unobservable (Java com.microsoft 1.5.0, F-60).
        require(Verdict("Hello carries the Hello-timeout deadline", False,
                        "no Hello in 15 s, although the worker opened GetWorkItems: it connects without the "
                        "Hello handshake, so no Hello deadline is ever sent", evidence=[stream.seq]),
                history=history)
    require(hello_deadline(history, hello_timeout=DOCUMENTED.hello_timeout_seconds, tolerance=tolerance),
            history=history)
