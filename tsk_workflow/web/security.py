"""Headers on every answer: what a browser may load, frame and guess.

The pages load scripts, styles and images from the service alone, with no inline script or
style (``script-src 'self'`` without ``'unsafe-inline'``), may not be framed
(``frame-ancestors 'none'``), post forms only to the service, and are not sniffed for another
type. Images may come from one more origin, the tile server of the lägesbild's map
(``TSK_MAP_TILES``), and from no other. Behind TLS (``TSK_BASE_URL`` on https) browsers are told to come back over TLS only
(HSTS). Nothing personal is cached by the browser or a proxy on the way.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def csp(tile_origin: str | None = None) -> str:
    """The content security policy; ``tile_origin`` is the map's tile server, if any."""
    images = "img-src 'self' data:" + (f" {tile_origin}" if tile_origin else "")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            images,
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


CSP = csp()
"""The policy without a tile server."""

HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeaders:
    """A pure ASGI middleware: the headers above on every response."""

    def __init__(self, app: ASGIApp, *, tls: bool, tile_origin: str | None = None) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", csp(tile_origin).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(self)"),
        ]
        if tls:
            self.headers.append((b"strict-transport-security", HSTS.encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _value in headers}
                headers += [(n, v) for n, v in self.headers if n not in present]
                if b"cache-control" not in present and not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
