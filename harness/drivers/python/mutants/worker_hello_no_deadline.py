"""Mutant: the worker sends Hello WITHOUT a deadline (as before durabletask 1.5.0, PR #708's
first root cause).

Expected to FAIL WRK-HELLO-001 (the deadline is missing at the server) and WRK-HELLO-002 (a
Hello the server never answers hangs forever). How: ``durabletask.worker`` builds a fresh stub
(``stubs.TaskHubSidecarServiceStub(channel)``) before every Hello; the worker module's ``stubs``
reference is swapped for one whose stubs drop the ``timeout`` argument of ``Hello``.
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
            kwargs.pop("timeout", None)
            return real_hello(request, *args, **kwargs)

        stub.Hello = hello
        return stub


_w.stubs = _Stubs()
