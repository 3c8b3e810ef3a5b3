"""Mutant: the sync client counts failed STREAMING calls (StreamInstanceHistory) as transport failures.

Expected to FAIL CLI-STREAM-001 (CLIENT-1: only unary outcomes count; N: streaming calls pass through):
failing ``get_orchestration_history`` calls recreate the channel. How: ``durabletask.client`` builds its
resiliency interceptor from the module-global ``ClientResiliencyInterceptor`` (read at construction);
it is replaced by a subclass that is also a unary-stream interceptor and records each stream's final
status (``add_done_callback``) like a unary outcome.
"""

import durabletask.client as _c
import grpc

_Base = _c.ClientResiliencyInterceptor


class _CountsStreams(_Base, grpc.UnaryStreamClientInterceptor):
    def intercept_unary_stream(self, continuation, client_call_details, request):
        call = continuation(client_call_details, request)

        def done(c):
            code = c.code()
            self._record_outcome(client_call_details.method, None if code == grpc.StatusCode.OK else c)

        call.add_done_callback(done)
        return call


_c.ClientResiliencyInterceptor = _CountsStreams
