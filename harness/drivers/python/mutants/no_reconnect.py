"""Mutant: the worker never reconnects after its first work-item stream ends.

Expected to FAIL every reconnect requirement (the worker must open a new stream after
any stream outcome). How: ``durabletask.worker`` builds a fresh stub
(``stubs.TaskHubSidecarServiceStub(channel)``) on every (re)connect attempt, right before
``Hello``. We swap the worker module's ``stubs`` reference for a gate: once this worker has
opened one ``GetWorkItems`` stream, the next stub construction blocks until ``stop()`` and
then raises, so the run loop exits through its normal shutdown path. Nothing reaches the
server after the first stream ends; ``stop()`` still returns promptly.
"""

import threading

import durabletask.worker as _w

_real_stubs = _w.stubs
_current = threading.local()  # the worker whose run loop runs on this thread


class _GatedStubs:
    def __getattr__(self, name):
        return getattr(_real_stubs, name)

    def TaskHubSidecarServiceStub(self, channel):  # noqa: N802 (mirrors the generated name)
        worker = getattr(_current, "worker", None)
        if worker is not None and getattr(worker, "_mutant_stream_opened", False):
            worker._shutdown.wait()  # "never reconnect": park until stop()
            raise RuntimeError("mutant no_reconnect: not reconnecting")
        stub = _real_stubs.TaskHubSidecarServiceStub(channel)
        if worker is not None:
            real_get = stub.GetWorkItems

            def get_work_items(*args, **kwargs):
                worker._mutant_stream_opened = True
                return real_get(*args, **kwargs)  # the real call object, untouched

            stub.GetWorkItems = get_work_items
        return stub


_w.stubs = _GatedStubs()
_orig_run_loop = _w.TaskHubGrpcWorker._async_run_loop


async def _run_loop(self):
    # create_fresh_connection runs synchronously on the run loop's thread; remember whose.
    _current.worker = self
    await _orig_run_loop(self)


_w.TaskHubGrpcWorker._async_run_loop = _run_loop
