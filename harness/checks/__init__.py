"""Checks: pure functions that read a History and return a Verdict. This is where a verdict is decided.

Owns: ``verdict`` (Verdict, ``require``, ``for_requirement``), ``windows`` (every timing bound, from
the options a scenario configures plus one tolerance), ``queries`` (history look-ups several checks
share), ``options`` (the client options' types and the design's defaults, what OPT-001/002
compare a build's declared defaults with), then one module per requirement area: ``worker`` (handshake, stream health, backoff,
shutdown), ``client`` (client status, recreation, channel ownership), ``conn`` (dead connections,
in-flight drain, leaks), ``promises`` (SPEC.md section 6: defaults in force, stream-timer edges,
health pings, peer statuses, recreation state, retirement, drain across stop), and ``field`` (checks
only field-report files use).

Every public check is decorated with ``@check`` (verdict.py): the Verdict it returns records how it
was computed (``call``: the function and its keyword arguments as JSON), so ``python -m harness
check HISTORY.json`` (harness/recheck.py) can re-judge a saved history without running anything.

May import: ``harness.history`` only. Scenarios drive the SDK and the faults and then call these;
they never sleep-and-assert on their own, so the same history file gives the same verdict when
re-checked later.

Event vocabulary read here (written by fakes/, harness/net/, harness/drivers/; see
harness/history.py):
- fake ``rpc_start`` / ``rpc_end`` (call_id, method, peer, code, ended_by, server_gen)
- fake ``message_sent`` (call_id, item, completion_token)
- fake ``work_item_completed`` (completion_token, duplicate)
- network ``fault_start`` / ``fault_end`` / ``tcp_reset`` / ``tcp_rst_seen``
- driver ``channel_created`` / ``channel_closed`` (owner, role: worker or client), ``client_closed``,
  ``rpc_done`` (method, code, details), ``client_call_done``
"""
