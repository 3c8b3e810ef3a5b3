"""Mutant: only ``WaitForInstanceCompletion`` is exempt; DEADLINE_EXCEEDED on ``WaitForInstanceStart``
counts as a transport failure.

Expected to FAIL CLI-LONGPOLL-004 (CLIENT-2: both long polls are exempt): repeated start-poll timeouts
recreate the client's channel. How: ``WaitForInstanceStart`` is removed, in place, from
``durabletask.internal.grpc_resiliency.LONG_POLL_METHODS`` (read at call time by the classifier).
"""

import durabletask.internal.grpc_resiliency as _res

_res.LONG_POLL_METHODS.discard("/TaskHubSidecarService/WaitForInstanceStart")
