"""Mutant: recreation is not single-flight, and its interval check races (check, slow build, stamp).

Expected to FAIL CLI-RECREATE-005: a burst of concurrent failures builds several channels. How
(sync client): every threshold crossing starts its own recreate thread; each checks the interval,
then spends 0.2 s "resolving and handshaking" (what makes single-flight matter in the field: slow
DNS/TLS) before it builds and swaps a channel and stamps the time. The async client is not
patched (on 1.12.0 it never reaches a recreation, finding F-1).
"""

import threading
import time

import durabletask.client as _c
from durabletask.internal import shared

_stubs = _c.stubs


def _racy_recreate(self):
    now = time.monotonic()
    if now - self._last_recreate_time < self._resiliency_options.min_recreate_interval_seconds:
        return
    time.sleep(0.2)
    with self._recreate_lock:
        self._channel = shared.get_grpc_channel(host_address=self._host_address,
                                                secure_channel=self._secure_channel,
                                                interceptors=self._interceptors,
                                                channel_options=self._channel_options)
        self._stub = _stubs.TaskHubSidecarServiceStub(self._channel)
        self._last_recreate_time = now
        self._client_failure_tracker.record_success()


def _schedule_recreate(self):
    threading.Thread(target=_racy_recreate, args=(self,), daemon=True).start()


_c.TaskHubGrpcClient._schedule_recreate = _schedule_recreate
