"""Mail settings from the environment and the organisation file (with ``TSK_TEMPLATE_ROOT``, the
folder of the municipalities' own templates), and the retry schedule."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsk_workflow import i18n
from tsk_workflow.errors import TskError
from tsk_workflow.mail.render import Held
from tsk_workflow.mail.smtp import SmtpConfigError, SmtpSettings, backoff
from tsk_workflow.mail.templates import template_folder

ENV = {
    "TSK_SMTP_HOST": "smtp.herrljunga.se",
    "TSK_SMTP_PORT": "2525",
    "TSK_SMTP_STARTTLS": "true",
    "TSK_SMTP_USER": "tsk",
    "TSK_SMTP_PASSWORD": "hemligt",
    "TSK_MAIL_FROM": "TSK Herrljunga <tsk@herrljunga.se>",
}


def test_nothing_set_gives_local_defaults() -> None:
    settings = SmtpSettings.from_env({})
    assert (settings.host, settings.port, settings.starttls, settings.tls) == (
        "localhost",
        25,
        False,
        False,
    )
    assert settings.user is None
    assert settings.password is None


def test_the_environment() -> None:
    settings = SmtpSettings.from_env(ENV)
    assert settings == SmtpSettings(
        host="smtp.herrljunga.se",
        port=2525,
        starttls=True,
        tls=False,
        user="tsk",
        password="hemligt",
        sender="TSK Herrljunga <tsk@herrljunga.se>",
    )


def test_the_environment_wins_over_the_organisation_file() -> None:
    defaults = {"host": "smtp.example.se", "port": 587, "starttls": True, "from": "x@example.se"}
    settings = SmtpSettings.from_env({"TSK_SMTP_HOST": "relay.herrljunga.se"}, defaults)
    assert settings.host == "relay.herrljunga.se"
    assert (settings.port, settings.starttls, settings.sender) == (587, True, "x@example.se")


def test_an_empty_variable_counts_as_unset() -> None:
    settings = SmtpSettings.from_env({"TSK_SMTP_HOST": "", "TSK_SMTP_PORT": ""}, {"host": "h"})
    assert (settings.host, settings.port) == ("h", 25)


def test_none_in_the_organisation_file_counts_as_unset() -> None:
    assert SmtpSettings.from_env({}, {"host": None, "password": None}).host == "localhost"


@pytest.mark.parametrize(
    ("env", "port"),
    [({"TSK_SMTP_TLS": "yes"}, 465), ({"TSK_SMTP_STARTTLS": "1"}, 587), ({}, 25)],
)
def test_the_default_port_follows_the_kind_of_tls(env: dict[str, str], port: int) -> None:
    assert SmtpSettings.from_env(env).port == port


@pytest.mark.parametrize(("word", "value"), [("TRUE", True), ("on", True), ("0", False)])
def test_true_and_false(word: str, value: bool) -> None:
    assert SmtpSettings.from_env({"TSK_SMTP_STARTTLS": word}).starttls is value


def test_the_password_is_not_shown() -> None:
    assert "hemligt" not in repr(SmtpSettings.from_env(ENV))


@pytest.mark.parametrize(
    ("env", "defaults", "message", "swedish"),
    [
        (
            {"TSK_SMTP_STARTTLS": "kanske"},
            {},
            "TSK_SMTP_STARTTLS must be true or false",
            "TSK_SMTP_STARTTLS måste vara true eller false",
        ),
        (
            {"TSK_SMTP_PORT": "smtp"},
            {},
            "TSK_SMTP_PORT must be a port number",
            "TSK_SMTP_PORT måste vara ett portnummer",
        ),
        (
            {"TSK_SMTP_PORT": "70000"},
            {},
            "TSK_SMTP_PORT must be a port number",
            "TSK_SMTP_PORT måste vara ett portnummer",
        ),
        (
            {},
            {"port": True},
            "'port' in the organisation file must be a port number",
            "e-postinställningen 'port' i organisationsfilen måste vara ett portnummer",
        ),
        (
            {"TSK_SMTP_TIMEOUT": "-1"},
            {},
            "TSK_SMTP_TIMEOUT must be seconds",
            "TSK_SMTP_TIMEOUT måste vara sekunder",
        ),
        (
            {"TSK_SMTP_TLS": "true", "TSK_SMTP_STARTTLS": "true"},
            {},
            "cannot both be on",
            "kan inte båda vara på",
        ),
        ({"TSK_SMTP_USER": "tsk"}, {}, "TSK_SMTP_PASSWORD is not", "men inte TSK_SMTP_PASSWORD"),
        (
            {},
            {"password": "hemligt"},
            "must come from TSK_SMTP_PASSWORD",
            "måste komma från TSK_SMTP_PASSWORD",
        ),
        ({}, {"hots": "x"}, "unknown mail setting 'hots'", "okänd e-postinställning 'hots'"),
        (
            {"TSK_MAIL_FROM": "tsk at herrljunga"},
            {},
            "TSK_MAIL_FROM: not a mail address",
            "TSK_MAIL_FROM: inte en e-postadress",
        ),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(
    env: dict[str, str], defaults: dict[str, Any], message: str, swedish: str
) -> None:
    with pytest.raises(SmtpConfigError, match=swedish) as caught:
        SmtpSettings.from_env(env, defaults)
    assert isinstance(caught.value, TskError)
    with i18n.speaking("en"), pytest.raises(SmtpConfigError, match=message):
        SmtpSettings.from_env(env, defaults)


@pytest.mark.parametrize(
    ("attempts", "minutes"),
    [(1, 1), (2, 2), (3, 4), (4, 8), (9, 256), (10, 360), (1000, 360)],
)
def test_backoff_doubles_up_to_six_hours(attempts: int, minutes: int) -> None:
    assert backoff(attempts) == timedelta(minutes=minutes)


def test_backoff_needs_an_attempt() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        backoff(0)


@given(st.integers(min_value=1, max_value=10_000))
def test_backoff_never_shrinks_and_never_exceeds_the_cap(attempts: int) -> None:
    assert backoff(attempts) <= backoff(attempts + 1) <= timedelta(hours=6)


def test_an_empty_template_root_counts_as_unset() -> None:
    with pytest.raises(Held, match="men TSK_TEMPLATE_ROOT är inte satt: administratören sätter"):
        template_folder("mallar", {"TSK_TEMPLATE_ROOT": ""})
    with (
        i18n.speaking("en"),
        pytest.raises(Held, match="but TSK_TEMPLATE_ROOT is not set: the administrator sets"),
    ):
        template_folder("mallar", {"TSK_TEMPLATE_ROOT": ""})


def test_the_template_root_is_resolved_and_the_name_is_only_a_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mallrot" / "mallar" / "sv").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    env = {"TSK_TEMPLATE_ROOT": "mallrot"}
    assert template_folder("mallar", env) == tmp_path.resolve() / "mallrot" / "mallar"
    for name in ("../mallrot/mallar", str(tmp_path / "mallrot" / "mallar"), "mallar/sv"):
        with pytest.raises(
            Held, match="inte en sökväg"
        ):  # even if the organisation was not checked
            template_folder(name, env)
