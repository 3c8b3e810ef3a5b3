"""Mutant: the worker ignores a failed Hello and opens GetWorkItems anyway.

Expected to FAIL WRK-HELLO-004 (N's test ProcessorExecuteAsync_HelloDeadlineExceeded: GetWorkItems
is never called when Hello times out). How: the worker module's ``stubs`` reference is swapped
for one whose ``Hello`` swallows any RpcError and returns an empty reply, so the run loop goes
on to open the stream on the connection whose handshake failed.
"""

import durabletask.worker as _w
import grpc
from google.protobuf import empty_pb2

_real_stubs = _w.stubs


class _Stubs:
    def __getattr__(self, name):
        return getattr(_real_stubs, name)

    def TaskHubSidecarServiceStub(self, channel):  # noqa: N802
        stub = _real_stubs.TaskHubSidecarServiceStub(channel)
        real_hello = stub.Hello

        def hello(request, *args, **kwargs):
            try:
                return real_hello(request, *args, **kwargs)
            except grpc.RpcError:
                return empty_pb2.Empty()

        stub.Hello = hello
        return stub


_w.stubs = _Stubs()
