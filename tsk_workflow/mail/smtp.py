"""Sending rendered mail over SMTP with aiosmtplib.

:func:`send_batch` sends a batch and says, per message, what happened:

- ``sent``: the server accepted the message (2xx); ``reply`` is its answer, e.g. ``250 OK``;
- ``temporary``: try again later (see :func:`backoff`): a 4xx answer, a refused, dropped or
  timed-out connection, or a failure while connecting (STARTTLS, login, greeting: a problem
  of the server or of the settings, not of the message, so fixing it lets the message through);
- ``permanent``: do not retry: a 5xx answer to the message (sender, recipient or content
  refused), or a message that cannot be sent at all (a malformed address); ``reply`` keeps why.

Connections. SMTP is sequential on one connection (aiosmtplib has no pipelining), so one message
is in flight per connection. A batch of ``n`` messages uses ``ceil(n / per_connection)``
connections (``per_connection`` is 100 by default) but never more than ``max_in_flight``, and
spreads the messages evenly over them in consecutive shares, each sent in order. A batch of up
to 100 messages therefore goes over ONE connection, and at most ``max_in_flight`` messages are
ever in flight. If the server drops
the connection, the message being sent is ``temporary`` and the next one reconnects; if
connecting fails, the rest of that share is ``temporary`` without further attempts, so a server
that is down costs one connection attempt per share, not one per message.

Each message goes as bytes from :func:`~.message.mail_bytes` with ``sendmail``, built once per
attempt: 7-bit bodies, so only a non-ASCII address asks the server for SMTPUTF8.

Delivery is at least once: a connection lost after the server took the message but before its
answer arrived gives ``temporary``, and the retry sends it again, with the same Message-ID.

Progress. ``on_result``, when given, is called with each result as soon as it is known (in the
event loop, so it should be quick): the outbox marks what was sent as it goes, so that a crash
while sending re-sends only what was not yet marked, not the whole batch. :class:`Hooks` let
the caller steer a batch as it goes: ``may_send`` is asked before each message (no: the message
is ``deferred``, not tried), ``on_tick`` is called every :data:`TICK` seconds whatever the
server does (the outbox renews its lease there), and ``stopping`` says the process is stopping:
no message is started any more, the messages in flight get ``grace`` seconds to be answered,
then their connections are dropped and they are ``deferred`` too (whether the server kept such
a message is not known: it may be sent again, with the same Message-ID).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from email.errors import MessageError
from itertools import pairwise
from typing import Any, Literal

from aiosmtplib import (
    SMTP,
    SMTPException,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPTimeoutError,
)

from tsk_workflow import i18n
from tsk_workflow.errors import TskError
from tsk_workflow.i18n import N_, _
from tsk_workflow.mail.message import OutgoingMail, mail_bytes, sender_address

Status = Literal["sent", "temporary", "permanent", "held", "deferred"]

ENV_VARS = {
    "host": "TSK_SMTP_HOST",
    "port": "TSK_SMTP_PORT",
    "starttls": "TSK_SMTP_STARTTLS",
    "tls": "TSK_SMTP_TLS",
    "user": "TSK_SMTP_USER",
    "sender": "TSK_MAIL_FROM",
    "timeout": "TSK_SMTP_TIMEOUT",
}
PASSWORD_VAR = "TSK_SMTP_PASSWORD"
SERVER_VARS = tuple(var for key, var in ENV_VARS.items() if key != "timeout")
"""The variables that say where mail goes (not the password, not the time-out)."""
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=6)


class SmtpConfigError(TskError):
    """The mail settings are wrong (in the environment or the organisation file)."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send. ``tls`` is implicit TLS (port 465), ``starttls`` an upgrade.

    ``sender`` is the envelope sender (MAIL FROM, where bounces go) of every message, and the
    From the outbox is meant to put in each :class:`OutgoingMail`. ``timeout`` is in seconds,
    per SMTP command.
    """

    host: str = "localhost"
    port: int = 25
    starttls: bool = False
    tls: bool = False
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "tsk-workflow@localhost"
    timeout: float = 30.0

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], defaults: Mapping[str, Any] | None = None
    ) -> SmtpSettings:
        """Settings from the environment over ``defaults`` (the organisation file's mail part).

        Variables: ``TSK_SMTP_HOST``, ``TSK_SMTP_PORT``, ``TSK_SMTP_STARTTLS``, ``TSK_SMTP_TLS``
        (true/false, also yes/no, on/off, 1/0), ``TSK_SMTP_USER``, ``TSK_SMTP_PASSWORD``,
        ``TSK_MAIL_FROM`` and ``TSK_SMTP_TIMEOUT`` (seconds). Errors are
        :class:`SmtpConfigError`, naming the variable or key.

        ``defaults`` may have the keys ``host``, ``port``, ``starttls``, ``tls``, ``user``,
        ``sender`` (or ``from``) and ``timeout``; ``None`` means unset. The password comes only
        from ``TSK_SMTP_PASSWORD``: one in ``defaults`` is refused. An empty variable counts as
        unset. Without a port: 465 with TLS, 587 with STARTTLS, else 25.
        """
        raw = _defaults(defaults or {})
        raw.update({key: (env[var], var) for key, var in ENV_VARS.items() if env.get(var)})
        return _settings(raw, env.get(PASSWORD_VAR) or None)


def _defaults(defaults: Mapping[str, Any]) -> dict[str, tuple[Any, str]]:
    """The organisation file's values, each with where it came from (for error messages)."""
    if defaults.get("password"):
        raise SmtpConfigError(
            _("the SMTP password must come from {variable}, not a file").format(
                variable=PASSWORD_VAR
            )
        )
    found: dict[str, tuple[Any, str]] = {}
    for key, value in defaults.items():
        name = "sender" if key == "from" else key
        if name not in ENV_VARS and key != "password":
            raise SmtpConfigError(
                _("unknown mail setting {key} in the organisation file").format(key=repr(key))
            )
        if value is not None and key != "password":
            found[name] = (
                value,
                _("mail setting {key} in the organisation file").format(key=repr(key)),
            )
    return found


def _settings(raw: Mapping[str, tuple[Any, str]], password: str | None) -> SmtpSettings:
    tls = _flag(raw.get("tls"))
    starttls = _flag(raw.get("starttls"))
    if tls and starttls:
        raise SmtpConfigError(
            _("TLS and STARTTLS cannot both be on ({variables})").format(
                variables=f"{ENV_VARS['tls']}, {ENV_VARS['starttls']}"
            )
        )
    user = _text(raw.get("user"))
    if user and not password:
        raise SmtpConfigError(
            _("the SMTP user {user} is set but {variable} is not").format(
                user=repr(user), variable=PASSWORD_VAR
            )
        )
    default_port = 465 if tls else 587 if starttls else 25
    return SmtpSettings(
        host=_text(raw.get("host")) or "localhost",
        port=_port(raw.get("port")) or default_port,
        starttls=starttls,
        tls=tls,
        user=user,
        password=password if user else None,
        sender=_sender(raw.get("sender")),
        timeout=_timeout(raw.get("timeout")) or SmtpSettings.timeout,
    )


def _text(item: tuple[Any, str] | None) -> str | None:
    return (str(item[0]).strip() or None) if item else None


def _flag(item: tuple[Any, str] | None) -> bool:
    if item is None or isinstance(item[0], bool):
        return bool(item and item[0])
    word = str(item[0]).strip().lower()
    if word not in _TRUE | _FALSE:
        raise SmtpConfigError(
            _("{source} must be true or false, not {value}").format(
                source=item[1], value=repr(item[0])
            )
        )
    return word in _TRUE


def _port(item: tuple[Any, str] | None) -> int | None:
    if item is None:
        return None
    text = str(item[0]).strip()
    if isinstance(item[0], bool) or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise SmtpConfigError(
            _("{source} must be a port number (1-65535), not {value}").format(
                source=item[1], value=repr(item[0])
            )
        )
    return int(text)


def _timeout(item: tuple[Any, str] | None) -> float | None:
    if item is None:
        return None
    try:
        seconds = float(item[0])
    except (TypeError, ValueError):
        seconds = 0.0
    if isinstance(item[0], bool) or not 0 < seconds <= 3600:
        raise SmtpConfigError(
            _("{source} must be seconds (0-3600), not {value}").format(
                source=item[1], value=repr(item[0])
            )
        )
    return seconds


def _sender(item: tuple[Any, str] | None) -> str:
    sender = _text(item) or SmtpSettings.sender
    try:
        sender_address(sender)
    except ValueError as exc:
        source = item[1] if item else _("the sender")
        raise SmtpConfigError(f"{source}: {exc}") from exc
    return sender


@dataclass(frozen=True)
class SendResult:
    """What became of one message: ``sent``, ``temporary`` or ``permanent``, and why; ``held``
    is the outbox's own, for a message it would not send (see ``tsk_workflow.mail.outbox``)."""

    message_id: str
    status: Status
    reply: str
    unreachable: str | None = None
    """Set when no connection could be made, so no server said anything: why, one of
    ``UNREACHABLE``'s keys."""
    answered: bool = True
    """False when the server gave no answer: no connection, a time-out, a dropped connection
    (what a circuit breaker counts); a 4xx or 5xx is an answer."""


UNREACHABLE = {
    "refused": N_("no server accepts connections there (connection refused)"),
    "unknown_host": N_("the host name is unknown"),
    "timeout": N_("the server did not answer in time"),
    "tls": N_("the TLS connection could not be set up"),
    "other": N_("a network error"),
}
"""Why a connection failed (translated when shown)."""


def no_connection(settings: SmtpSettings, result: SendResult, lang: str) -> str:
    """``result``'s failure to connect in words, in ``lang``: where, why and the system's own
    reason (``tsk mail test``)."""
    why = UNREACHABLE.get(result.unreachable or "other", UNREACHABLE["other"])
    with i18n.speaking(lang):
        return _("No connection could be made to {where}: {why} ({reply})").format(
            where=f"{settings.host}:{settings.port}", why=_(why), reply=result.reply
        )


def _unreachable(exc: BaseException) -> str:
    """Which of ``UNREACHABLE`` a failure to connect is (aiosmtplib keeps the OS error as the
    cause)."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if isinstance(exc, SMTPTimeoutError) or isinstance(cause, TimeoutError):
        return "timeout"
    if isinstance(cause, socket.gaierror):
        return "unknown_host"
    if isinstance(cause, ConnectionRefusedError):
        return "refused"
    if isinstance(cause, ssl.SSLError):
        return "tls"
    return "other"


def backoff(attempts: int) -> timedelta:
    """How long to wait after ``attempts`` failed attempts: 1, 2, 4, 8 ... minutes, at most 6 h.

    No jitter, on purpose: the outbox is one queue sent by one claimer at a time, so there is no
    herd of clients to spread out, and fixed values keep retries predictable and testable.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    delay: timedelta = BACKOFF_FIRST * 2 ** min(attempts - 1, 20)
    return min(delay, BACKOFF_CAP)


ResultSink = Callable[[SendResult], None]
"""Told of each result as soon as it is known (see "Progress" in the module docstring)."""

TICK = 0.25
"""Seconds between two calls of :attr:`Hooks.on_tick` while a batch is sent."""


@dataclass(frozen=True)
class Hooks:
    """How the caller steers a batch while it is sent (see "Progress" in the module docstring).
    Each is called in the event loop, so it should be quick."""

    may_send: Callable[[OutgoingMail], bool] | None = None
    on_result: ResultSink | None = None
    on_tick: Callable[[], None] | None = None
    stopping: Callable[[], bool] | None = None
    grace: float = 5.0
    """Seconds the messages in flight get once ``stopping`` says so."""


def deferred(mail: OutgoingMail, why: str) -> SendResult:
    """A message not tried (or given up in flight), with why."""
    return SendResult(mail.message_id, "deferred", why)


async def send_batch(
    settings: SmtpSettings,
    mails: Sequence[OutgoingMail],
    max_in_flight: int = 10,
    *,
    per_connection: int = 100,
    on_result: ResultSink | None = None,
    hooks: Hooks | None = None,
) -> list[SendResult]:
    """Send ``mails``; one result per mail, in the same order (see the module docstring)."""
    if max_in_flight < 1 or per_connection < 1:
        raise ValueError("max_in_flight and per_connection must be at least 1")
    hooks = hooks or Hooks(on_result=on_result)
    shares = _shares(list(mails), max_in_flight, per_connection)
    results: list[list[SendResult]] = [[] for _ in shares]
    tasks = [
        asyncio.create_task(_send_share(settings, share, done, hooks))
        for share, done in zip(shares, results, strict=True)
    ]
    if tasks:
        await _watch(tasks, hooks)
    for share, done in zip(shares, results, strict=True):
        for mail in share[len(done) :]:  # given up in flight on a stop
            done.append(deferred(mail, _("stopped while sending")))
            if hooks.on_result is not None:
                hooks.on_result(done[-1])
    return [result for done in results for result in done]


async def _watch(tasks: list[asyncio.Task[None]], hooks: Hooks) -> None:
    """Wait for ``tasks``, calling ``on_tick`` as time goes; on a stop, wait ``grace`` more
    seconds for them, then cancel what is still sending."""
    pending = set(tasks)
    while pending:
        _done, pending = await asyncio.wait(pending, timeout=TICK)
        if hooks.on_tick is not None:
            hooks.on_tick()
        if pending and hooks.stopping is not None and hooks.stopping():
            _done, pending = await asyncio.wait(pending, timeout=hooks.grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            pending = set()
    for task in tasks:
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error


def send_batch_sync(
    settings: SmtpSettings,
    mails: Sequence[OutgoingMail],
    max_in_flight: int = 10,
    *,
    per_connection: int = 100,
    on_result: ResultSink | None = None,
    hooks: Hooks | None = None,
) -> list[SendResult]:
    """:func:`send_batch` for synchronous callers (not from inside a running event loop)."""
    return asyncio.run(
        send_batch(
            settings,
            mails,
            max_in_flight,
            per_connection=per_connection,
            on_result=on_result,
            hooks=hooks,
        )
    )


def _shares(
    mails: list[OutgoingMail], max_in_flight: int, per_connection: int
) -> list[list[OutgoingMail]]:
    """``mails`` cut into consecutive, nearly equal shares, one per connection."""
    count = min(max_in_flight, -(-len(mails) // per_connection))
    size, extra = divmod(len(mails), count) if count else (0, 0)
    bounds = [i * size + min(i, extra) for i in range(count + 1)]
    return [mails[start:end] for start, end in pairwise(bounds)]


async def _send_share(
    settings: SmtpSettings, mails: list[OutgoingMail], results: list[SendResult], hooks: Hooks
) -> None:
    """Send ``mails`` in turn on one connection, appending each result to ``results``."""
    connection = _Connection(settings)
    try:
        for mail in mails:
            if hooks.stopping is not None and hooks.stopping():
                results.append(deferred(mail, _("stopped before sending")))
            elif hooks.may_send is not None and not hooks.may_send(mail):
                results.append(deferred(mail, _("not tried")))
            else:
                results.append(await connection.send(mail))
            if hooks.on_result is not None:
                hooks.on_result(results[-1])
    except asyncio.CancelledError:
        connection.abort()  # no QUIT: the server may not answer it either
        raise
    await connection.close()


class _Connection:
    """One SMTP connection, opened on first use and again after the server dropped it."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.sender = sender_address(settings.sender).addr_spec
        self.smtp: SMTP | None = None
        self.unreachable: str | None = None
        self.why: str | None = None

    async def send(self, mail: OutgoingMail) -> SendResult:
        try:
            data = mail_bytes(mail)
        except (ValueError, MessageError) as exc:
            return SendResult(
                mail.message_id, "permanent", _("cannot be sent: {reason}").format(reason=exc)
            )
        smtp = await self._connected()
        if smtp is None:
            return SendResult(
                mail.message_id, "temporary", self.unreachable or "", self.why, answered=False
            )
        return await self._transact(smtp, mail.message_id, data, mail.recipient)

    async def _transact(self, smtp: SMTP, message_id: str, data: bytes, to: str) -> SendResult:
        # The bodies are 7-bit, so only a non-ASCII address (envelope or header) needs SMTPUTF8;
        # a server without it refuses (SMTPNotSupported), as send_message would.
        utf8 = not (data.isascii() and self.sender.isascii() and to.isascii())
        try:
            _errors, reply = await smtp.sendmail(
                self.sender, [to], data, mail_options=["SMTPUTF8"] if utf8 else None
            )
        except SMTPRecipientsRefused as exc:
            refused = exc.recipients[0]
            return _by_code(message_id, refused.code, f"{refused.code} {refused.message}")
        except SMTPResponseException as exc:
            return _by_code(message_id, exc.code, f"{exc.code} {exc.message}")
        except (SMTPNotSupported, ValueError) as exc:
            return SendResult(message_id, "permanent", str(exc))
        except (SMTPException, OSError) as exc:  # a time-out or a dropped connection
            self._drop()
            return SendResult(message_id, "temporary", _describe(exc), answered=False)
        return SendResult(message_id, "sent", f"250 {reply}")

    async def _connected(self) -> SMTP | None:
        """The open connection, a new one, or None when the server cannot be reached."""
        if self.unreachable is not None:
            return None
        if self.smtp is not None and self.smtp.is_connected:
            return self.smtp
        self.smtp = _client(self.settings)
        try:
            await self.smtp.connect()
        except (SMTPException, OSError) as exc:
            self._drop()
            self.unreachable, self.why = _describe(exc), _unreachable(exc)
            return None
        return self.smtp

    def _drop(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
        self.smtp = None

    def abort(self) -> None:
        """Drop the connection at once, without a word to the server."""
        self._drop()

    async def close(self) -> None:
        """Say QUIT if still connected; a failure to do so is of no consequence."""
        if self.smtp is not None and self.smtp.is_connected:
            try:
                await self.smtp.quit()
            except (SMTPException, OSError):
                self.smtp.close()
        self.smtp = None


def _client(settings: SmtpSettings) -> SMTP:
    return SMTP(
        hostname=settings.host,
        port=settings.port,
        use_tls=settings.tls,
        start_tls=settings.starttls,
        username=settings.user,
        password=settings.password,
        timeout=settings.timeout,
    )


def _by_code(message_id: str, code: int, reply: str) -> SendResult:
    status: Status = "permanent" if 500 <= code < 600 else "temporary"
    return SendResult(message_id, "sent" if 200 <= code < 300 else status, reply)


def _describe(exc: BaseException) -> str:
    """A one-line reason: the server's ``code text``, aiosmtplib's message, or the OS error."""
    if isinstance(exc, SMTPResponseException):
        return f"{exc.code} {exc.message}"
    if isinstance(exc, SMTPException):
        return exc.message
    return f"{type(exc).__name__}: {exc}"
