"""A real local SMTP server (aiosmtpd on 127.0.0.1) that writes every message to a maildir."""

from __future__ import annotations

import mailbox
import socket
import threading
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller


class MaildirHandler:
    """Keeps each accepted message in a maildir and counts messages per recipient."""

    def __init__(self, folder: Path) -> None:
        self.maildir = mailbox.Maildir(str(folder), create=True)
        self.per_recipient: Counter[str] = Counter()
        self.message_ids: Counter[str] = Counter()
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        message = mailbox.MaildirMessage(content)
        with self._lock:
            self.maildir.add(message)
            for recipient in envelope.rcpt_tos:
                self.per_recipient[recipient.lower()] += 1
            self.message_ids[str(message.get("Message-ID", ""))] += 1
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalSmtpServer:
    """``with LocalSmtpServer(folder) as server:`` serves on 127.0.0.1:``server.port``."""

    def __init__(self, folder: Path) -> None:
        self.handler = MaildirHandler(folder)
        self.port = free_port()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> LocalSmtpServer:
        self._controller.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._controller.stop()

    @property
    def environment(self) -> dict[str, str]:
        return {"TSK_SMTP_HOST": "127.0.0.1", "TSK_SMTP_PORT": str(self.port)}
