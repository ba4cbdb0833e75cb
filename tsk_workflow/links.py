"""Signed task links in mail: ``{TSK_BASE_URL}/t/{token}``, one person's way to one task.

A task mail carries a link to its task for its recipient (``tsk_workflow.mail.outbox`` makes it
when the mail is rendered, from the outbox row: recipient, task, and the time the mail was
queued as ``issued_at``; nothing of it is stored). Following it, the person sees that task and
may complete it without signing in (the service's ``GET/POST /t/{token}``); the engine records
the act as that person with ``via: "e-postlänk"`` (:data:`VIA`).

The token is the claims (municipality, person, task, issued at, expires at) signed with
HMAC-SHA256 by itsdangerous' ``URLSafeSerializer`` under the salt :data:`SALT`, so the key
signing session cookies can sign links too without one standing for the other. The expiry is
in the signed claims, fixed when the mail is made (``TSK_LINK_DAYS`` later, 14 days by
default), and :func:`read_token` checks it against the ``now`` it is given: no clock is read
here. A changed character, a token made with another key (the key was replaced) or claims of
the wrong shape are ``tampered``; a token past its expiry is ``expired``
(:class:`LinkRefused`). A link used again after its task is done is ``replayed``: the service
decides that from the task (:func:`replayed`), and records every refusal
(``Engine.refuse_link``).

Anyone holding the link can do what the person can do with that one task until it expires or
the task is done: a forwarded mail forwards the task. ``docs/mail-links.md`` says so for
people, with the settings (:func:`link_settings`) and how to turn links off.

Pure: no store, no clock; :func:`link_settings` reads the key file it is pointed to.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import stat
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from itsdangerous import BadData, URLSafeSerializer

from tsk_workflow.errors import Refused, TskError
from tsk_workflow.i18n import _

ENV_BASE_URL = "TSK_BASE_URL"
ENV_KEY = "TSK_SECRET_KEY"
ENV_KEY_FILE = "TSK_SECRET_KEY_FILE"
ENV_DAYS = "TSK_LINK_DAYS"
ENV_SWITCH = "TSK_MAIL_LINKS"

DAYS = 14
"""How long a link works by default, from the time its mail was queued."""
MAX_DAYS = 365
MIN_KEY_LENGTH = 32
"""The shortest key taken, in bytes (``secrets.token_urlsafe(32)`` gives 43)."""
SALT = "tsk-task-link"
VIA = "e-postlänk"
"""What the audit event of an act done through a link says in its payload's ``via`` (stored as
it is, whatever the language: docs/translating.md)."""
PATH = "/t/"
"""Where the service answers a link: ``{base_url}/t/{token}``."""
FORMAT = 1
"""The first item of the signed claims: the shape of what follows."""

_OFF = {"off", "false", "0", "no"}
_ON = {"on", "true", "1", "yes", ""}

Kind = Literal["tampered", "expired", "replayed"]
KINDS: tuple[Kind, ...] = ("tampered", "expired", "replayed")
"""Why a link is refused; the action recorded in ``refused_acts`` is ``link.<kind>``."""
State = Literal["open", "done", "cancelled", "reassigned"]


class LinkConfigError(TskError):
    """The link settings in the environment are wrong."""


@dataclass(frozen=True)
class LinkSettings:
    """Where links point (``base_url``), the key that signs them, and for how many days a link
    works."""

    base_url: str
    key: bytes = field(repr=False)
    days: int = DAYS

    def __post_init__(self) -> None:
        if len(self.key) < MIN_KEY_LENGTH:
            raise LinkConfigError(_short_key(ENV_KEY))
        if not 1 <= self.days <= MAX_DAYS:
            raise LinkConfigError(_bad_days(ENV_DAYS, str(self.days)))

    @property
    def lifetime(self) -> dt.timedelta:
        return dt.timedelta(days=self.days)


@dataclass(frozen=True)
class LinkClaims:
    """What a link's token says: whose (``person``), to which task of which municipality, when
    it was made and until when it works; ``token_id`` names the token in records (a digest,
    not the token)."""

    municipality: str
    person: str
    task: int
    issued_at: dt.datetime
    expires_at: dt.datetime
    token_id: str


class LinkRefused(Refused):
    """A link that is not let through: ``kind`` is ``tampered``, ``expired`` or ``replayed``;
    the message is for the person who followed it. ``claims`` are what the token says when it
    is genuine (an expired or replayed one), else None; ``token_id`` names the token."""

    def __init__(
        self, kind: Kind, message: str, token_id: str, claims: LinkClaims | None = None
    ) -> None:
        super().__init__(message)
        self.kind: Kind = kind
        self.token_id = token_id
        self.claims = claims


def link_settings(environ: Mapping[str, str]) -> LinkSettings | None:
    """The link settings of ``environ``, or None when mail carries no links.

    ``TSK_BASE_URL`` (``https://tsk.example.org``: where ``tsk serve`` is reached) and the key,
    ``TSK_SECRET_KEY`` (at least 32 characters) or ``TSK_SECRET_KEY_FILE`` (a file holding it,
    readable by its owner only), make links; without either there are none, as before links
    existed. ``TSK_LINK_DAYS`` (1-365, default 14) is how long a link works. ``TSK_MAIL_LINKS=off``
    (or ``false``, ``0``, ``no``) turns links off whatever else is set. A value that is set but
    wrong raises :class:`LinkConfigError`, naming the variable. An empty variable counts as
    unset.
    """
    switch = environ.get(ENV_SWITCH, "").strip().lower()
    if switch in _OFF:
        return None
    if switch not in _ON:
        raise LinkConfigError(
            _("{variable} must be on or off, not {value}").format(
                variable=ENV_SWITCH, value=repr(environ[ENV_SWITCH])
            )
        )
    address = base_url(environ.get(ENV_BASE_URL, "").strip())
    key = secret_key(environ)
    days = _days(environ.get(ENV_DAYS, "").strip())
    if address is None or key is None:
        return None
    return LinkSettings(address, key, days)


def base_url(text: str) -> str | None:
    """``TSK_BASE_URL`` checked, without a trailing slash; None when empty."""
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise LinkConfigError(
            _(
                "{variable} must be the service's address, such as https://tsk.example.org, not {value}"
            ).format(variable=ENV_BASE_URL, value=repr(text))
        )
    return text.rstrip("/")


def secret_key(environ: Mapping[str, str]) -> bytes | None:
    """The service's secret key (``TSK_SECRET_KEY`` or the file ``TSK_SECRET_KEY_FILE`` names),
    which signs the links and ``tsk serve``'s sessions; None when neither is set."""
    text = environ.get(ENV_KEY, "")
    path = environ.get(ENV_KEY_FILE, "").strip()
    if text and path:
        raise LinkConfigError(
            _("set {variable} or {other}, not both").format(variable=ENV_KEY, other=ENV_KEY_FILE)
        )
    if path:
        return _key_file(Path(path))
    if not text:
        return None
    key = text.strip().encode("utf-8")
    if len(key) < MIN_KEY_LENGTH:
        raise LinkConfigError(_short_key(ENV_KEY))
    return key


def _key_file(path: Path) -> bytes:
    """The key in ``path``: a file of its owner's only (mode 0600 or stricter), its content
    without the white space around it."""
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            raise LinkConfigError(
                _(
                    "the key file {path} may be read by others (mode {mode}): chmod 600 {path}"
                ).format(path=path, mode=format(stat.S_IMODE(mode), "04o"))
            )
        key = path.read_bytes().strip()
    except FileNotFoundError:
        raise LinkConfigError(
            _("{variable}: no file {path}").format(variable=ENV_KEY_FILE, path=path)
        ) from None
    except OSError as exc:
        raise LinkConfigError(
            _("{variable}: cannot read {path}: {error}").format(
                variable=ENV_KEY_FILE, path=path, error=exc.strerror or exc
            )
        ) from None
    if len(key) < MIN_KEY_LENGTH:
        raise LinkConfigError(_short_key(f"{ENV_KEY_FILE} ({path})"))
    return key


def _short_key(source: str) -> str:
    return _(
        "{source}: the key must be at least {n} characters (make one with: python3 -c"
        " 'import secrets; print(secrets.token_urlsafe(32))')"
    ).format(source=source, n=MIN_KEY_LENGTH)


def _days(text: str) -> int:
    if not text:
        return DAYS
    if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
        raise LinkConfigError(_bad_days(ENV_DAYS, text))
    return int(text)


def _bad_days(variable: str, value: str) -> str:
    return _("{variable} must be a number of days from 1 to {most}, not {value}").format(
        variable=variable, most=MAX_DAYS, value=repr(value)
    )


def generate_key() -> str:
    """A new key, as ``TSK_SECRET_KEY`` or a key file holds it (43 URL-safe characters)."""
    import secrets

    return secrets.token_urlsafe(32)


def write_key_file(path: Path) -> None:
    """A new key in a new file ``path``, readable by its owner only (0600); refuses
    (``LinkConfigError``) to overwrite one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise LinkConfigError(_("{path} exists already").format(path=path)) from None
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(generate_key() + "\n")


# ---------------------------------------------------------------- tokens


@lru_cache(maxsize=8)
def _serializer(settings: LinkSettings) -> URLSafeSerializer:
    return URLSafeSerializer(
        settings.key, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256}
    )


def token_id(token: str) -> str:
    """The name of ``token`` in records: the first 16 hex digits of its SHA-256 (the token itself
    is a key to the task, and is kept nowhere)."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:16]


def make_token(
    settings: LinkSettings,
    municipality: str,
    person_id: str,
    task_id: int,
    issued_at: dt.datetime,
) -> str:
    """The token of ``person_id``'s link to task ``task_id``, made at ``issued_at`` (aware) and
    working for ``settings.days`` days. The same arguments give the same token, so a mail sent
    again carries the same link."""
    issued = _seconds(issued_at)
    expires = _seconds(issued_at + settings.lifetime)
    claims = [FORMAT, municipality, person_id, task_id, issued, expires]
    token: str = _serializer(settings).dumps(claims)
    return token


def task_link(
    settings: LinkSettings,
    municipality: str,
    person_id: str,
    task_id: int,
    issued_at: dt.datetime,
) -> str:
    """``{base_url}/t/{token}``: the link in ``person_id``'s mail about task ``task_id``."""
    token = make_token(settings, municipality, person_id, task_id, issued_at)
    return f"{settings.base_url.rstrip('/')}{PATH}{token}"


def expires_at(settings: LinkSettings, issued_at: dt.datetime) -> dt.datetime:
    """Until when a link made at ``issued_at`` works (to the second, as the token says)."""
    return _moment(_seconds(issued_at + settings.lifetime))


def read_token(settings: LinkSettings, token: str, now: dt.datetime) -> LinkClaims:
    """What ``token`` says, if it is genuine and has not expired at ``now`` (aware).

    Raises :class:`LinkRefused`: ``tampered`` when the signature does not hold (a changed or
    cut token, another key) or the claims have the wrong shape; ``expired`` from its
    ``expires_at`` on. Its message is for the person who followed the link, in the language
    spoken; the expiry is shown in ``now``'s time zone.
    """
    named = token_id(token)
    try:
        loaded: Any = _serializer(settings).loads(token)
    except BadData:
        raise _tampered(named) from None
    claims = _claims(loaded, named)
    if claims is None or _serializer(settings).dumps(loaded) != token:
        # the wrong shape, or another spelling of a genuine token (base64's spare bits): each
        # link has one spelling, so that its token_id names it
        raise _tampered(named)
    if now >= claims.expires_at:
        when = claims.expires_at.astimezone(now.tzinfo).strftime("%Y-%m-%d %H:%M")
        raise LinkRefused(
            "expired",
            _(
                "the link expired on {when}: links in mail work for a limited time. Sign in to"
                " see your tasks, or ask the chair for the task again."
            ).format(when=when),
            named,
            claims,
        )
    return claims


def _claims(loaded: Any, named: str) -> LinkClaims | None:
    """The claims of a well-formed payload, else None."""
    if not isinstance(loaded, list) or len(loaded) != 6 or loaded[0] != FORMAT:
        return None
    _format, municipality, person, task, issued, expires = loaded
    texts = isinstance(municipality, str) and isinstance(person, str)
    numbers = all(type(value) is int for value in (task, issued, expires))
    if not (texts and numbers and municipality and person and issued <= expires):
        return None
    return LinkClaims(municipality, person, task, _moment(issued), _moment(expires), named)


def _tampered(named: str) -> LinkRefused:
    return LinkRefused(
        "tampered",
        _(
            "the link is not valid: it was changed or cut short on the way, or it is older than"
            " the service's key. Copy the whole link from the mail, or sign in to see your tasks."
        ),
        named,
    )


def replayed(claims: LinkClaims, status: str) -> LinkRefused:
    """The refusal of a link used to complete its task again (``status`` is the task's:
    ``done``, ``cancelled``): the act was done already, perhaps by someone who had the mail."""
    message = (
        _("task {id} is already done: the link was used before").format(id=claims.task)
        if status == "done"
        else _("task {id} is no longer open ({status}): nothing was done").format(
            id=claims.task, status=status
        )
    )
    return LinkRefused("replayed", message, claims.token_id, claims)


def link_state(
    claims: LinkClaims, status: str, assignees: Collection[str], *, may_complete: bool = False
) -> State:
    """What the link's task is to its person now: ``open`` (theirs to complete), ``done``,
    ``cancelled``, or ``reassigned`` (open, but no longer theirs: they are not among
    ``assignees``, and ``may_complete`` does not say they may all the same, as a chair may)."""
    if status == "done":
        return "done"
    if status != "open":
        return "cancelled"
    if claims.person in assignees or may_complete:
        return "open"
    return "reassigned"


def _seconds(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("a link's time must be aware")
    return int(moment.timestamp())


def _moment(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)
