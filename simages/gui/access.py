"""Only the owner acts: a secret token for an app served beyond this machine, and no cross-site requests.

`AccessGuard` is an ASGI middleware around the whole app (pages, /image, downloads, and NiceGUI's event
channel /_nicegui_ws, through which every click, including the triage page's Apply, arrives):

- Cross-site requests are refused always, also on 127.0.0.1: a request that carries an Origin (or, for a
  state-changing method, a Referer) naming another site than the Host it was sent to gets 403. Browsers
  send Origin with every WebSocket handshake and every cross-origin POST/fetch, so a web page elsewhere
  cannot drive the app's actions (cross-site WebSocket hijacking, CSRF).
- With a token (`simages serve` bound to any address but 127.0.0.1 makes one, as Jupyter does), every
  request needs it: `?token=...` once (answered with a cookie and a redirect to the same address without
  the token), then the cookie (HttpOnly, SameSite=Strict, named after the port). Without it: 403 and a
  page saying where the address with the token is printed.
Token comparison is constant-time (hmac.compare_digest).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]

LOCAL_ONLY = "127.0.0.1"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def needs_token(host: str) -> bool:
    """Whether serving on `host` needs a token: every address but 127.0.0.1 (the only one where nobody else
    can connect), 'localhost' included since it may resolve to more than 127.0.0.1."""
    return host != LOCAL_ONLY


def new_token() -> str:
    return secrets.token_urlsafe(24)


def cookie_name(port: int) -> str:
    # Cookies are per host, not per port: two apps on one machine must not share (or overwrite) one.
    return f"simages_token_{port}"


class AccessGuard:
    """ASGI middleware: same-origin check always, token check when `token` is set."""

    def __init__(self, app: ASGIApp, token: str | None = None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if not _same_origin(scope, headers):
            await _refuse(scope, send, "Refused: this request comes from another site. SIMages acts only on "
                          "requests from its own pages.")
            return
        if self.token is None:
            await self.app(scope, receive, send)
            return
        port = int((scope.get("server") or ("", 0))[1] or 0)
        name = cookie_name(port)
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = next((value for key, value in query if key == "token"), None)
        if given is not None and _matches(given, self.token):
            if scope["type"] == "http" and scope.get("method") in ("GET", "HEAD"):
                # The same address without the token, byte for byte (names may hold any bytes).
                raw = scope.get("query_string", b"")
                rest = b"&".join(part for part in raw.split(b"&") if part and not part.startswith(b"token="))
                path = scope.get("raw_path") or scope["path"].encode("utf-8")
                await _redirect_with_cookie(send, path + (b"?" + rest if rest else b""), name, self.token)
                return
            await self.app(scope, receive, send)
            return
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header is no token; SimpleCookie raises its own error types
            cookie = SimpleCookie()
        if name in cookie and _matches(cookie[name].value, self.token):
            await self.app(scope, receive, send)
            return
        await _refuse(scope, send, "This SIMages is shared on the network and needs its token: open the "
                      "address with ?token=... that `simages serve` printed when it started.")


def _matches(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode("utf-8"))


def _same_origin(scope: Scope, headers: dict[str, str]) -> bool:
    """False when the request names another site than the one it was sent to."""
    host = headers.get("host", "")
    origin = headers.get("origin")
    if origin is not None:
        return origin != "null" and urlsplit(origin).netloc == host
    if scope["type"] == "http" and scope.get("method") not in _SAFE_METHODS:
        referer = headers.get("referer")
        if referer is not None:
            return urlsplit(referer).netloc == host
    return True


async def _refuse(scope: Scope, send: Any, message: str) -> None:
    if scope["type"] == "websocket":
        # Before accepting: an HTTP 403 answer to the handshake (ASGI websocket.close before accept).
        await send({"type": "websocket.close", "code": 1008})
        return
    body = (f"<!doctype html><title>SIMages: not allowed</title><body style='font-family:sans-serif;"
            f"padding:2em'><h2>Not allowed</h2><p>{message}</p></body>").encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"text/html; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _redirect_with_cookie(send: Any, location: bytes, name: str, token: str) -> None:
    cookie = f"{name}={token}; Path=/; HttpOnly; SameSite=Strict"
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", location),
                            (b"set-cookie", cookie.encode("latin-1")), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
