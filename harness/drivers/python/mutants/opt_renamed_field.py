"""Mutant: one documented worker option is renamed; the behaviour is untouched.

Expected to FAIL OPT-001 (and with it the gate): ``GrpcWorkerResiliencyOptions.hello_timeout_seconds``
is called ``hello_deadline_seconds`` in this build, with the same default (30.0). The SDK's own code
still reads ``hello_timeout_seconds`` (a read-only alias), so the worker behaves exactly as 1.12.0;
only a caller who sets the documented field gets a TypeError. Before gate semantics such a build was
"NOT APPLICABLE" on every test that configures the worker, i.e. green.

How: the option class is replaced in ``durabletask.grpc_options`` and in ``durabletask.worker``
(which imported it by name) by a dataclass with the renamed field.
"""

import dataclasses

import durabletask.grpc_options as _o
import durabletask.worker as _w

_Real = _o.GrpcWorkerResiliencyOptions


def _post_init(self) -> None:  # the real validation, under the old name
    _Real(hello_timeout_seconds=self.hello_deadline_seconds,
          silent_disconnect_timeout_seconds=self.silent_disconnect_timeout_seconds,
          channel_recreate_failure_threshold=self.channel_recreate_failure_threshold,
          reconnect_backoff_base_seconds=self.reconnect_backoff_base_seconds,
          reconnect_backoff_cap_seconds=self.reconnect_backoff_cap_seconds)


# make_dataclass, not a class statement: the driver execs this file with its own ``from __future__
# import annotations`` in force, and string annotations in an exec'd module break @dataclass.
GrpcWorkerResiliencyOptions = dataclasses.make_dataclass(
    "GrpcWorkerResiliencyOptions",
    [("hello_deadline_seconds", float, dataclasses.field(default=30.0)),  # renamed from hello_timeout_seconds
     ("silent_disconnect_timeout_seconds", float, dataclasses.field(default=120.0)),
     ("channel_recreate_failure_threshold", int, dataclasses.field(default=5)),
     ("reconnect_backoff_base_seconds", float, dataclasses.field(default=1.0)),
     ("reconnect_backoff_cap_seconds", float, dataclasses.field(default=30.0))],
    namespace={"__post_init__": _post_init,
               # what the SDK's internals read
               "hello_timeout_seconds": property(lambda self: self.hello_deadline_seconds)},
    kw_only=True)

_o.GrpcWorkerResiliencyOptions = GrpcWorkerResiliencyOptions
_w.GrpcWorkerResiliencyOptions = GrpcWorkerResiliencyOptions
