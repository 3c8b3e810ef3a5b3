"""Raw protocol access for the kit: several requests written in ONE write before any answer is read,
which ``Driver.request`` (one request, then wait) cannot express.

It registers its requests with the Driver's own reader (ids from the same counter), so answers and
events are still parsed once, by the Driver, and unsolicited lines still land in ``garbage``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from harness.drivers.process import Driver, _Pending


def pipeline(driver: Driver, requests: list[tuple[str, dict[str, Any]]],
             timeout: float) -> list[tuple[int, dict[str, Any], float]]:
    """Write every ``(cmd, args)`` in one write, then wait for all answers. Returns, per request in
    order, ``(id, raw answer, monotonic time the answer was seen)``; AssertionError names the
    requests not answered within ``timeout``."""
    sent: list[tuple[int, _Pending]] = []
    lines = []
    with driver._lock:
        for cmd, args in requests:
            req_id = next(driver._ids)
            pending = _Pending()
            driver._pending[req_id] = pending
            sent.append((req_id, pending))
            lines.append(json.dumps({"id": req_id, "cmd": cmd, "args": args}))
    with driver._write_lock:
        assert driver.proc.stdin is not None
        driver.proc.stdin.write(("\n".join(lines) + "\n").encode())
        driver.proc.stdin.flush()
    deadline = time.monotonic() + timeout
    seen: dict[int, float] = {}
    while len(seen) < len(sent) and time.monotonic() < deadline:
        for req_id, pending in sent:
            if req_id not in seen and pending.done.is_set():
                seen[req_id] = time.monotonic()
        time.sleep(0.005)  # 5 ms resolution is enough to order a fast answer before a 1 s one
    missing = [(req_id, cmd) for (req_id, p), (cmd, _) in zip(sent, requests, strict=True) if p.msg is None]
    assert not missing, (f"no answer within {timeout}s to pipelined requests {missing}; "
                         f"driver stderr:\n{driver.stderr_tail()}")
    return [(req_id, p.msg, seen[req_id]) for req_id, p in sent]  # type: ignore[misc]


def send_nowait(driver: Driver, cmd: str, args: dict[str, Any]) -> _Pending:
    """Write one request and return at once; its answer (if any ever comes) lands in the returned
    pending's ``msg``. For commands a wedged SDK may never answer (``start_worker`` against a server
    that never speaks)."""
    with driver._lock:
        req_id = next(driver._ids)
        pending = _Pending()
        driver._pending[req_id] = pending
    with driver._write_lock:
        assert driver.proc.stdin is not None
        driver.proc.stdin.write((json.dumps({"id": req_id, "cmd": cmd, "args": args}) + "\n").encode())
        driver.proc.stdin.flush()
    return pending
