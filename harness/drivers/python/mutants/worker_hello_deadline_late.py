"""Mutant: the Hello deadline is twice the configured Hello timeout ("late, not never").

Expected to FAIL WRK-HELLO-001 (the deadline the server sees is 2x the Hello timeout) and
WRK-HELLO-002 (an unanswered Hello is given up at 2x the Hello timeout, outside its window).
worker_hello_no_deadline.py is the "never" variant. How: the worker module's ``stubs`` reference is
swapped for one whose stubs double the ``timeout`` argument of ``Hello``.
"""

import durabletask.worker as _w

_real_stubs = _w.stubs


class _Stubs:
    def __getattr__(self, name):
        return getattr(_real_stubs, name)

    def TaskHubSidecarServiceStub(self, channel):  # noqa: N802 (mirrors the generated name)
        stub = _real_stubs.TaskHubSidecarServiceStub(channel)
        real_hello = stub.Hello

        def hello(request, *args, **kwargs):
            if kwargs.get("timeout") is not None:
                kwargs["timeout"] = 2 * kwargs["timeout"]
            return real_hello(request, *args, **kwargs)

        stub.Hello = hello
        return stub


_w.stubs = _Stubs()
