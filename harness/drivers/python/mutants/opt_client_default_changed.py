"""Mutant: one documented client option default is changed (min_recreate_interval_seconds 10 instead of 30).

Expected to FAIL OPT-002: ``GrpcClientResiliencyOptions.min_recreate_interval_seconds`` defaults to
10.0 in this build, where the design documents 30 s (promises.md §1). Every field keeps its name, so the
driver can configure the build and no behavioural test runs at the defaults; only the declaration of
the build's option class shows the changed default.

How: the option class is replaced in ``durabletask.grpc_options`` and in ``durabletask.client`` (which
imported it by name) by a dataclass with the same fields and validation and the one default changed.
"""

import dataclasses

import durabletask.client as _c
import durabletask.grpc_options as _o

_Real = _o.GrpcClientResiliencyOptions


def _post_init(self) -> None:  # the real validation
    _Real(channel_recreate_failure_threshold=self.channel_recreate_failure_threshold,
          min_recreate_interval_seconds=self.min_recreate_interval_seconds)


# make_dataclass, not a class statement: the driver execs this file with its own ``from __future__
# import annotations`` in force, and string annotations in an exec'd module break @dataclass.
GrpcClientResiliencyOptions = dataclasses.make_dataclass(
    "GrpcClientResiliencyOptions",
    [("channel_recreate_failure_threshold", int, dataclasses.field(default=5)),
     ("min_recreate_interval_seconds", float, dataclasses.field(default=10.0))],  # documented: 30.0
    namespace={"__post_init__": _post_init}, kw_only=True)

_o.GrpcClientResiliencyOptions = GrpcClientResiliencyOptions
_c.GrpcClientResiliencyOptions = GrpcClientResiliencyOptions
