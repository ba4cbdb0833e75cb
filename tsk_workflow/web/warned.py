"""The warnings of an act that went through (``errors.warn``: a personal identity number an
organisation lets through, ``engine.privacy``), on every answer of the service: a header
``X-Tsk-Warning`` each, its text percent-encoded UTF-8 (a header holds no other text). The
pages show them in words too (``page_tasks``, ``page_report``)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tsk_workflow.errors import collecting_warnings

HEADER = b"x-tsk-warning"


class Warnings:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with collecting_warnings() as warnings:

            async def sending(message: Message) -> None:
                if message["type"] == "http.response.start" and warnings:
                    headers = list(message.get("headers", []))
                    headers += [(HEADER, quote(w, safe=" ,.:;()'").encode()) for w in warnings]
                    message = {**message, "headers": headers}
                await send(message)

            await self.app(scope, receive, sending)
