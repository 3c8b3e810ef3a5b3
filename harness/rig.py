"""The rig: Toxiproxy -> fake sidecar -> a proxy in front of it -> the SDK driver.

Every part is a context manager that starts its part on entry and stops it on ANY exit (an
exception, a failed check, Ctrl-C), so nothing is left running. Two ways to use them:

- one by one, as the pytest plugin's fixtures do (harness/plugin.py: a session-scoped Toxiproxy,
  a fake, a proxy and a driver per test)::

      with rig.toxiproxy(url=None, binary=None, cache_dir=cache) as client, \\
           rig.fake_sidecar(history) as fake, \\
           rig.proxy_link(client, fake, history, name="dt-1") as link, \\
           rig.sdk_driver(build, history, log_dir=tmp) as driver:
          ...

- all at once, as the field-report runner does (harness/repro/runner.py)::

      with rig.whole_rig(history, sdk=build, log_dir=tmp, toxiproxy_url=url) as parts:
          parts.fake, parts.link, parts.driver, parts.sdk_info

``whole_rig`` starts the parts in that order and stops them in reverse.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakes.sidecar import FakeSidecar
from harness.drivers.process import Driver
from harness.history import SCENARIO, History
from harness.net.h2proxy import H2Proxy
from harness.net.link import FaultyLink
from harness.net.toxiproxy_client import Client
from harness.sdk import SdkBuild

_ids = itertools.count(1)


def proxy_name(prefix: str) -> str:
    """A proxy name unique in this process (Toxiproxy servers may be shared by processes)."""
    return f"{prefix}-{os.getpid()}-{next(_ids)}"


# -- the parts, one by one --------------------------------------------------------------------------
@contextlib.contextmanager
def toxiproxy(*, url: str | None = None, binary: str | None = None, cache_dir: Path,
              mode: str = "auto") -> Iterator[Client]:
    """A Toxiproxy API client. With ``url``: the server running there (checked, never stopped; what
    the client raised propagates if nothing answers). Otherwise a server of our own, chosen by
    ``mode`` (``--toxiproxy``: auto, binary, docker; harness/net/toxiproxy_docker.py ``choose_server``)
    from ``binary``, the one built into ``cache_dir`` or the official Docker image
    (harness.net.toxiproxy_server.ToxiproxyUnavailable naming the fix if none works), stopped on exit."""
    if url:
        client = Client(url)
        client.version()
        yield client
        return
    from harness.net.toxiproxy_docker import choose_server
    server = choose_server(mode, binary=binary, cache_dir=cache_dir)
    server.start()
    try:
        yield Client(server.url)
    finally:
        server.stop()


@contextlib.contextmanager
def fake_sidecar(history: History, *, schema: str = "microsoft", **options: Any) -> Iterator[FakeSidecar]:
    """A fake TaskHubSidecarService on a free loopback port, recording into ``history``, speaking the
    wire ``schema`` (the build's ``SdkBuild.schema``: fakes/schemas.py); ``options`` go to FakeSidecar
    (e.g. ``health_ping_interval``)."""
    fake = FakeSidecar(history, schema=schema, **options)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@contextlib.contextmanager
def proxy_link(client: Client, fake: FakeSidecar, history: History, *, name: str,
               upstream: str | None = None) -> Iterator[FaultyLink]:
    """A Toxiproxy proxy ``name`` in front of ``fake`` (or of ``upstream``, e.g. the HTTP/2 fault proxy
    in front of the fake); the link's ``.address`` is what the SDK connects to. The proxy is deleted
    on exit (quietly: the server may already be gone)."""
    proxy = client.create_proxy(name, upstream=upstream or fake.address)
    try:
        yield FaultyLink(client, proxy, history)
    finally:
        with contextlib.suppress(Exception):
            client.delete_proxy(proxy.name)


@contextlib.contextmanager
def sdk_driver(build: SdkBuild, history: History, *, log_dir: Path, patches: Sequence[str] = (),
               on_start: Callable[[Driver], None] | None = None) -> Iterator[Driver]:
    """The driver of ``build`` (with ``patches``, the suite's broken variants) in its own process,
    greeted: its ``hello`` is in ``history.meta["sdk"]`` and a ``scenario``/``driver_ready`` event.
    ``on_start`` sees the driver before the greeting (the plugin keeps it for failure reports).
    Closed on exit, its whole process group included."""
    driver = Driver(build.command(patches), history, log_dir=log_dir)
    try:
        if on_start is not None:
            on_start(driver)
        info = driver.hello()
        history.meta["sdk"] = info
        history.record(SCENARIO, "driver_ready", sdk=info.get("sdk"), sdk_version=info.get("sdk_version"),
                       capabilities=info.get("capabilities", {}))
        yield driver
    finally:
        driver.close()


# -- the whole rig ----------------------------------------------------------------------------------
@dataclass
class Parts:
    """The running parts of a whole rig."""

    toxiproxy: Client
    fake: FakeSidecar
    link: FaultyLink
    driver: Driver
    sdk_info: dict[str, Any] = field(default_factory=dict)  # the driver's hello
    h2: H2Proxy | None = None  # the HTTP/2 frame-level fault proxy, when asked for


@contextlib.contextmanager
def whole_rig(history: History, *, sdk: SdkBuild, log_dir: Path, patches: Sequence[str] = (),
              toxiproxy_client: Client | None = None, toxiproxy_url: str | None = None,
              toxiproxy_bin: str | None = None, toxiproxy_mode: str = "auto", cache_dir: Path | None = None,
              proxy_prefix: str = "rig", h2: bool = False) -> Iterator[Parts]:
    """Toxiproxy (``toxiproxy_client`` if given, e.g. the pytest session's; else as ``toxiproxy()``),
    a fake, a proxy named ``<proxy_prefix>-<pid>-<n>`` and the driver of ``sdk``, started in that
    order and stopped in reverse on any exit.

    With ``h2`` the HTTP/2 fault proxy (harness/net/h2proxy) sits between Toxiproxy and the fake:
    SDK -> Toxiproxy -> h2 proxy -> fake, so TCP faults still act on the SDK's own connection and
    frame faults (RST_STREAM, GOAWAY, PING acks) reach it as real frames."""
    from harness.paths import default_cache_dir
    with contextlib.ExitStack() as stack:
        client = toxiproxy_client
        if client is None:
            client = stack.enter_context(toxiproxy(url=toxiproxy_url, binary=toxiproxy_bin, mode=toxiproxy_mode,
                                                   cache_dir=cache_dir or default_cache_dir()))
        fake = stack.enter_context(fake_sidecar(history, schema=sdk.schema))
        frames = stack.enter_context(H2Proxy(history, upstream=fake.address)) if h2 else None
        link = stack.enter_context(proxy_link(client, fake, history, name=proxy_name(proxy_prefix),
                                              upstream=frames.address if frames else None))
        driver = stack.enter_context(sdk_driver(sdk, history, log_dir=log_dir, patches=patches))
        yield Parts(client, fake, link, driver, dict(history.meta.get("sdk", {})), frames)
