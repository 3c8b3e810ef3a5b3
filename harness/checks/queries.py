"""Small queries on a History that several checks share (streams, call ends, channels, client calls)."""

from __future__ import annotations

from harness.history import DRIVER, FAKE, Event, History


# -- small queries -------------------------------------------------------------------
def streams(history: History, after: float | None = None) -> list[Event]:
    """GetWorkItems calls seen by the fake (rpc_start events)."""
    return history.select(FAKE, "rpc_start", after=after, method="GetWorkItems")


def call_end(history: History, call_id: int) -> Event | None:
    return history.first(source=FAKE, kind="rpc_end", call_id=call_id)


def server_close_time(history: History, call_id: int) -> float | None:
    """When the fake decided to end a stream: its ``server_fault`` or the ``goaway`` that drained it.

    The fake writes ``rpc_end`` when grpc reports the call finished, which can come after the
    client has already seen the trailers and acted on them; a window that starts at the close
    must start at the decision, or a fast client's reaction would fall before it."""
    start = history.first(source=FAKE, kind="rpc_start", call_id=call_id)
    end = call_end(history, call_id)
    if start is None or end is None:
        return None
    marks = [e.t for e in history.select(FAKE, "server_fault", call_id=call_id)]
    marks += [e.t for e in history.select(FAKE, "goaway", after=start.t, before=end.t + 1e-9)
              if e.get("server_gen") == start.get("server_gen")]
    return min(marks + [end.t])


def last_message_before(history: History, call_id: int, before: float) -> Event | None:
    return history.last(source=FAKE, kind="message_sent", call_id=call_id, before=before)


def sdk_channels_created(history: History, after: float | None = None,
                         before: float | None = None) -> list[Event]:
    return history.select(DRIVER, "channel_created", after=after, before=before, owner="sdk")


def client_calls(history: History, *, client_id: str, op: str) -> list[Event]:
    return history.select(DRIVER, "client_call_done", client_id=client_id, op=op)
