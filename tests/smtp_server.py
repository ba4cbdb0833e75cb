"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests and the demo, and what it received.

    server = SmtpServer()           # picks a free port
    server.start()
    server.respond("451 4.3.0 Try again later")            # next message: 451, then 250 again
    server.respond(then="550 5.1.1 No such user")          # every message from now on: 550
    server.respond("250 OK", DROP)                         # 2nd message: connection dropped
    server.stop(); server.start()   # down, then up again on the same port
    server.messages[0].message["Subject"]

Replies are scripted per stage, ``"data"`` (the answer to the message, the default) or ``"rcpt"``
(the answer to RCPT TO). :data:`DROP` closes the connection without answering; :data:`HANG`
never answers (the client's time-out fires). ``connections`` counts the clients' EHLOs, i.e.
SMTP sessions (the controller's own start-up probe sends none). ``server.handler.delay`` makes
a slow server: that many seconds before each answer to a message. ``hanging`` counts the
messages waiting at this moment for an answer that never comes.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import deque
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Literal

from aiosmtpd.controller import Controller

Stage = Literal["data", "rcpt"]
DROP = "DROP"
HANG = "HANG"
OK = "250 OK"


@dataclass(frozen=True)
class Received:
    """One accepted message: the envelope and the parsed mail."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes


class RecordingHandler:
    """aiosmtpd handler: answers as scripted, keeps what it accepts, counts sessions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[Received] = []
        self.connections = 0
        self._script: dict[Stage, deque[str]] = {"data": deque(), "rcpt": deque()}
        self._then: dict[Stage, str] = {"data": OK, "rcpt": OK}
        self.delay = 0.0
        self.hanging = 0

    def respond(self, replies: tuple[str, ...], then: str | None, stage: Stage) -> None:
        with self._lock:
            self._script[stage] = deque(replies)
            if then is not None:
                self._then[stage] = then

    def next_reply(self, stage: Stage) -> str:
        with self._lock:
            script = self._script[stage]
            return script.popleft() if script else self._then[stage]

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        with self._lock:
            self.connections += 1
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        reply = await self._answer(server, "rcpt")
        if reply.startswith("2"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        reply = await self._answer(server, "data")
        if reply.startswith("2"):
            self._keep(envelope)
        return reply

    async def _answer(self, server: Any, stage: Stage) -> str:
        reply = self.next_reply(stage)
        if reply == HANG:
            with self._lock:
                self.hanging += 1
            try:
                await asyncio.Event().wait()  # cancelled when the client goes or the server stops
            finally:
                with self._lock:
                    self.hanging -= 1
        if reply == DROP:
            server.transport.close()
            return "421 4.4.2 Connection dropped"  # never arrives: the transport is closed
        return reply

    def _keep(self, envelope: Any) -> None:
        raw = bytes(envelope.original_content)
        # Parsed with Python's line endings, so bodies compare equal to the strings sent.
        message = message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.default)
        assert isinstance(message, EmailMessage)
        received = Received(envelope.mail_from, tuple(envelope.rcpt_tos), message, raw)
        with self._lock:
            self.messages.append(received)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class SmtpServer:
    """An aiosmtpd server in a thread, which can be stopped and started again on its port."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, **smtp: Any) -> None:
        """``smtp``: keyword arguments for aiosmtpd's ``SMTP`` (e.g. ``authenticator``)."""
        self.host = host
        self.port = port or free_port(host)
        self.handler = RecordingHandler()
        self._smtp_kwargs = smtp
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        if self._controller is None:
            # A stopped controller's loop is closed, so each start gets a new controller.
            self._controller = Controller(
                self.handler, hostname=self.host, port=self.port, **self._smtp_kwargs
            )
            self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    @property
    def messages(self) -> list[Received]:
        return list(self.handler.messages)

    @property
    def connections(self) -> int:
        return self.handler.connections

    def respond(self, *replies: str, then: str | None = None, stage: Stage = "data") -> None:
        """Answer the next messages with ``replies`` in turn, then with ``then``.

        ``then`` stays until changed (initially ``250 OK``).
        """
        self.handler.respond(replies, then, stage)

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
