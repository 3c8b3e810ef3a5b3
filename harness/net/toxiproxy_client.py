"""A small typed client for the Toxiproxy 2.x HTTP API.

Why not toxiproxy-python? Its last release, 0.1.1 (January 2019, classifiers Python 2.7-3.5, pulls
in the Python 2 shim ``future``), falls short exactly where a test harness needs it, so it is not a
dependency and this module talks HTTP itself with ``requests``:
- it sets no HTTP timeouts, so a wedged API server hangs the test run;
- only 400/404/409 raise (with the raw body); a 500 (e.g. the proxy's listen port in use) surfaces
  as ``KeyError: 'name'`` from ``create``, not as the server's error text;
- its host/port live on the class ``APIConsumer``, process-wide, so one process cannot talk to
  two servers (and two fixtures would silently redirect each other);
- it predates Toxiproxy 2.6: it cannot update a toxic (PATCH), ``add_toxic`` returns None, and it
  enables/disables a proxy with ``POST /proxies/{name}``, which v2.12 still accepts but logs as
  deprecated.
The API surface the harness uses (proxies, toxics, enable/disable, reset, version) is about a
hundred lines here, typed; measured against v2.12.0 in tests/net/test_toxiproxy.py.

Every request has a timeout; every status >= 400 raises ``ToxiproxyError`` with the server's
own ``error`` text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests

USER_AGENT = "durabletask-conformance"  # anything not starting with "Mozilla/" (the API 403s browsers)


class ToxiproxyError(RuntimeError):
    """The API refused a request (``status`` is the HTTP status) or did not answer (``status`` None)."""

    def __init__(self, method: str, path: str, status: int | None, message: str) -> None:
        self.method, self.path, self.status, self.message = method, path, status, message
        where = f"{method} {path}"
        super().__init__(f"Toxiproxy {where}: {status} {message}" if status else f"Toxiproxy {where}: {message}")


@dataclass(frozen=True)
class Toxic:
    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Toxic:
        return cls(d["name"], d["type"], d.get("stream", "downstream"), float(d.get("toxicity", 1.0)),
                   dict(d.get("attributes") or {}))


@dataclass(frozen=True)
class Proxy:
    name: str
    listen: str  # resolved "host:port" (the server fills in the port when asked for port 0)
    upstream: str
    enabled: bool
    toxics: tuple[Toxic, ...] = ()

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Proxy:
        return cls(d["name"], d["listen"], d["upstream"], bool(d.get("enabled", True)),
                   tuple(Toxic.from_json(t) for t in d.get("toxics") or ()))

    @property
    def listen_host(self) -> str:
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def listen_port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


def _name(proxy: Proxy | str) -> str:
    return proxy.name if isinstance(proxy, Proxy) else proxy


class Client:
    """One Toxiproxy server's API. Holds no global state, so several can coexist."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Client({self.base_url!r})"

    def _request(self, method: str, path: str, body: Any = None) -> requests.Response:
        try:
            resp = requests.request(method, self.base_url + path, json=body, timeout=self.timeout,
                                    headers={"User-Agent": USER_AGENT})
        except requests.RequestException as exc:
            raise ToxiproxyError(method, path, None, f"no answer from {self.base_url}: {exc}") from exc
        if resp.status_code >= 400:
            try:
                message = str(resp.json().get("error", resp.text))
            except ValueError:
                message = resp.text.strip()
            raise ToxiproxyError(method, path, resp.status_code, message)
        return resp

    # -- server ----------------------------------------------------------------------------
    def version(self) -> str:
        """The server's version string ("git" for a ``go install`` build; do not gate on it)."""
        resp = self._request("GET", "/version")
        try:
            return str(resp.json()["version"])
        except (ValueError, KeyError, TypeError):
            return resp.text.strip()  # servers before 2.7.0 answer plain text

    def reset(self) -> None:
        """Enable every proxy and remove every toxic (removing a ``timeout`` toxic closes its links)."""
        self._request("POST", "/reset")

    # -- proxies ---------------------------------------------------------------------------
    def proxies(self) -> dict[str, Proxy]:
        return {k: Proxy.from_json(v) for k, v in self._request("GET", "/proxies").json().items()}

    def get_proxy(self, name: str) -> Proxy:
        return Proxy.from_json(self._request("GET", f"/proxies/{name}").json())

    def create_proxy(self, name: str, upstream: str, listen: str = "127.0.0.1:0",
                     enabled: bool = True) -> Proxy:
        """Create a proxy; the returned ``listen`` carries the port the server actually bound."""
        body = {"name": name, "upstream": upstream, "listen": listen, "enabled": enabled}
        return Proxy.from_json(self._request("POST", "/proxies", body).json())

    def delete_proxy(self, proxy: Proxy | str, missing_ok: bool = False) -> None:
        """Delete a proxy: its listener stops and all its connections are closed."""
        try:
            self._request("DELETE", f"/proxies/{_name(proxy)}")
        except ToxiproxyError as exc:
            if not (missing_ok and exc.status == 404):
                raise

    def set_enabled(self, proxy: Proxy | str, enabled: bool) -> Proxy:
        """Disable = stop listening and close every connection; enable = listen again on the same port."""
        return Proxy.from_json(self._request("PATCH", f"/proxies/{_name(proxy)}", {"enabled": enabled}).json())

    # -- toxics ----------------------------------------------------------------------------
    def toxics(self, proxy: Proxy | str) -> list[Toxic]:
        return [Toxic.from_json(t) for t in self._request("GET", f"/proxies/{_name(proxy)}/toxics").json()]

    def add_toxic(self, proxy: Proxy | str, type: str, stream: str = "downstream",
                  attributes: dict[str, Any] | None = None, name: str | None = None,
                  toxicity: float = 1.0) -> Toxic:
        body: dict[str, Any] = {"type": type, "stream": stream, "toxicity": toxicity,
                                "attributes": attributes or {}}
        if name:
            body["name"] = name
        return Toxic.from_json(self._request("POST", f"/proxies/{_name(proxy)}/toxics", body).json())

    def update_toxic(self, proxy: Proxy | str, name: str, attributes: dict[str, Any] | None = None,
                     toxicity: float | None = None) -> Toxic:
        """Change a toxic in place (only attributes and toxicity can change); live links re-run it."""
        body: dict[str, Any] = {}
        if attributes is not None:
            body["attributes"] = attributes
        if toxicity is not None:
            body["toxicity"] = toxicity
        return Toxic.from_json(self._request("PATCH", f"/proxies/{_name(proxy)}/toxics/{name}", body).json())

    def remove_toxic(self, proxy: Proxy | str, name: str) -> bool:
        """Remove a toxic. Returns False if it was already gone (404: e.g. a ``reset()`` got there first)."""
        try:
            self._request("DELETE", f"/proxies/{_name(proxy)}/toxics/{name}")
        except ToxiproxyError as exc:
            if exc.status == 404:
                return False
            raise
        return True
