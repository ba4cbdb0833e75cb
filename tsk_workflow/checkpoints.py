"""Signed checkpoints of the audit trail, kept off the database (after RFC 6962's tree heads).

The hash chain of :mod:`tsk_workflow.audit` can be recomputed by anyone who can write the
database: an edited event with its successors rehashed, a deleted tail or a whole new chain all
pass ``audit verify`` on their own. A *checkpoint* is the chain's head (``seq``, its ``hash``
and the number of events, ``count``) at a time ``at``, signed with an Ed25519 key that the
database never holds, and published where the database's writers cannot reach: a file
(``checkpoints.jsonl``, one JSON object a line) and, when asked, a mail to the registrator or
the archive. Checked later against the chain with the public key, a checkpoint shows that the
chain up to ``seq`` is the one that was signed: a rewrite (``checkpoint_mismatch``), a
truncation (``truncated``) or a forged checkpoint (``checkpoint_signature``) is found.

What is signed (:func:`message`), UTF-8::

    tsk-audit-checkpoint/1\\n{key_id}\\n{seq}\\n{hash}\\n{count}\\n{at}\\n

where ``at`` is ISO 8601 in UTC to the second (``2027-03-10T22:45:00+00:00``) and ``key_id``
the first 16 hex digits of the SHA-256 of the raw public key. A line of the file::

    {"version":1,"seq":556,"hash":"...","count":556,"at":"...","key_id":"...","signature":"..."}

with the signature in base64. An empty chain's checkpoint has ``seq`` 0 and the genesis hash.

The scheduler's pass (``tsk_workflow.schedpass``) signs one a day (:func:`daily_checkpoint`)
once the organisation's ``audit.checkpoint_time`` has passed, recorded as a ``timers`` row keyed
``checkpoint:DAY`` so that a second pass, or another worker at the same moment, does not sign
the day again. The key and the folder come from the environment (:func:`publishing_from_env`):
``TSK_AUDIT_KEY`` (the private key's path), ``TSK_CHECKPOINT_DIR`` and, optionally,
``TSK_CHECKPOINT_MAILTO``.

This is a feature, not the core: it reads and writes files, but takes ``now`` from its caller.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tsk_workflow import i18n
from tsk_workflow.audit import GENESIS, Problem
from tsk_workflow.errors import TskError
from tsk_workflow.i18n import N_, _
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.store import audit_chain
from tsk_workflow.store import checkpoints as stored_days
from tsk_workflow.store.database import Store

if TYPE_CHECKING:
    from tsk_workflow.store.database import Connection, Session

VERSION = 1
FORMAT = f"tsk-audit-checkpoint/{VERSION}"
FILE_NAME = "checkpoints.jsonl"
TEMPLATE = "audit_checkpoint"
RECIPIENT = "checkpoint"
"""The outbox's ``recipient`` of a checkpoint mail: an address, not a person of the organisation."""
TIMER_KIND = "checkpoint"
DEFAULT_TIME = dt.time(23, 45)

ENV_KEY = "TSK_AUDIT_KEY"
ENV_DIR = "TSK_CHECKPOINT_DIR"
ENV_MAILTO = "TSK_CHECKPOINT_MAILTO"

_HASH = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_FIELDS = ("version", "seq", "hash", "count", "at", "key_id", "signature")


# --------------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class GeneratedKey:
    """What :func:`generate_key` wrote: the private key, the public key, and the key's id."""

    private: Path
    public: Path
    key_id: str


def public_path(private: Path) -> Path:
    """Where the public key of the private key ``private`` is kept: ``PATH.pub``."""
    return private.with_name(private.name + ".pub")


def generate_key(path: Path) -> GeneratedKey:
    """A new Ed25519 key pair: ``path`` (PEM, PKCS8, unencrypted, mode 0600) and ``path.pub``
    (PEM SubjectPublicKeyInfo). Refuses (``TskError``) to overwrite either file, and any
    place ``files.check_place`` refuses."""
    from tsk_workflow.files import check_place

    check_place(path)
    public = public_path(path)
    for existing in (path, public):
        if existing.exists() or existing.is_symlink():
            raise TskError(
                _("{path} exists already: a key is never overwritten").format(path=existing)
            )
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_new(path, private_pem, 0o600)
    try:
        _write_new(public, public_pem, 0o644)
    except TskError:
        path.unlink()
        raise
    return GeneratedKey(path, public, key_id(key.public_key()))


def _write_new(path: Path, data: bytes, mode: int) -> None:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    except FileExistsError:
        raise TskError(
            _("{path} exists already: a key is never overwritten").format(path=path)
        ) from None
    except OSError as exc:
        raise TskError(
            _("cannot write {path}: {error}").format(path=path, error=exc.strerror or exc)
        ) from None
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key at ``path``; one clear ``TskError`` when it is missing, readable
    by group or others, unreadable, or not an unencrypted PEM Ed25519 private key."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise TskError(
            _("audit key {path} not found (make one with 'tsk audit keygen --out {path}')").format(
                path=path
            )
        ) from None
    except OSError as exc:
        raise TskError(
            _("cannot read the audit key {path}: {error}").format(
                path=path, error=exc.strerror or exc
            )
        ) from None
    if mode & 0o077:
        raise TskError(
            _("audit key {path} may be read by others (mode {mode}): chmod 600 {path}").format(
                path=path, mode=format(stat.S_IMODE(mode), "04o")
            )
        )
    data = _read_key_file(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise TskError(
            _("{path} is not an unencrypted PEM private key").format(path=path)
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise TskError(
            _("{path} is not an Ed25519 key (make one with 'tsk audit keygen')").format(path=path)
        )
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key at ``path`` (PEM); one clear ``TskError`` otherwise."""
    if not path.exists():
        raise TskError(_("public key {path} not found").format(path=path))
    data = _read_key_file(path)
    if b"PRIVATE KEY" in data:
        raise TskError(
            _("{path} holds a private key: give the public key ({public})").format(
                path=path, public=public_path(path)
            )
        )
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise TskError(_("{path} is not a PEM public key").format(path=path)) from None
    if not isinstance(key, Ed25519PublicKey):
        raise TskError(_("{path} is not an Ed25519 public key").format(path=path))
    return key


def _read_key_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TskError(
            _("cannot read {path}: {error}").format(path=path, error=exc.strerror or exc)
        ) from None


def key_id(public_key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the SHA-256 of the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


# --------------------------------------------------------------------------------- checkpoints


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at ``at`` (UTC, whole seconds), signed with the key ``key_id``."""

    seq: int
    hash: str
    count: int
    at: dt.datetime
    key_id: str
    signature: bytes
    version: int = VERSION

    def message(self) -> bytes:
        """The bytes the signature is over."""
        return message(self.seq, self.hash, self.count, self.at, self.key_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "seq": self.seq,
            "hash": self.hash,
            "count": self.count,
            "at": _iso(self.at),
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    def to_line(self) -> str:
        """The checkpoint as one line of ``checkpoints.jsonl`` (without the line break)."""
        return json.dumps(self.to_dict(), separators=(",", ":"))


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).replace(microsecond=0).isoformat()


def message(seq: int, hash: str, count: int, at: dt.datetime, key_id: str) -> bytes:
    """The canonical bytes of a checkpoint, the ones that are signed (see the module's doc)."""
    return f"{FORMAT}\n{key_id}\n{seq}\n{hash}\n{count}\n{_iso(at)}\n".encode()


def sign(key: Ed25519PrivateKey, seq: int, hash: str, count: int, at: dt.datetime) -> Checkpoint:
    """Sign the head ``(seq, hash, count)`` at ``at`` (aware; kept in UTC to the second)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime given to a checkpoint; pass an aware one")
    at = at.astimezone(dt.UTC).replace(microsecond=0)
    kid = key_id(key.public_key())
    signature = key.sign(message(seq, hash, count, at, kid))
    return Checkpoint(seq, hash, count, at, kid, signature)


def head(connection: Session | Connection) -> tuple[int, str, int]:
    """``(seq, hash, count)`` of the chain's newest event, with the number of events, read with
    one statement (one snapshot); ``(0, GENESIS, 0)`` for an empty chain."""
    found = audit_chain.head_and_count(connection)
    return (0, GENESIS, 0) if found is None else found


def make_checkpoint(store: Store, key: Ed25519PrivateKey, now: dt.datetime) -> Checkpoint:
    """Sign the chain's head as it is now (the chain shared by every municipality of the
    database), read in one read transaction."""
    with store.reading_rows() as connection:
        seq, hash, count = head(connection)
    return sign(key, seq, hash, count, now)


# --------------------------------------------------------------------------------- the file


def append(directory: Path, checkpoint: Checkpoint) -> Path:
    """Append ``checkpoint`` to ``directory/checkpoints.jsonl``: the folder made (0700) when
    missing, the file made 0600; one write, flushed and synced. Returns the file's path."""
    made = not directory.exists()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if made:
            os.chmod(directory, 0o700)
        path = directory / FILE_NAME
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        raise TskError(
            _("cannot write checkpoints to {directory}: {error}").format(
                directory=directory, error=exc.strerror or exc
            )
        ) from None
    try:
        size = os.fstat(fd).st_size
        # After a line left half-written by a crash, the next one starts on a line of its own.
        lead = b"\n" if size and _last_byte(path) != b"\n" else b""
        os.write(fd, lead + checkpoint.to_line().encode() + b"\n")
        os.fsync(fd)
    except OSError as exc:
        raise TskError(
            _("cannot write checkpoints to {path}: {error}").format(
                path=path, error=exc.strerror or exc
            )
        ) from None
    finally:
        os.close(fd)
    return path


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1)


def checkpoint_file(path: Path) -> Path:
    """``path`` itself, or ``path/checkpoints.jsonl`` when ``path`` is a folder."""
    return path / FILE_NAME if path.is_dir() else path


def read(path: Path) -> tuple[list[Checkpoint], list[Problem]]:
    """The checkpoints of a file (or of ``FOLDER/checkpoints.jsonl``), in the file's order, and
    a ``checkpoint_unreadable`` problem for each line that is not a well-formed checkpoint.
    Blank lines are skipped. A file that cannot be read at all is a ``TskError``."""
    file = checkpoint_file(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise TskError(
            _("cannot read the checkpoints {file}: {error}").format(
                file=file, error=exc.strerror or exc
            )
        ) from None
    found: list[Checkpoint] = []
    problems: list[Problem] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            found.append(parse(raw))
        except ValueError as exc:
            problems.append(Problem(None, "checkpoint_unreadable", f"{file}:{number}: {exc}"))
    return found, problems


def parse(line: str | bytes) -> Checkpoint:
    """One checkpoint from its JSON line; ``ValueError`` saying what is wrong otherwise."""
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise ValueError(_("not a JSON object")) from None
    if not isinstance(data, dict):
        raise ValueError(_("not a JSON object"))
    missing = [name for name in _FIELDS if name not in data]
    if missing:
        raise ValueError(_("no {missing}").format(missing=", ".join(missing)))
    if data["version"] != VERSION or isinstance(data["version"], bool):
        raise ValueError(_("unknown version {version}").format(version=repr(data["version"])))
    seq, count = data["seq"], data["count"]
    for name, value in (("seq", seq), ("count", count)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(
                _("{name} is not a whole number: {value}").format(name=name, value=repr(value))
            )
    hash, kid = data["hash"], data["key_id"]
    if not (isinstance(hash, str) and _HASH.fullmatch(hash)):
        raise ValueError(_("hash is not 64 hex digits"))
    if not (isinstance(kid, str) and _KEY_ID.fullmatch(kid)):
        raise ValueError(_("key_id is not 16 hex digits"))
    at = _parse_time(data["at"])
    signature = _parse_signature(data["signature"])
    return Checkpoint(seq, hash, count, at, kid, signature)


def _parse_time(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError(_("at is not a time"))
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            _("at is not an ISO 8601 time: {value}").format(value=repr(value))
        ) from None
    if at.tzinfo is None:
        raise ValueError(_("at has no time zone: {value}").format(value=repr(value)))
    return at.astimezone(dt.UTC)


def _parse_signature(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError(_("signature is not base64 text"))
    try:
        signature = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(_("signature is not base64")) from None
    if len(signature) != 64:
        raise ValueError(_("signature is {size} bytes, not 64").format(size=len(signature)))
    return signature


# --------------------------------------------------------------------------------- checking


def seqs_wanted(checkpoints: Iterable[Checkpoint]) -> set[int]:
    """The sequence numbers whose hashes :func:`check` needs (collect them while streaming the
    chain); 0, the empty chain, needs none."""
    return {checkpoint.seq for checkpoint in checkpoints if checkpoint.seq > 0}


def check(
    checkpoints: Sequence[Checkpoint],
    public_key: Ed25519PublicKey,
    hashes: Mapping[int, str],
    chain_length: int,
) -> tuple[int | None, list[Problem]]:
    """Check ``checkpoints`` (in the file's order) against the chain.

    ``hashes`` maps the sequence numbers of :func:`seqs_wanted` to the chain's hash there (a
    seq the chain lacks may be left out); ``chain_length`` is the seq of the chain's last event
    (0 when empty). Returns ``anchored_to``, the highest seq covered by a correctly signed
    checkpoint whose hash is the chain's (None if none is), and the problems, each once:

    - ``checkpoint_signature``: signed by another key (which) or not a valid signature (forged,
      or the checkpoint altered after it was signed);
    - ``checkpoint_mismatch``: the chain's hash at the checkpoint's seq is another (rewritten),
      or the chain has no event there although it goes further (removed);
    - ``truncated``: checkpoints cover events beyond the chain's end (its tail removed); one
      problem, for the first missing event, naming the furthest checkpoint;
    - ``checkpoint_count``: when it was signed, the chain had not as many events as its seq;
    - ``checkpoint_order``: a checkpoint's seq or time goes back from the one before it.

    Problems of a malformed line come from :func:`read`.
    """
    expected = key_id(public_key)
    problems: list[Problem] = []
    anchored: int | None = None
    beyond: list[Checkpoint] = []
    previous: Checkpoint | None = None
    for checkpoint in checkpoints:
        when = _iso(checkpoint.at)
        if checkpoint.key_id != expected:
            problems.append(
                Problem(
                    checkpoint.seq,
                    "checkpoint_signature",
                    _(
                        "checkpoint of {when} (event {seq}) is signed by another key ({key_id}, not"
                        " {expected})"
                    ).format(
                        when=when, seq=checkpoint.seq, key_id=checkpoint.key_id, expected=expected
                    ),
                )
            )
            continue
        try:
            public_key.verify(checkpoint.signature, checkpoint.message())
        except InvalidSignature:
            problems.append(
                Problem(
                    checkpoint.seq,
                    "checkpoint_signature",
                    _(
                        "checkpoint of {when} (event {seq}): the signature does not match (forged,"
                        " or altered after it was signed)"
                    ).format(when=when, seq=checkpoint.seq),
                )
            )
            continue
        if previous is not None:
            problems += _order(previous, checkpoint)
        previous = checkpoint
        if checkpoint.count != checkpoint.seq:
            problems.append(
                Problem(
                    checkpoint.seq,
                    "checkpoint_count",
                    _(
                        "checkpoint of {when}: the chain had {count} events up to event {seq} when"
                        " it was signed (events already missing)"
                    ).format(when=when, count=checkpoint.count, seq=checkpoint.seq),
                )
            )
        if checkpoint.seq > chain_length:
            beyond.append(checkpoint)
            continue
        actual = GENESIS if checkpoint.seq == 0 else hashes.get(checkpoint.seq)
        if actual != checkpoint.hash:
            problems.append(_mismatch(checkpoint, actual, when))
            continue
        anchored = checkpoint.seq if anchored is None else max(anchored, checkpoint.seq)
    if beyond:
        problems.append(_truncated(beyond, chain_length))
    return anchored, problems


def _order(previous: Checkpoint, checkpoint: Checkpoint) -> list[Problem]:
    found = []
    if checkpoint.seq < previous.seq:
        found.append(
            Problem(
                checkpoint.seq,
                "checkpoint_order",
                _(
                    "checkpoint of {at} covers event {seq}, fewer than the one before it ({before},"
                    " {before_at})"
                ).format(
                    at=_iso(checkpoint.at),
                    seq=checkpoint.seq,
                    before=previous.seq,
                    before_at=_iso(previous.at),
                ),
            )
        )
    if checkpoint.at < previous.at:
        found.append(
            Problem(
                checkpoint.seq,
                "checkpoint_order",
                _(
                    "checkpoint of event {seq} is dated {at}, before the one before it ({before_at})"
                ).format(seq=checkpoint.seq, at=_iso(checkpoint.at), before_at=_iso(previous.at)),
            )
        )
    return found


def _mismatch(checkpoint: Checkpoint, actual: str | None, when: str) -> Problem:
    if actual is None:
        detail = _(
            "checkpoint of {when} covers event {seq}, which the chain does not have (removed?)"
        ).format(when=when, seq=checkpoint.seq)
    else:
        detail = _(
            "event {seq}: the chain's hash {actual}… is not the {hash}… signed on {when} (the"
            " chain was rewritten)"
        ).format(seq=checkpoint.seq, actual=actual[:16], hash=checkpoint.hash[:16], when=when)
    return Problem(checkpoint.seq, "checkpoint_mismatch", detail)


def _truncated(beyond: list[Checkpoint], chain_length: int) -> Problem:
    furthest = max(beyond, key=lambda checkpoint: (checkpoint.seq, checkpoint.at))
    others = len(beyond) - 1
    also = _(" ({others} more checkpoints beyond the end)").format(others=others) if others else ""
    return Problem(
        chain_length + 1,
        "truncated",
        _(
            "the chain ends at event {end}, but the checkpoint of {at} covers events up to"
            " {seq}: events {first}..{seq} were removed{also}"
        ).format(
            end=chain_length,
            at=_iso(furthest.at),
            seq=furthest.seq,
            first=chain_length + 1,
            also=also,
        ),
    )


def collect_hashes(rows: Iterable[tuple[int, str]], wanted: set[int]) -> tuple[dict[int, str], int]:
    """From ``(seq, hash)`` rows in seq order: the hashes at ``wanted`` and the last seq (what
    :func:`check` takes). For a caller that does not already stream the chain."""
    hashes: dict[int, str] = {}
    last = 0
    for seq, hash in rows:
        if seq in wanted:
            hashes[seq] = hash
        last = seq
    return hashes, last


def check_store(
    store: Store, checkpoints: Sequence[Checkpoint], public_key: Ed25519PublicKey
) -> tuple[int | None, list[Problem]]:
    """:func:`check` against the chain of ``store``, read once (streamed)."""
    wanted = seqs_wanted(checkpoints)
    with store.reading_rows() as connection:
        hashes, last = collect_hashes(audit_chain.link_hashes(connection), wanted)
    return check(checkpoints, public_key, hashes, last)


# --------------------------------------------------------------------------------- publishing


@dataclass(frozen=True)
class Publishing:
    """Where checkpoints go: the private key's path, the folder, and an address (optional)."""

    key: Path
    directory: Path
    mailto: str | None = None


def publishing_from_env(env: Mapping[str, str]) -> Publishing:
    """The settings from ``TSK_AUDIT_KEY``, ``TSK_CHECKPOINT_DIR`` and ``TSK_CHECKPOINT_MAILTO``;
    ``TskError`` naming what is missing."""
    reason = skip_reason(env)
    if reason is not None:
        raise TskError(reason)
    mailto = env.get(ENV_MAILTO, "").strip() or None
    return Publishing(Path(env[ENV_KEY]), Path(env[ENV_DIR]), mailto)


def skip_reason(env: Mapping[str, str]) -> str | None:
    """Why no checkpoint can be made with ``env`` (a variable not set), or None."""
    if not env.get(ENV_KEY, "").strip():
        return _(
            "{variable} is not set: give the path of the private key ('tsk audit keygen')"
        ).format(variable=ENV_KEY)
    if not env.get(ENV_DIR, "").strip():
        return _("{variable} is not set: give the folder to keep checkpoints.jsonl in").format(
            variable=ENV_DIR
        )
    return None


@dataclass(frozen=True)
class Published:
    """A checkpoint made and kept: the file it was appended to; ``mailed`` when queued."""

    checkpoint: Checkpoint
    file: Path
    mailed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {**self.checkpoint.to_dict(), "file": str(self.file), "mailed": self.mailed}


def publish(
    session: Session,
    key: Ed25519PrivateKey,
    publishing: Publishing,
    now: dt.datetime,
    org: Organisation | None = None,
) -> Published:
    """Sign the head as ``session`` reads it, append the checkpoint to the file and, with an
    address and an organisation (whose sender and outbox it goes through), queue it as mail in
    ``session``'s transaction. The file is written before the transaction commits: a failed
    commit leaves a checkpoint in the file that is merely signed again later."""
    seq, hash, count = head(session)
    checkpoint = sign(key, seq, hash, count, now)
    file = append(publishing.directory, checkpoint)
    mailed = False
    if publishing.mailto and org is not None:
        mailed = queue_mail(session, org, publishing.mailto, checkpoint, now) > 0
    return Published(checkpoint, file, mailed)


def queue_mail(
    session: Session, org: Organisation, mailto: str, checkpoint: Checkpoint, now: dt.datetime
) -> int:
    """Queue ``checkpoint`` as an ``audit_checkpoint`` mail to ``mailto`` (``Name <address>``
    or an address) through ``org``'s outbox; its Message-ID names the checkpoint, so it is
    queued once. Returns 1 when queued now, 0 when it was already."""
    from tsk_workflow.messages import mail_domain, make_message_id, outbox_row
    from tsk_workflow.store import outbox as stored_outbox

    name, address = parseaddr(mailto)
    if "@" not in address:
        raise TskError(
            _("{variable}={mailto} is not a mail address").format(
                variable=ENV_MAILTO, mailto=repr(mailto)
            )
        )
    zone = ZoneInfo(org.calendar.timezone)
    stamp = _iso(checkpoint.at)
    key = f"{org.municipality}/audit-checkpoint/{checkpoint.key_id}/{checkpoint.seq}/{stamp}"
    context = {
        "person": {"id": RECIPIENT, "name": name or _in_each_language(N_("registrar"))},
        "municipality": {"key": org.municipality, "name": org.name},
        "checkpoint": {
            "seq": checkpoint.seq,
            "hash": checkpoint.hash,
            "count": checkpoint.count,
            "at": checkpoint.at.astimezone(zone).isoformat(),
            "key_id": checkpoint.key_id,
            "line": checkpoint.to_line(),
        },
    }
    row = outbox_row(
        now,
        None,
        None,
        message_id=make_message_id(key, mail_domain(org)),
        municipality=org.municipality,
        recipient=RECIPIENT,
        email=address,
        language="sv",
        template=TEMPLATE,
        context=context,
        status="pending",
    )
    return stored_outbox.queue_mail(session, [row])


def checkpoint_time(org: Organisation) -> dt.time:
    """The organisation's ``audit.checkpoint_time`` (HH:MM, local time)."""
    return dt.time.fromisoformat(org.audit.checkpoint_time)


def checkpoint_due(org: Organisation, now: dt.datetime) -> bool:
    """Whether the local time of ``now`` is past the organisation's checkpoint time of the day."""
    local = now.astimezone(ZoneInfo(org.calendar.timezone))
    return local.time() >= checkpoint_time(org)


def day_key(org: Organisation, now: dt.datetime) -> str:
    """The ``timers`` key recording the day's checkpoint: ``checkpoint:YYYY-MM-DD`` (local)."""
    return f"checkpoint:{now.astimezone(ZoneInfo(org.calendar.timezone)).date().isoformat()}"


def daily_checkpoint(
    store: Store,
    orgs: Mapping[str, Organisation],
    publishing: Publishing,
    now: dt.datetime,
    worker: str = "tsk",
) -> Published | None:
    """Today's checkpoint, once the checkpoint time of one of ``orgs`` has passed; None when
    none is due yet or today's is made already (by this or another process).

    The chain is the database's, so the day's record (a ``timers`` row ``checkpoint:DAY``, fired
    at once) is too: the first organisation due (in key order) makes it, and its outbox sends
    the mail. The row is claimed with ``INSERT ... ON CONFLICT DO NOTHING`` in the transaction
    that signs and publishes, so of two workers at once one signs and the other waits and finds
    it done; if publishing fails nothing is recorded and the next pass tries again.
    """
    due = [(key, org) for key, org in sorted(orgs.items()) if checkpoint_due(org, now)]
    if not due:
        return None
    municipality, org = due[0]
    record = day_key(org, now)
    with store.reading_rows() as connection:
        if stored_days.recorded(connection, record):
            return None
    key = load_private_key(publishing.key)
    with store.transaction() as session:
        claimed = stored_days.claim(session, record, TIMER_KIND, municipality, now, worker)
        if not claimed:
            return None  # another worker made today's meanwhile
        return publish(session, key, publishing, now, org)


def daily_from_env(
    store: Store,
    orgs: Mapping[str, Organisation],
    env: Mapping[str, str],
    now: dt.datetime,
    worker: str = "tsk",
) -> dict[str, Any] | None:
    """:func:`daily_checkpoint` with the settings of ``env``, as a scheduler pass reports it:
    the checkpoint (with ``file``), None when nothing was due, or ``{"skipped": reason}`` when
    one is due but the environment does not say where the key or the folder is."""
    if not any(checkpoint_due(org, now) for org in orgs.values()):
        return None
    reason = skip_reason(env)
    if reason is not None:
        return {"skipped": reason}
    published = daily_checkpoint(store, orgs, publishing_from_env(env), now, worker)
    return None if published is None else published.to_dict()


def _in_each_language(message: str) -> dict[str, str]:
    """``message`` (marked where it is written) in each language, for a mail's context: the
    outbox keeps texts for either language and renders the recipient's."""
    texts = {}
    for lang in i18n.LANGUAGES:
        with i18n.speaking(lang):
            texts[lang] = _(message)
    return texts


# --------------------------------------------------------------------------------- for the service


@dataclass(frozen=True)
class Kept:
    """The checkpoints the service keeps (``TSK_CHECKPOINT_DIR``), as its pages show them:
    ``directory`` None (with ``reason``) when none is set; ``checkpoints`` in the file's order,
    ``unreadable`` the lines that are not checkpoints, ``mailto`` where each is mailed too."""

    directory: Path | None
    checkpoints: tuple[Checkpoint, ...] = ()
    unreadable: tuple[Problem, ...] = ()
    mailto: str | None = None
    reason: str | None = None

    @property
    def last(self) -> Checkpoint | None:
        return self.checkpoints[-1] if self.checkpoints else None


def kept(env: Mapping[str, str]) -> Kept:
    """What ``TSK_CHECKPOINT_DIR`` holds: none yet is no problem (the folder is made with the
    first one); a file that cannot be read is a ``reason``."""
    folder = env.get(ENV_DIR, "").strip()
    mailto = env.get(ENV_MAILTO, "").strip() or None
    if not folder:
        return Kept(
            None,
            reason=_("{variable} is not set: the service keeps no checkpoints").format(
                variable=ENV_DIR
            ),
        )
    directory = Path(folder)
    if not (directory / FILE_NAME).exists():
        return Kept(directory, mailto=mailto)
    try:
        found, problems = read(directory)
    except TskError as exc:
        return Kept(directory, mailto=mailto, reason=str(exc))
    return Kept(directory, tuple(found), tuple(problems), mailto)


def service_public_key(env: Mapping[str, str]) -> Ed25519PublicKey | None:
    """The public key of the service's signing key (``TSK_AUDIT_KEY``): its ``.pub`` file, else
    the private key's own; None when neither can be read."""
    path = env.get(ENV_KEY, "").strip()
    if not path:
        return None
    try:
        public = public_path(Path(path))
        if public.exists():
            return load_public_key(public)
        return load_private_key(Path(path)).public_key()
    except TskError:
        return None


def publish_now(
    store: Store,
    env: Mapping[str, str],
    now: dt.datetime,
    org: Organisation | None = None,
    *,
    unless_covered: bool = False,
) -> Published | None:
    """Sign the chain's head now and keep it as the daily checkpoint is kept (``tsk audit
    checkpoint``; from the service's settings ``env``): ``TskError`` when they are missing.
    With ``unless_covered``, None (and nothing made) when the last checkpoint kept is of this
    head with this key already: a form sent twice signs once."""
    publishing = publishing_from_env(env)
    key = load_private_key(publishing.key)
    with store.transaction() as session:
        if unless_covered:
            last = kept(env).last
            seq, hash, _count = head(session)
            if last is not None and (last.seq, last.hash, last.key_id) == (
                seq,
                hash,
                key_id(key.public_key()),
            ):
                return None
        return publish(session, key, publishing, now, org if publishing.mailto else None)
