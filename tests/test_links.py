"""Signed task links (``tsk_workflow.links``): the token, its expiry on virtual time, tampering,
the settings from the environment, and the words people get. Pure: no store, no clock."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsk_workflow import i18n, links
from tsk_workflow.errors import Refused, TskError
from tsk_workflow.links import (
    LinkConfigError,
    LinkRefused,
    LinkSettings,
    link_settings,
    link_state,
    make_token,
    read_token,
    replayed,
    task_link,
)

KEY = "k7Jq2mVxP9sLw4RtY8nB3cZeH6uA1dGf5oKiM0pXqWs"
SETTINGS = LinkSettings("https://tsk.herrljunga.example.org", KEY.encode())
ISSUED = dt.datetime(2027, 3, 1, 7, 5, tzinfo=dt.UTC)
EXPIRES = ISSUED + dt.timedelta(days=14)
URL_SAFE = set(string.ascii_letters + string.digits + "-_.")


def token(person: str = "ida.wikstrom", task: int = 34, issued: dt.datetime = ISSUED) -> str:
    return make_token(SETTINGS, "herrljunga", person, task, issued)


def refusal(settings: LinkSettings, text: str, now: dt.datetime) -> LinkRefused:
    with pytest.raises(LinkRefused) as caught:
        read_token(settings, text, now)
    return caught.value


def resigned_payload(text: str, claims: list[object]) -> str:
    """``text`` with its payload replaced by ``claims`` and its signature kept."""
    payload = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode())
    return payload.decode().rstrip("=") + "." + text.rsplit(".", 1)[1]


# ---------------------------------------------------------------- the token


def test_a_token_reads_back_to_its_person_and_task() -> None:
    made = token()
    claims = read_token(SETTINGS, made, ISSUED + dt.timedelta(days=3))
    assert (claims.municipality, claims.person, claims.task) == ("herrljunga", "ida.wikstrom", 34)
    assert (claims.issued_at, claims.expires_at) == (ISSUED, EXPIRES)
    assert claims.token_id == links.token_id(made)
    assert len(claims.token_id) == 16
    assert made not in claims.token_id


def test_a_token_is_url_safe_short_and_the_same_each_time() -> None:
    made = token()
    assert set(made) <= URL_SAFE
    assert len(made) < 160
    assert token() == made  # a mail sent again carries the same link
    assert token(task=35) != made
    assert token(person="jonas.ek") != made


def test_the_link_is_the_base_url_with_the_token() -> None:
    settings = LinkSettings("http://127.0.0.1:8000/", KEY.encode())
    link = task_link(settings, "herrljunga", "ida.wikstrom", 34, ISSUED)
    assert link == "http://127.0.0.1:8000/t/" + make_token(
        settings, "herrljunga", "ida.wikstrom", 34, ISSUED
    )


@given(
    person=st.from_regex(r"[a-z][a-z0-9_.-]{0,40}", fullmatch=True),
    task=st.integers(min_value=1, max_value=2**40),
    seconds=st.integers(min_value=0, max_value=2 * 10**9),
)
def test_any_person_and_task_round_trip(person: str, task: int, seconds: int) -> None:
    issued = dt.datetime.fromtimestamp(seconds, dt.UTC)
    made = make_token(SETTINGS, "herrljunga", person, task, issued)
    claims = read_token(SETTINGS, made, issued)
    assert (claims.person, claims.task, claims.issued_at) == (person, task, issued)


# ---------------------------------------------------------------- expiry, on virtual time


def test_a_token_works_until_its_expiry_and_not_from_then_on() -> None:
    made = token()
    assert read_token(SETTINGS, made, EXPIRES - dt.timedelta(seconds=1)).task == 34
    refused = refusal(SETTINGS, made, EXPIRES)
    assert refused.kind == "expired"
    assert refused.claims is not None
    assert refused.claims.person == "ida.wikstrom"
    assert refused.token_id == links.token_id(made)
    assert refusal(SETTINGS, made, EXPIRES + dt.timedelta(days=400)).kind == "expired"


def test_the_days_are_the_settings_and_fixed_when_the_link_is_made() -> None:
    short = LinkSettings(SETTINGS.base_url, SETTINGS.key, days=1)
    made = make_token(short, "herrljunga", "ida.wikstrom", 34, ISSUED)
    assert read_token(SETTINGS, made, ISSUED).expires_at == ISSUED + dt.timedelta(days=1)
    # reading with settings of 14 days does not lengthen a link made for one
    assert refusal(SETTINGS, made, ISSUED + dt.timedelta(days=2)).kind == "expired"
    assert links.expires_at(short, ISSUED) == ISSUED + dt.timedelta(days=1)


def test_the_expiry_is_said_in_the_time_zone_of_now() -> None:
    from zoneinfo import ZoneInfo

    later = (EXPIRES + dt.timedelta(hours=1)).astimezone(ZoneInfo("Europe/Stockholm"))
    refused = refusal(SETTINGS, token(), later)
    assert "2027-03-15 08:05" in str(refused)  # 07:05 UTC is 08:05 in Stockholm in March


# ---------------------------------------------------------------- tampering


def test_a_changed_character_anywhere_is_tampering() -> None:
    made = token()
    now = ISSUED + dt.timedelta(days=1)
    for position in range(len(made)):
        if made[position] == ".":
            continue
        for replacement in "AQw_":
            if replacement == made[position]:
                continue
            changed = made[:position] + replacement + made[position + 1 :]
            refused = refusal(SETTINGS, changed, now)
            assert refused.kind == "tampered", (position, replacement)
            assert refused.claims is None


def test_another_task_or_person_under_the_old_signature_is_tampering() -> None:
    made = token()
    now = ISSUED + dt.timedelta(days=1)
    start, expires = int(ISSUED.timestamp()), int(EXPIRES.timestamp())
    for claims in (
        [1, "herrljunga", "ida.wikstrom", 35, start, expires],  # the task swapped
        [1, "herrljunga", "jessica.wahlstrom", 34, start, expires],  # the person
        [1, "herrljunga", "ida.wikstrom", 34, start, expires + 86400 * 300],  # longer
        [1, "tranemo", "ida.wikstrom", 34, start, expires],  # another municipality
    ):
        assert refusal(SETTINGS, resigned_payload(made, claims), now).kind == "tampered"


def test_a_cut_or_empty_or_foreign_token_is_tampering() -> None:
    made = token()
    now = ISSUED
    for text in (made[:-1], made[:20], made.split(".")[0], "", ".", "x" * 5000, "äö.å"):
        assert refusal(SETTINGS, text, now).kind == "tampered"


def test_a_token_of_another_key_is_tampering() -> None:
    other = LinkSettings(SETTINGS.base_url, b"another-key-of-the-same-length-0123456789ab")
    made = make_token(other, "herrljunga", "ida.wikstrom", 34, ISSUED)
    assert read_token(other, made, ISSUED).task == 34
    assert refusal(SETTINGS, made, ISSUED).kind == "tampered"


def test_a_token_of_another_salt_is_tampering() -> None:
    """A value the same key signs for something else (a session cookie) is no link."""
    from itsdangerous import URLSafeSerializer

    cookie = URLSafeSerializer(SETTINGS.key, salt="session").dumps(
        [1, "herrljunga", "ida.wikstrom", 34, 0, 2 * 10**9]
    )
    assert refusal(SETTINGS, cookie, ISSUED).kind == "tampered"


def test_a_genuine_signature_over_claims_of_the_wrong_shape_is_tampering() -> None:
    import hashlib

    from itsdangerous import URLSafeSerializer

    sign = URLSafeSerializer(
        SETTINGS.key, salt=links.SALT, signer_kwargs={"digest_method": hashlib.sha256}
    )
    for claims in (
        {"person": "ida.wikstrom", "task": 34},
        [2, "herrljunga", "ida.wikstrom", 34, 0, 2 * 10**9],
        [1, "herrljunga", "ida.wikstrom", "34", 0, 2 * 10**9],
        [1, "herrljunga", "", 34, 0, 2 * 10**9],
        [1, "herrljunga", "ida.wikstrom", 34, 10, 5],
        [1, "herrljunga", "ida.wikstrom", True, 0, 2 * 10**9],
    ):
        assert refusal(SETTINGS, sign.dumps(claims), ISSUED).kind == "tampered", claims


# ---------------------------------------------------------------- what the person is told


def test_refusals_are_refused_acts_said_in_swedish_by_default_and_in_english() -> None:
    made = token()
    tampered = refusal(SETTINGS, made[:-3], ISSUED)
    expired = refusal(SETTINGS, made, EXPIRES)
    assert isinstance(tampered, Refused)
    assert isinstance(tampered, TskError)
    assert str(tampered).startswith("länken är inte giltig")
    assert str(expired).startswith("länken gick ut 2027-03-15 07:05")
    with i18n.speaking("en"):
        assert str(refusal(SETTINGS, made[:-3], ISSUED)).startswith("the link is not valid")
        assert str(refusal(SETTINGS, made, EXPIRES)).startswith("the link expired on")


def test_a_replayed_link_says_the_task_was_done() -> None:
    claims = read_token(SETTINGS, token(), ISSUED)
    done = replayed(claims, "done")
    assert (done.kind, done.claims, done.token_id) == ("replayed", claims, claims.token_id)
    assert str(done) == "uppgift 34 är redan klar: länken har använts förut"
    with i18n.speaking("en"):
        assert str(replayed(claims, "cancelled")) == (
            "task 34 is no longer open (cancelled): nothing was done"
        )


def test_the_state_of_a_linked_task_for_its_person() -> None:
    claims = read_token(SETTINGS, token(), ISSUED)
    assert link_state(claims, "open", ["ida.wikstrom"]) == "open"
    assert link_state(claims, "done", ["ida.wikstrom"]) == "done"
    assert link_state(claims, "cancelled", ["ida.wikstrom"]) == "cancelled"
    assert link_state(claims, "open", ["jonas.ek"]) == "reassigned"
    assert link_state(claims, "open", ["jonas.ek"], may_complete=True) == "open"  # a chair


# ---------------------------------------------------------------- settings


def env(**values: str) -> dict[str, str]:
    return {"TSK_BASE_URL": "https://tsk.herrljunga.example.org", "TSK_SECRET_KEY": KEY} | values


def test_settings_from_the_environment() -> None:
    settings = link_settings(env())
    assert settings == LinkSettings("https://tsk.herrljunga.example.org", KEY.encode(), 14)
    assert KEY not in repr(settings)
    assert link_settings(env(TSK_LINK_DAYS="3", TSK_MAIL_LINKS="on")) == LinkSettings(
        "https://tsk.herrljunga.example.org", KEY.encode(), 3
    )
    trailing = link_settings(env(TSK_BASE_URL="https://tsk.example.org/tjanst/"))
    assert trailing is not None
    assert trailing.base_url == "https://tsk.example.org/tjanst"


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"TSK_BASE_URL": "https://tsk.example.org"},  # no key
        {"TSK_SECRET_KEY": KEY},  # nowhere to point
        {"TSK_BASE_URL": "", "TSK_SECRET_KEY": KEY},
        env(TSK_MAIL_LINKS="off"),
        env(TSK_MAIL_LINKS="false"),
        env(TSK_MAIL_LINKS="0"),
        env(TSK_MAIL_LINKS="OFF"),
        env(TSK_MAIL_LINKS="off", TSK_LINK_DAYS="nonsense"),  # off is off
    ],
)
def test_no_links_without_a_base_url_or_a_key_or_when_turned_off(environ: dict[str, str]) -> None:
    assert link_settings(environ) is None


@pytest.mark.parametrize(
    ("environ", "said"),
    [
        (env(TSK_MAIL_LINKS="maybe"), "TSK_MAIL_LINKS måste vara on eller off, inte 'maybe'"),
        (env(TSK_LINK_DAYS="0"), "TSK_LINK_DAYS måste vara ett antal dagar från 1 till 365"),
        (env(TSK_LINK_DAYS="two"), "TSK_LINK_DAYS måste vara ett antal dagar från 1 till 365"),
        (env(TSK_LINK_DAYS="366"), "inte '366'"),
        (env(TSK_LINK_DAYS="-3"), "inte '-3'"),
        (env(TSK_BASE_URL="tsk.example.org"), "TSK_BASE_URL måste vara tjänstens adress"),
        (env(TSK_BASE_URL="ftp://tsk.example.org"), "TSK_BASE_URL måste vara tjänstens adress"),
        (env(TSK_BASE_URL="https://x.org/?a=1"), "TSK_BASE_URL måste vara tjänstens adress"),
        (env(TSK_SECRET_KEY="kort"), "TSK_SECRET_KEY: nyckeln måste vara minst 32 tecken"),
        (env(TSK_SECRET_KEY_FILE="/nowhere/key"), "TSK_SECRET_KEY_FILE"),
    ],
)
def test_wrong_settings_are_one_clear_error(environ: dict[str, str], said: str) -> None:
    with pytest.raises(LinkConfigError) as caught:
        link_settings(environ)
    assert said in str(caught.value)
    assert isinstance(caught.value, TskError)


def test_wrong_settings_in_english() -> None:
    with i18n.speaking("en"), pytest.raises(LinkConfigError, match="from 1 to 365, not '0'"):
        link_settings(env(TSK_LINK_DAYS="0"))


def test_the_key_from_a_file_of_its_owners_only(tmp_path: Path) -> None:
    path = tmp_path / "link-key"
    links.write_key_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    key = path.read_text().strip()
    assert len(key) >= 32
    settings = link_settings(
        {"TSK_BASE_URL": "https://tsk.example.org", "TSK_SECRET_KEY_FILE": str(path)}
    )
    assert settings is not None
    assert settings.key == key.encode()
    with pytest.raises(LinkConfigError, match="finns redan"):
        links.write_key_file(path)


def test_a_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "link-key"
    path.write_text(KEY)
    os.chmod(path, 0o644)
    environ = {"TSK_BASE_URL": "https://tsk.example.org", "TSK_SECRET_KEY_FILE": str(path)}
    with pytest.raises(LinkConfigError, match=r"kan läsas av andra \(läge 0644\): chmod 600"):
        link_settings(environ)
    os.chmod(path, 0o600)
    assert link_settings(environ) is not None


def test_a_short_key_file_and_both_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "link-key"
    path.write_text("short\n")
    os.chmod(path, 0o600)
    with pytest.raises(LinkConfigError, match="minst 32 tecken"):
        link_settings(env(TSK_SECRET_KEY="", TSK_SECRET_KEY_FILE=str(path)))
    with pytest.raises(LinkConfigError, match="inte båda"):
        link_settings(env(TSK_SECRET_KEY_FILE=str(path)))


def test_settings_made_in_code_are_checked_too() -> None:
    with pytest.raises(LinkConfigError):
        LinkSettings("https://tsk.example.org", b"short")
    with pytest.raises(LinkConfigError):
        LinkSettings("https://tsk.example.org", KEY.encode(), days=0)
