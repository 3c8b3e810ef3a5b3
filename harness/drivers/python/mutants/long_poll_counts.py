"""Mutant: DEADLINE_EXCEEDED on the client long polls counts as a transport failure.

Expected to FAIL the long-poll exemption (CLIENT-2): repeated ``wait_for_orchestration_*``
timeouts make the client recreate its channel. How: ``durabletask.client`` does not import
``LONG_POLL_METHODS`` itself; ``is_client_transport_failure`` in
``durabletask.internal.grpc_resiliency`` reads the module-level set at call time. Emptying
that set in place (rather than rebinding the name) also reaches any module that imported
the set object by name.
"""

import durabletask.internal.grpc_resiliency as _res

_res.LONG_POLL_METHODS.clear()
