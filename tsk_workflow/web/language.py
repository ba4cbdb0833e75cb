"""The language of a request: ``?lang=sv|en`` (kept in the session), else the session's (the
person's own, from the organisation, at sign-in), else the browser's ``Accept-Language``, else
Swedish. Pages and problems speak it; a pure ASGI middleware, so that the routes (run in a
thread of their own) see it too.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from tsk_workflow import i18n


class Language:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with i18n.speaking(chosen(scope)):
            await self.app(scope, receive, send)


def chosen(scope: Scope) -> str:
    asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", [None])[0]
    session = scope.get("session")
    if asked in i18n.LANGUAGES:
        if isinstance(session, dict):
            session["lang"] = asked
        return str(asked)
    if isinstance(session, dict) and session.get("lang") in i18n.LANGUAGES:
        return str(session["lang"])
    for name, value in scope.get("headers", []):
        if name == b"accept-language":
            return from_header(value.decode("latin-1"))
    return i18n.DEFAULT


def from_header(header: str) -> str:
    """The language of ours the browser prefers most (``en-GB,en;q=0.9,sv;q=0.8``: en)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in i18n.LANGUAGES and quality > 0:
            ranked.append((-quality, index, primary))
    return min(ranked)[2] if ranked else i18n.DEFAULT
