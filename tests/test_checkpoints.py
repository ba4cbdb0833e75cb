"""Signed checkpoints of the audit trail: keys, signing and checking (forged, another key,
truncated, rewritten, malformed), the file, ``tsk audit keygen`` and ``tsk audit checkpoint``,
the checkpoint mail through the outbox to a real SMTP server, and the scheduler's daily one.

Database tests run on SQLite and on PostgreSQL (the ``store`` fixture), at virtual time.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import stat
import threading
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from tests.enginekit import Clock, Tsk, local, make_engine
from tests.smtp_server import SmtpServer
from tsk_workflow import audit, checkpoints, i18n
from tsk_workflow.audit import GENESIS
from tsk_workflow.checkpoints import Publishing
from tsk_workflow.errors import TskError
from tsk_workflow.mail import outbox
from tsk_workflow.scheduler import Options, Service
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, OutboxMessage, Timer

CHAIR = "jessica.wahlstrom"
AT = dt.datetime(2027, 3, 10, 22, 45, tzinfo=dt.UTC)
ENV_NAMES = (checkpoints.ENV_KEY, checkpoints.ENV_DIR, checkpoints.ENV_MAILTO)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "audit.pem"
    path.parent.mkdir()
    checkpoints.generate_key(path)
    return path


@pytest.fixture
def key(key_path: Path) -> Ed25519PrivateKey:
    return checkpoints.load_private_key(key_path)


@pytest.fixture
def english() -> Iterator[None]:
    """The details checked in English, the language of the code (they are Swedish by default,
    as ``tests/test_i18n_errors.py`` and the command-line tests below check)."""
    with i18n.speaking("en"):
        yield


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def chain(n: int) -> dict[int, str]:
    """Made-up hashes of a chain of ``n`` events, by seq."""
    return {seq: f"{seq:064x}" for seq in range(1, n + 1)}


def signed(key: Ed25519PrivateKey, seq: int, hashes: dict[int, str], at: dt.datetime = AT) -> Any:
    return checkpoints.sign(key, seq, hashes.get(seq, GENESIS), seq, at)


def kinds(problems: list[audit.Problem]) -> list[str]:
    return [problem.kind for problem in problems]


# ------------------------------------------------------------------ keys


@pytest.mark.usefixtures("english")
def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.pem"
    made = checkpoints.generate_key(path)
    assert (made.private, made.public) == (path, tmp_path / "audit.pem.pub")
    assert mode(path) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert made.public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    public = checkpoints.load_public_key(made.public)
    assert checkpoints.key_id(public) == made.key_id
    assert checkpoints.key_id(checkpoints.load_private_key(path).public_key()) == made.key_id
    assert len(made.key_id) == 16

    before = path.read_bytes(), made.public.read_bytes()
    with pytest.raises(TskError, match="exists already"):
        checkpoints.generate_key(path)
    assert (path.read_bytes(), made.public.read_bytes()) == before

    other = tmp_path / "other.pem"
    (tmp_path / "other.pem.pub").write_text("someone's public key")
    with pytest.raises(TskError, match=r"other\.pem\.pub exists already"):
        checkpoints.generate_key(other)
    assert not other.exists()


@pytest.mark.usefixtures("english")
def test_a_key_that_cannot_be_used_gives_one_clear_error(tmp_path: Path, key_path: Path) -> None:
    with pytest.raises(TskError, match="not found .*tsk audit keygen"):
        checkpoints.load_private_key(tmp_path / "missing.pem")
    key_path.chmod(0o640)
    with pytest.raises(TskError, match=r"may be read by others \(mode 0640\): chmod 600"):
        checkpoints.load_private_key(key_path)

    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key\n")
    garbage.chmod(0o600)
    with pytest.raises(TskError, match="not an unencrypted PEM private key"):
        checkpoints.load_private_key(garbage)

    ed448 = tmp_path / "ed448.pem"
    ed448.write_bytes(
        Ed448PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ed448.chmod(0o600)
    with pytest.raises(TskError, match="not an Ed25519 key"):
        checkpoints.load_private_key(ed448)

    with pytest.raises(TskError, match="holds a private key"):
        checkpoints.load_public_key(ed448)
    with pytest.raises(TskError, match="not a PEM public key"):
        checkpoints.load_public_key(garbage)
    with pytest.raises(TskError, match="not found"):
        checkpoints.load_public_key(tmp_path / "missing.pub")


# ------------------------------------------------------------------ signing and checking


def test_a_checkpoint_signs_its_canonical_bytes_and_checks_against_its_chain(
    key: Ed25519PrivateKey,
) -> None:
    hashes = chain(12)
    made = checkpoints.sign(key, 12, hashes[12], 12, AT.replace(microsecond=123))
    assert made.at == AT  # whole seconds, UTC
    assert (
        made.message()
        == (
            f"tsk-audit-checkpoint/1\n{made.key_id}\n12\n{hashes[12]}\n12\n2027-03-10T22:45:00+00:00\n"
        ).encode()
    )
    line = made.to_line()
    assert json.loads(line) == {
        "version": 1,
        "seq": 12,
        "hash": hashes[12],
        "count": 12,
        "at": "2027-03-10T22:45:00+00:00",
        "key_id": made.key_id,
        "signature": base64.b64encode(made.signature).decode(),
    }
    assert "\n" not in line
    assert " " not in line
    assert checkpoints.parse(line) == made

    earlier = signed(key, 5, hashes, AT - dt.timedelta(days=1))
    empty = signed(key, 0, {}, AT - dt.timedelta(days=2))
    found = [empty, earlier, made]
    assert checkpoints.seqs_wanted(found) == {5, 12}
    wanted = {seq: hashes[seq] for seq in checkpoints.seqs_wanted(found)}
    assert checkpoints.check(found, key.public_key(), wanted, 12) == (12, [])
    # The chain grew since: still anchored to the last checkpoint.
    assert checkpoints.check(found, key.public_key(), wanted, 40) == (12, [])
    assert checkpoints.check([], key.public_key(), {}, 40) == (None, [])


@pytest.mark.parametrize("field", ["signature", "hash", "seq", "at"])
@pytest.mark.usefixtures("english")
def test_a_forged_or_altered_checkpoint_is_found(key: Ed25519PrivateKey, field: str) -> None:
    hashes = chain(12)
    good = signed(key, 12, hashes)
    if field == "signature":
        forged = replace(good, signature=bytes([good.signature[0] ^ 1]) + good.signature[1:])
    elif field == "hash":
        forged = replace(good, hash="f" + good.hash[1:])
    elif field == "seq":
        forged = replace(good, seq=11)
    else:
        forged = replace(good, at=good.at + dt.timedelta(seconds=1))
    anchored, problems = checkpoints.check([forged], key.public_key(), hashes, 12)
    assert anchored is None
    assert kinds(problems) == ["checkpoint_signature"]
    assert "signature does not match" in problems[0].detail


@pytest.mark.usefixtures("english")
def test_a_checkpoint_signed_by_another_key_says_which(key: Ed25519PrivateKey) -> None:
    hashes = chain(12)
    stranger = Ed25519PrivateKey.generate()
    theirs = signed(stranger, 12, hashes)
    anchored, problems = checkpoints.check([theirs], key.public_key(), hashes, 12)
    assert anchored is None
    assert kinds(problems) == ["checkpoint_signature"]
    ours = checkpoints.key_id(key.public_key())
    assert f"signed by another key ({theirs.key_id}, not {ours})" in problems[0].detail
    # Its key id changed to ours: the signature no longer holds.
    disguised = replace(theirs, key_id=ours)
    _, problems = checkpoints.check([disguised], key.public_key(), hashes, 12)
    assert kinds(problems) == ["checkpoint_signature"]


@pytest.mark.usefixtures("english")
def test_checkpoints_beyond_the_chains_end_say_it_was_truncated(key: Ed25519PrivateKey) -> None:
    hashes = chain(30)
    found = [signed(key, seq, hashes, AT + dt.timedelta(days=seq)) for seq in (10, 20, 30)]
    short = {seq: hashes[seq] for seq in range(1, 16)}
    anchored, problems = checkpoints.check(found, key.public_key(), short, 15)
    assert anchored == 10
    assert kinds(problems) == ["truncated"]
    assert problems[0].seq == 16
    assert "ends at event 15" in problems[0].detail
    assert "events 16..30 were removed (1 more checkpoints beyond the end)" in problems[0].detail


@pytest.mark.usefixtures("english")
def test_a_rewritten_chain_does_not_match_its_checkpoints(key: Ed25519PrivateKey) -> None:
    hashes = chain(20)
    found = [signed(key, seq, hashes, AT + dt.timedelta(days=seq)) for seq in (5, 10, 20)]
    rewritten = {**hashes, 10: "a" * 64, 20: "b" * 64}
    anchored, problems = checkpoints.check(found, key.public_key(), rewritten, 20)
    assert anchored == 5
    assert kinds(problems) == ["checkpoint_mismatch", "checkpoint_mismatch"]
    assert [problem.seq for problem in problems] == [10, 20]
    assert "the chain was rewritten" in problems[0].detail
    # An event the chain lacks (a gap) where a checkpoint was signed.
    gap = {seq: value for seq, value in hashes.items() if seq != 10}
    _, problems = checkpoints.check(found, key.public_key(), gap, 20)
    assert kinds(problems) == ["checkpoint_mismatch"]
    assert "does not have" in problems[0].detail


@pytest.mark.usefixtures("english")
def test_checkpoints_going_back_in_seq_or_time_are_out_of_order(key: Ed25519PrivateKey) -> None:
    hashes = chain(20)
    first = signed(key, 10, hashes, AT)
    back_in_seq = signed(key, 5, hashes, AT + dt.timedelta(days=1))
    back_in_time = signed(key, 20, hashes, AT - dt.timedelta(days=1))
    _, problems = checkpoints.check([first, back_in_seq], key.public_key(), hashes, 20)
    assert kinds(problems) == ["checkpoint_order"]
    _, problems = checkpoints.check([first, back_in_time], key.public_key(), hashes, 20)
    assert kinds(problems) == ["checkpoint_order"]
    assert "before the one before it" in problems[0].detail


@pytest.mark.usefixtures("english")
def test_a_checkpoint_of_a_chain_with_missing_events_says_so(key: Ed25519PrivateKey) -> None:
    hashes = chain(10)
    odd = checkpoints.sign(key, 10, hashes[10], 9, AT)
    anchored, problems = checkpoints.check([odd], key.public_key(), hashes, 10)
    assert anchored == 10
    assert kinds(problems) == ["checkpoint_count"]


# ------------------------------------------------------------------ the file


def test_append_makes_a_private_folder_and_file_and_read_gives_them_back(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    folder = tmp_path / "published" / "audit"
    hashes = chain(3)
    first, second = signed(key, 2, hashes), signed(key, 3, hashes, AT + dt.timedelta(days=1))
    path = checkpoints.append(folder, first)
    assert path == folder / "checkpoints.jsonl"
    assert mode(folder) == 0o700
    assert mode(path) == 0o600
    checkpoints.append(folder, second)
    assert path.read_text().splitlines() == [first.to_line(), second.to_line()]
    assert checkpoints.read(folder) == ([first, second], [])
    assert checkpoints.read(path) == ([first, second], [])


def test_a_line_left_half_written_does_not_swallow_the_next(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    hashes = chain(3)
    path = checkpoints.append(tmp_path, signed(key, 2, hashes))
    with path.open("a") as file:
        file.write('{"version":1,"seq":3,"ha')  # a crash in the middle of a write
    last = signed(key, 3, hashes, AT + dt.timedelta(days=1))
    checkpoints.append(tmp_path, last)
    found, problems = checkpoints.read(path)
    assert found[-1] == last
    assert kinds(problems) == ["checkpoint_unreadable"]
    assert problems[0].detail.startswith(f"{path}:2: ")


@pytest.mark.usefixtures("english")
def test_malformed_lines_are_problems_not_crashes(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    good = signed(key, 3, chain(3))
    data = good.to_dict()
    lines = [
        good.to_line(),
        "",
        "not json",
        "[1, 2]",
        json.dumps({k: v for k, v in data.items() if k != "signature"}),
        json.dumps({**data, "version": 2}),
        json.dumps({**data, "seq": "3"}),
        json.dumps({**data, "seq": True}),
        json.dumps({**data, "count": -1}),
        json.dumps({**data, "hash": "XYZ"}),
        json.dumps({**data, "key_id": "k"}),
        json.dumps({**data, "at": "yesterday"}),
        json.dumps({**data, "at": "2027-03-10T22:45:00"}),
        json.dumps({**data, "signature": "!!!"}),
        json.dumps({**data, "signature": base64.b64encode(b"short").decode()}),
    ]
    path = tmp_path / "checkpoints.jsonl"
    path.write_bytes("\n".join(lines).encode() + b"\n\xff\xfe\n")
    found, problems = checkpoints.read(path)
    assert found == [good]
    assert kinds(problems) == ["checkpoint_unreadable"] * 14
    assert all(problem.seq is None for problem in problems)
    details = [problem.detail.removeprefix(f"{path}:") for problem in problems]
    assert details[:5] == [
        "3: not a JSON object",
        "4: not a JSON object",
        "5: no signature",
        "6: unknown version 2",
        "7: seq is not a whole number: '3'",
    ]
    assert details[-1] == "16: not a JSON object"
    with pytest.raises(TskError, match="cannot read the checkpoints"):
        checkpoints.read(tmp_path / "nowhere.jsonl")


# ------------------------------------------------------------------ against a real chain


def test_make_checkpoint_signs_the_head_of_the_chain(store: Store, key: Ed25519PrivateKey) -> None:
    empty = checkpoints.make_checkpoint(store, key, AT)
    assert (empty.seq, empty.hash, empty.count) == (0, GENESIS, 0)

    engine = make_engine(store, clock=Clock(local(2027, 3, 1)))
    engine.open_cycle(CHAIR, "est", "2027-03")
    made = checkpoints.make_checkpoint(store, key, AT)
    with store.reading() as session:
        head = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert head is not None
        assert (made.seq, made.hash, made.count) == (head.seq, head.hash, head.seq)
        assert audit.verify(session).head_hash == made.hash

    found = [empty, made]
    assert checkpoints.check_store(store, found, key.public_key()) == (made.seq, [])
    engine.open_cycle(CHAIR, "est", "2027-04")  # the chain goes on
    assert checkpoints.check_store(store, found, key.public_key()) == (made.seq, [])


@pytest.mark.usefixtures("english")
def test_another_chain_in_the_database_is_rewritten_or_truncated(
    store: Store, make_store: Any, store_kind: str, key: Ed25519PrivateKey
) -> None:
    """What someone who can write the database could put there instead: a chain made anew
    (rewritten) or the same chain without its newest events (truncated)."""
    engine = make_engine(store, clock=Clock(local(2027, 3, 1)))
    engine.open_cycle(CHAIR, "est", "2027-03")
    early = checkpoints.make_checkpoint(store, key, AT)
    engine.open_cycle(CHAIR, "est", "2027-04")
    late = checkpoints.make_checkpoint(store, key, AT + dt.timedelta(days=1))
    assert late.seq > early.seq

    other = make_store(store_kind)
    twin = make_engine(other, clock=Clock(local(2027, 3, 1)))
    twin.open_cycle(CHAIR, "est", "2027-03")  # the same events: the same chain
    assert checkpoints.check_store(other, [early, late], key.public_key()) == (
        early.seq,
        [
            audit.Problem(
                early.seq + 1,
                "truncated",
                f"the chain ends at event {early.seq}, but the checkpoint of"
                f" 2027-03-11T22:45:00+00:00 covers events up to {late.seq}: events"
                f" {early.seq + 1}..{late.seq} were removed",
            )
        ],
    )
    twin.clock.now = local(2027, 3, 2)  # once a time differs, every hash after it does
    twin.open_cycle(CHAIR, "est", "2027-04")
    anchored, problems = checkpoints.check_store(other, [early, late], key.public_key())
    assert anchored == early.seq
    assert kinds(problems) == ["checkpoint_mismatch"]


# ------------------------------------------------------------------ the commands


@pytest.fixture
def tsk(store: Store, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, no_env: None) -> Tsk:
    tsk = Tsk(runner, store, "herrljunga", Clock(local(2027, 3, 1, 8)), monkeypatch)
    tsk.ok("init")
    return tsk


def test_keygen_on_the_command_line(tsk: Tsk, tmp_path: Path) -> None:
    path = tmp_path / "audit.pem"
    made = tsk.ok("audit", "keygen", "--out", str(path))
    assert made == {
        "private_key": str(path),
        "public_key": f"{path}.pub",
        "key_id": checkpoints.key_id(checkpoints.load_public_key(Path(f"{path}.pub"))),
    }
    assert mode(path) == 0o600
    line = tsk.refused("audit", "keygen", "--out", str(path))
    assert line == f"tsk: {path} finns redan: en nyckel skrivs aldrig över"
    text = tsk.text("audit", "keygen", "--out", str(tmp_path / "second.pem"))
    assert text.startswith("Nyckel ")
    assert f"privat {tmp_path / 'second.pem'} (0600), publik {tmp_path / 'second.pem.pub'}" in text


def test_checkpoint_says_in_one_line_what_is_missing(
    tsk: Tsk, tmp_path: Path, key_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = tsk.refused("audit", "checkpoint")
    assert line.startswith("tsk: TSK_AUDIT_KEY är inte satt")
    monkeypatch.setenv("TSK_AUDIT_KEY", str(key_path))
    line = tsk.refused("audit", "checkpoint", "--json")
    assert line.startswith("tsk: TSK_CHECKPOINT_DIR är inte satt")
    monkeypatch.setenv("TSK_CHECKPOINT_DIR", str(tmp_path / "published"))
    key_path.chmod(0o644)
    line = tsk.refused("audit", "checkpoint")
    assert line == (
        f"tsk: audit-nyckeln {key_path} kan läsas av andra (läge 0644): chmod 600 {key_path}"
    )
    monkeypatch.setenv("TSK_AUDIT_KEY", str(tmp_path / "nokey.pem"))
    assert "finns inte" in tsk.refused("audit", "checkpoint")
    assert not (tmp_path / "published").exists()


def test_checkpoint_signs_the_head_and_appends_it(
    tsk: Tsk, store: Store, tmp_path: Path, key_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "published"
    monkeypatch.setenv("TSK_AUDIT_KEY", str(key_path))
    monkeypatch.setenv("TSK_CHECKPOINT_DIR", str(folder))
    tsk.ok("cycle", "open", "est", "--period", "2027-03", as_=CHAIR)
    made = tsk.ok("audit", "checkpoint")
    with store.reading() as session:
        result = audit.verify(session)
    assert (made["seq"], made["count"], made["hash"]) == (
        result.checked,
        result.checked,
        result.head_hash,
    )
    assert made["at"] == tsk.clock.now.isoformat()
    assert made["file"] == str(folder / "checkpoints.jsonl")
    assert made["mailed"] is False
    text = tsk.text("audit", "checkpoint")
    assert text == (
        f"Kontrollpunkt {made['seq']} signerad (nyckel {made['key_id'][:8]}…):"
        f" {folder / 'checkpoints.jsonl'}\n"
    )
    found, problems = checkpoints.read(folder)
    assert problems == []
    assert [c.to_dict() for c in found][0] == {
        k: v for k, v in made.items() if k not in {"file", "mailed"}
    }
    public = checkpoints.load_public_key(checkpoints.public_path(key_path))
    assert checkpoints.check_store(store, found, public) == (made["seq"], [])
    assert store_outbox(store, "audit_checkpoint") == []  # no TSK_CHECKPOINT_MAILTO: no mail queued


def store_outbox(store: Store, template: str) -> list[OutboxMessage]:
    with store.reading() as session:
        query = select(OutboxMessage).where(OutboxMessage.template == template)
        return list(session.scalars(query.order_by(OutboxMessage.id)))


def parts(message: EmailMessage) -> dict[str, str]:
    found = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            assert isinstance(part, EmailMessage)
            found[part.get_content_type()] = str(part.get_content())
    return found


def test_the_checkpoint_mail_arrives_with_the_line_verbatim(
    tsk: Tsk, store: Store, tmp_path: Path, key_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TSK_AUDIT_KEY", str(key_path))
    monkeypatch.setenv("TSK_CHECKPOINT_DIR", str(tmp_path / "published"))
    monkeypatch.setenv(
        "TSK_CHECKPOINT_MAILTO", "Registraturen <registrator@herrljunga.example.org>"
    )
    tsk.ok("cycle", "open", "est", "--period", "2027-03", as_=CHAIR)
    made = tsk.ok("audit", "checkpoint")
    assert made["mailed"] is True
    (row,) = store_outbox(store, "audit_checkpoint")
    assert (row.recipient, row.email, row.municipality, row.status) == (
        "checkpoint",
        "registrator@herrljunga.example.org",
        "herrljunga",
        "pending",
    )
    line = (tmp_path / "published" / "checkpoints.jsonl").read_text().splitlines()[0]
    found = checkpoints.parse(line)
    with store.transaction() as session:  # the same checkpoint again: queued once
        assert checkpoints.queue_mail(session, tsk_org(), "x@example.org", found, AT) == 0

    with SmtpServer() as smtp:
        env = {
            "TSK_SMTP_HOST": smtp.host,
            "TSK_SMTP_PORT": str(smtp.port),
            "TSK_SMTP_TIMEOUT": "5",
        }
        sent = outbox.deliver(store, {"herrljunga": tsk_org()}, env, tsk.clock.now)
        assert sent.failed == 0
        mails = [m for m in smtp.messages if "registrator@" in m.rcpt_tos[0]]
    assert len(mails) == 1
    message = mails[0].message
    assert message["Message-ID"] == row.message_id
    assert message["To"] == "Registraturen <registrator@herrljunga.example.org>"
    assert message["Subject"] == (
        f"Kontrollpunkt för granskningsloggen 2027-03-01: händelse {made['seq']}"
    )
    text = parts(message)["text/plain"]
    assert text.startswith("Hej Registraturen!")
    assert line in text.splitlines()
    assert "utanför kommunens IT-system" in text
    assert "Herrljunga kommun" in text
    html = parts(message)["text/html"]
    assert found.signature
    assert base64.b64encode(found.signature).decode() in html


def tsk_org() -> Any:
    from tests.enginekit import shared_organisation

    return shared_organisation("herrljunga")


def test_the_mail_renders_in_english_too(key: Ed25519PrivateKey) -> None:
    from tsk_workflow.mail.render import render

    made = signed(key, 3, chain(3))
    context = {
        "person": {"id": "checkpoint", "name": "registrar"},
        "municipality": {"key": "herrljunga", "name": "Herrljunga kommun"},
        "checkpoint": {
            **made.to_dict(),
            "at": "2027-03-10T23:45:00+01:00",
            "line": made.to_line(),
        },
    }
    english = render("audit_checkpoint", "en", context)
    assert english.subject == "Audit trail checkpoint 2027-03-10: event 3"
    assert made.to_line() in english.text.splitlines()
    assert "outside the municipality's IT systems" in english.text


# ------------------------------------------------------------------ the scheduler's daily one


def test_tick_signs_one_checkpoint_a_day_after_the_organisations_time(
    tsk: Tsk, store: Store, tmp_path: Path, key_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "published"
    monkeypatch.setenv("TSK_AUDIT_KEY", str(key_path))
    monkeypatch.setenv("TSK_CHECKPOINT_DIR", str(folder))

    def tick(when: dt.datetime) -> Any:
        tsk.clock.now = when
        return tsk.ok("tick", "--now", when.isoformat(), "--no-send")["checkpoint"]

    assert tick(local(2027, 3, 1, 23, 44)) is None  # Herrljunga: 23:45 (the default)
    assert not folder.exists()
    first = tick(local(2027, 3, 1, 23, 50))
    assert first["at"] == local(2027, 3, 1, 23, 50).isoformat()
    assert tick(local(2027, 3, 1, 23, 59)) is None  # once a day
    assert tick(local(2027, 3, 2, 8, 0)) is None  # the next day, before the time
    second = tick(local(2027, 3, 2, 23, 45))
    assert second["seq"] >= first["seq"]
    found, problems = checkpoints.read(folder)
    assert problems == []
    assert [c.at for c in found] == [local(2027, 3, 1, 23, 50), local(2027, 3, 2, 23, 45)]
    with store.reading() as session:
        days = session.scalars(select(Timer.key).where(Timer.kind == "checkpoint")).all()
    assert sorted(days) == ["checkpoint:2027-03-01", "checkpoint:2027-03-02"]

    text = tsk.text("tick", "--now", local(2027, 3, 3, 23, 46).isoformat(), "--no-send")
    assert "kontrollpunkt: " in text
    assert " signerad (nyckel " in text


def test_tick_without_a_key_says_why_and_goes_on(
    tsk: Tsk, tmp_path: Path, key_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    late = local(2027, 3, 1, 23, 50).isoformat()
    made = tsk.ok("tick", "--now", late, "--no-send")
    assert made["checkpoint"] == {"skipped": checkpoints.skip_reason({})}
    text = tsk.text("tick", "--now", late, "--no-send")
    assert "kontrollpunkt: ingen (TSK_AUDIT_KEY är inte satt" in text
    early = tsk.ok("tick", "--now", local(2027, 3, 1, 9).isoformat(), "--no-send")
    assert early["checkpoint"] is None

    # A key that cannot be used: the pass does its work, then exits 1 saying why.
    monkeypatch.setenv("TSK_AUDIT_KEY", str(key_path))
    monkeypatch.setenv("TSK_CHECKPOINT_DIR", str(tmp_path / "published"))
    key_path.chmod(0o644)
    result = tsk("--lang", "en", "tick", "--now", late, "--no-send", "--json")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert json.loads(result.stdout)["checkpoint"]["failed"].startswith("audit key")
    assert result.stderr.splitlines() == [
        f"tsk: no checkpoint signed: audit key {key_path} may be read by others (mode 0644):"
        f" chmod 600 {key_path}"
    ]
    swedish = tsk("tick", "--now", late, "--no-send", "--json")
    assert swedish.exit_code == 1
    assert json.loads(swedish.stdout)["checkpoint"]["failed"].startswith("audit-nyckeln")
    assert swedish.stderr.splitlines() == [
        f"tsk: ingen kontrollpunkt signerad: audit-nyckeln {key_path} kan läsas av andra"
        f" (läge 0644): chmod 600 {key_path}"
    ]


def test_two_workers_at_once_sign_the_day_once(
    store: Store, tmp_path: Path, key_path: Path
) -> None:
    engine = make_engine(store, clock=Clock(local(2027, 3, 1)))
    engine.open_cycle(CHAIR, "est", "2027-03")
    publishing = Publishing(key_path, tmp_path / "published")
    orgs = {"herrljunga": engine.org}
    now = local(2027, 3, 1, 23, 50)
    start = threading.Barrier(4)
    made: list[Any] = []

    def worker(number: int) -> None:
        start.wait()
        made.append(checkpoints.daily_checkpoint(store, orgs, publishing, now, f"w{number}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    signed_now = [m for m in made if m is not None]
    assert len(made) == 4
    assert len(signed_now) == 1
    found, _ = checkpoints.read(publishing.directory)
    assert found == [signed_now[0].checkpoint]


def test_the_service_signs_the_days_checkpoint_at_its_time(
    store: Store, tmp_path: Path, key_path: Path
) -> None:
    clock = Clock(local(2027, 3, 1, 23, 45))
    engine = make_engine(store, clock=clock)
    env = {"TSK_AUDIT_KEY": str(key_path), "TSK_CHECKPOINT_DIR": str(tmp_path / "published")}
    service = Service({"herrljunga": engine}, Options(), clock=clock, environ=env)
    made = service.run_pass()
    assert made is not None
    assert made.checkpoint is not None
    assert made.checkpoint["seq"] == 0
    again = service.run_pass()
    assert again is not None
    assert again.checkpoint is None
    unset = Service({"herrljunga": engine}, Options(), clock=clock, environ={})
    clock.now = local(2027, 3, 2, 23, 45)
    skipped = unset.run_pass()
    assert skipped is not None
    assert skipped.checkpoint == {"skipped": checkpoints.skip_reason({})}


# ------------------------------------------------------------------ the demo


def test_the_demo_signs_a_checkpoint_each_day_and_checks_them(tmp_path: Path) -> None:
    from tsk_workflow.demo.run import run_demo

    out = tmp_path / "demo"
    result = run_demo("herrljunga", 2027, out, until=dt.date(2027, 1, 12))
    summary = result.to_json()
    assert summary["audit"]["ok"], summary["audit"]
    marks = summary["checkpoints"]
    assert marks["signed"] == 12
    assert marks["time"] == "23:45"
    assert marks["anchored_to"] == summary["audit"]["events"]
    assert mode(out / "audit-key.pem") == 0o600
    found, problems = checkpoints.read(Path(marks["file"]))
    assert problems == []
    assert found[0].at == local(2027, 1, 1, 23, 45)
    public = checkpoints.load_public_key(Path(marks["public_key"]))
    assert {c.key_id for c in found} == {checkpoints.key_id(public)}
    (out / "tsk.db").unlink()
    with pytest.raises(FileExistsError, match="audit-key.pem finns redan"):
        run_demo("herrljunga", 2027, out, until=dt.date(2027, 1, 2))
    with i18n.speaking("en"), pytest.raises(FileExistsError, match="audit-key.pem already exists"):
        run_demo("herrljunga", 2027, out, until=dt.date(2027, 1, 2))


def test_the_verify_engineers_view_of_a_file_checked_against_a_store(
    store: Store, tmp_path: Path, key_path: Path, key: Ed25519PrivateKey
) -> None:
    """What ``audit verify`` is to do: read the file, collect the hashes at the wanted seqs while
    it streams the chain, and check."""
    engine = make_engine(store, clock=Clock(local(2027, 3, 1)))
    engine.open_cycle(CHAIR, "est", "2027-03")
    folder = tmp_path / "published"
    with store.transaction() as session:
        checkpoints.publish(session, key, Publishing(key_path, folder), AT)
    with (folder / "checkpoints.jsonl").open("a") as file:
        file.write("garbage\n")
    found, problems = checkpoints.read(folder)
    wanted = checkpoints.seqs_wanted(found)
    with store.reading() as session:
        rows = session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq))
        hashes, last = checkpoints.collect_hashes(((s, h) for s, h in rows), wanted)
    anchored, more = checkpoints.check(found, key.public_key(), hashes, last)
    assert anchored == last
    assert kinds(problems + more) == ["checkpoint_unreadable"]
