"""The command line as a client of the service (``TSK_URL``), end to end, on SQLite and
PostgreSQL: ``tsk serve`` runs as a process of its own over Herrljunga's database, signing
people in through the real oidc-provider (``tests/oidcfixtures.py``), and ``tsk`` talks to it
over HTTP only.

``tsk login`` is run as a process too: the test reads the address it prints, approves the
device sign-in at the provider as the person would in a browser, and waits for the command to
keep the token (0600, in a folder 0700). The other people sign in the same way from the test
(the device flow, then ``POST /api/v1/tokens``), and their commands run in-process
(``CliRunner``) with ``TSK_URL`` and a config folder of their own.

What is refused is refused in one line and kept among the refused acts: ``--as`` and
``TSK_USER``, a revoked token (after ``tsk logout``), an expired one, a changed one, an ID token
issued for another client, and too many attempts at the token door (429).
"""

from __future__ import annotations

import json
import signal
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, update

from tests.conftest import command_environment, tsk_executable
from tests.enginekit import Clock, local
from tests.oidcfixtures import DEFAULT_ACCOUNTS, DEVICE_CODE_GRANT, OIDCFactory, OIDCProvider
from tests.webkit import KEY, herrljunga
from tsk_workflow.cli import cli
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import ApiToken, AuditEvent, RefusedAct
from tsk_workflow.web.ratelimit import LIMITS

CLOCK_START = local(2027, 3, 1, 8)
SERVICE_NOW = "2027-03-02T09:00"  # the service's virtual time: the day after Herrljunga is set up
SCOPE = "openid email profile"

CHAIR = "jessica.wahlstrom"  # chairs EST; an admin (reads the audit trail)
REPORTER = "ida.wikstrom"  # inrapportör in EST
ACCOUNTS: dict[str, dict[str, Any]] = {
    **DEFAULT_ACCOUNTS,
    "idawik01": {
        "email": "ida.wikstrom@herrljunga.example.org",
        "email_verified": True,
        "name": "Ida Wikström",
    },
}
LOGINS = {CHAIR: "jeswah01", REPORTER: "idawik01"}
TOKEN_LIMIT = int(LIMITS["token"].split("/")[0])


# ---------------------------------------------------------------- the provider and the service


@pytest.fixture(scope="module")
def provider(oidc_factory: OIDCFactory) -> Iterator[OIDCProvider]:
    """The municipality's provider: the service's web client (its sign-in is not walked here)
    and the command line's public client ``tsk-cli`` with the device grant."""
    started = oidc_factory.start(accounts=ACCOUNTS)
    yield started
    started.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    url: str
    store: Store
    provider: OIDCProvider
    process: subprocess.Popen[str]


@pytest.fixture
def served(store: Store, clock: Clock, provider: OIDCProvider) -> Iterator[Served]:
    """``tsk serve`` over Herrljunga's database (virtual time), as a process on a port."""
    herrljunga(store, clock)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = command_environment() | {
        "TSK_SECRET_KEY": KEY,
        "TSK_PASS_INTERVAL": "0",
        "TSK_NOW": SERVICE_NOW,
        "TSK_BASE_URL": url,
        "TSK_OIDC_ISSUER": provider.issuer,
        "TSK_OIDC_CLIENT_ID": provider.client_id,
        "TSK_OIDC_CLIENT_SECRET": provider.client_secret,
        "TSK_OIDC_CLI_CLIENT_ID": provider.device_client_id,
    }
    args = [tsk_executable(), "--db", store.url, "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*args, "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60  # start-up on a loaded machine; polled, not slept
        up = False
        while time.monotonic() < deadline and process.poll() is None:
            try:
                up = httpx.get(f"{url}/healthz", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert up, process.stderr.read() if process.stderr else "tsk serve did not start"
        yield Served(url, store, provider, process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


# ---------------------------------------------------------------- signing in


def device_id_token(provider: OIDCProvider, login: str) -> str:
    """The ID token of a device sign-in approved by ``login`` (what ``tsk login`` gets)."""
    metadata = provider.metadata()
    started = httpx.post(
        metadata["device_authorization_endpoint"],
        data={"client_id": provider.device_client_id, "scope": SCOPE},
        timeout=30,
    )
    started.raise_for_status()
    device = started.json()
    with httpx.Client(timeout=30) as browser:
        provider.approve_device(browser, device["verification_uri_complete"], login)
    answer = httpx.post(
        metadata["token_endpoint"],
        data={
            "grant_type": DEVICE_CODE_GRANT,
            "device_code": device["device_code"],
            "client_id": provider.device_client_id,
        },
        timeout=30,
    )
    answer.raise_for_status()
    token: str = answer.json()["id_token"]
    return token


def web_id_token(provider: OIDCProvider, login: str) -> str:
    """The ID token of the service's own web client (``aud`` is that client, not the command
    line's), from the code flow with PKCE as the browser's sign-in gets it."""
    import secrets

    from authlib.common.security import generate_token
    from authlib.integrations.httpx_client import OAuth2Client

    client = OAuth2Client(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        scope=SCOPE,
        redirect_uri=provider.redirect_uris[0],
        code_challenge_method="S256",
        timeout=30,
    )
    verifier = generate_token(48)
    url, _state = client.create_authorization_url(
        provider.metadata()["authorization_endpoint"],
        code_verifier=verifier,
        nonce=secrets.token_urlsafe(16),
    )
    with httpx.Client(timeout=30) as browser:
        callback = provider.sign_in(browser, url, login)
    with client:
        token = client.fetch_token(
            provider.metadata()["token_endpoint"],
            authorization_response=callback,
            code_verifier=verifier,
        )
    id_token: str = token["id_token"]
    return id_token


@dataclass
class Person:
    """Someone signed in to the service, with a config folder of their own."""

    person: str
    folder: Path
    url: str

    @property
    def token_file(self) -> Path:
        return self.folder / "tsk-workflow" / "token.json"

    def env(self, **more: str | None) -> dict[str, str | None]:
        return {
            "TSK_URL": self.url,
            "XDG_CONFIG_HOME": str(self.folder),
            "TSK_DATABASE_URL": None,
            "TSK_ORG": None,
            "TSK_USER": None,
            "TSK_LANG": None,
            "TSK_NOW": None,
            **more,
        }

    def run(self, *args: str, **env: str | None) -> Result:
        return CliRunner(env=self.env(**env)).invoke(cli, list(args))

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, (args, result.output, result.stderr)
        return result

    def token(self) -> str:
        value: str = json.loads(self.token_file.read_text())["token"]
        return value


def signed_in(
    served: Served, person: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Person:
    """``person`` signed in: the device flow, the token from the service, kept as ``tsk
    login`` keeps it."""
    from tsk_workflow.cli import client

    id_token = device_id_token(served.provider, LOGINS[person])
    issued = httpx.post(
        f"{served.url}/api/v1/tokens", json={"id_token": id_token, "label": "test"}, timeout=30
    )
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["person"] == person
    folder = tmp_path / person
    with monkeypatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(folder))
        client.write_token(
            client.Stored(served.url, body["token"], body["person"], body["municipality"])
        )
    return Person(person, folder, served.url)


def on_the_database(served: Served, person: Person, *args: str) -> str:
    """What ``tsk ARGS`` prints on the service's database itself, as ``person`` at the
    service's time (``--db`` on the command line wins over ``TSK_URL``)."""
    result = person.run(
        "--db",
        served.store.url,
        "--org",
        "herrljunga",
        "--as",
        person.person,
        *args,
        TSK_NOW=SERVICE_NOW,
    )
    assert result.exit_code == 0, (args, result.output, result.stderr)
    return result.stdout


def _refusals(store: Store, action: str) -> list[RefusedAct]:
    with store.reading() as session:
        query = select(RefusedAct).where(RefusedAct.action == action).order_by(RefusedAct.id)
        return list(session.scalars(query))


def _read_line(stream: IO[str], timeout: float) -> str | None:
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return line[0] if line else None


# ---------------------------------------------------------------- tsk login, tsk logout


def test_login_keeps_a_token_of_ones_own_and_logout_revokes_it(
    served: Served, tmp_path: Path
) -> None:
    folder = tmp_path / "config"
    env = command_environment() | {"TSK_URL": served.url, "XDG_CONFIG_HOME": str(folder)}
    login = subprocess.Popen(
        [tsk_executable(), "--lang", "en", "login"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert login.stdout is not None
        shown: list[str] = []
        address = None
        while address is None:
            line = _read_line(login.stdout, 60)
            assert line, f"tsk login printed {shown} and then nothing: {login.stderr}"
            shown.append(line)
            if line.startswith("  http"):
                address = line.strip()
        assert address.startswith(served.provider.issuer)
        with httpx.Client(timeout=30) as browser:
            served.provider.approve_device(browser, address, LOGINS[REPORTER])
        out, err = login.communicate(timeout=120)
    finally:
        if login.poll() is None:
            login.kill()
    assert login.returncode == 0, err
    said = "".join(shown) + out
    assert "To sign in, open this address in a browser:" in said
    assert f"Signed in to {served.url} as Ida Wikström (ida.wikstrom, Herrljunga kommun)." in said

    # Kept for the person only.
    ida = Person(REPORTER, folder, served.url)
    assert stat.S_IMODE(ida.token_file.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(ida.token_file.stat().st_mode) == 0o600
    token = ida.token()
    assert token.startswith("tsk_")
    with served.store.reading() as session:
        kept = session.scalars(select(ApiToken)).all()
    assert [(k.person, k.municipality) for k in kept] == [(REPORTER, "herrljunga")]
    assert token not in {k.token_hash for k in kept}  # only its hash is kept

    # Her tasks, through the service, as the API gives them (none yet: no cycle is open).
    listed = ida.ok("task", "list", "--mine", "--json")
    api = httpx.get(
        f"{served.url}/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert api.status_code == 200
    assert json.loads(listed.stdout) == api.json()
    mine = httpx.get(
        f"{served.url}/api/v1/tokens", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()
    assert [(t["label"], t["current"], t["revoked_at"]) for t in mine] == [
        (socket.gethostname(), True, None)
    ]
    assert all("hash" not in name for t in mine for name in t)

    # tsk logout: revoked at the service, removed here.
    out = ida.ok("--lang", "en", "logout").stdout
    assert out == f"Signed out of {served.url}: the token is revoked and removed.\n"
    assert not ida.token_file.exists()
    again = httpx.get(
        f"{served.url}/api/v1/tasks",
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
        timeout=30,
    )
    assert again.status_code == 401
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["detail"] == "The API token is refused: the token was revoked (tsk logout)."
    refused = _refusals(served.store, "api.token")
    assert [(r.actor, r.subject) for r in refused] == [(REPORTER, "/api/v1/tasks")]

    # Without a token the commands say how to sign in.
    gone = ida.run("--lang", "en", "task", "list", "--mine")
    assert gone.exit_code == 1
    assert gone.stderr == f"tsk: not signed in to {served.url}: sign in with 'tsk login'\n"


# ---------------------------------------------------------------- acting through the service


def test_people_act_through_the_service_as_themselves(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jessica = signed_in(served, CHAIR, tmp_path, monkeypatch)
    ida = signed_in(served, REPORTER, tmp_path, monkeypatch)

    opened = json.loads(jessica.ok("cycle", "open", "est", "--period", "2027-03", "--json").stdout)
    assert opened["ref"] == "est-2027-03"
    assert opened["opened_by"] == CHAIR
    shown = jessica.ok("--lang", "en", "cycle", "show", "est-2027-03").stdout
    assert shown.startswith(f"est-2027-03 (id {opened['id']}): ")
    assert "status: open" in shown

    listed = json.loads(ida.ok("task", "list", "--mine", "--json").stdout)
    (report,) = listed
    assert report["assignees"] == [REPORTER]
    assert report["cycle_ref"] == "est-2027-03"
    text = ida.ok("task", "list", "--mine").stdout
    assert text.splitlines()[0].split()[:2] == [str(report["id"]), "öppen"]

    form = ida.ok("--lang", "en", "task", "form", str(report["id"])).stdout
    assert "kategori (required): What is the report about?" in form

    # What the service answers prints as the same command prints it on the database.
    for person, args in (
        (ida, ["task", "list", "--mine", "--json"]),
        (ida, ["task", "list", "--mine"]),
        (ida, ["task", "form", str(report["id"])]),
        (ida, ["task", "form", str(report["id"]), "--json"]),
        (ida, ["task", "form", str(report["id"]), "--template", "-"]),
        (jessica, ["cycle", "show", "est-2027-03", "--json"]),
        (jessica, ["cycle", "show", "est-2027-03"]),
        (jessica, ["cycle", "list"]),
        (jessica, ["cycle", "next", "est-2027-03"]),
    ):
        assert person.ok(*args).stdout == on_the_database(served, person, *args), args

    # A wrong answer: one line per answer, nothing done.
    wrong = ida.run("--lang", "en", "task", "done", str(report["id"]), "--answer", "ort=oslo")
    assert wrong.exit_code == 1
    assert wrong.stderr.startswith("tsk: ")
    assert "ort: " in wrong.stderr

    done = ida.ok(
        "task",
        "done",
        str(report["id"]),
        "--answer",
        "kategori=klotter",
        "--answer",
        "ort=herrljunga",
        "--answer",
        "beskrivning=Klotter på stationen",
        "--note",
        "genom tjänsten",
        "--json",
    )
    row = json.loads(done.stdout)
    assert (row["status"], row["done_by"], row["note"]) == ("done", REPORTER, "genom tjänsten")
    assert row["answers"]["kategori"] == "klotter"

    # The record: Ida did it, as herself; no one acted for her.
    with served.store.reading() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "task.done")).one()
    assert event.actor == REPORTER
    for args in (["audit", "--actor", REPORTER], ["audit", "--json"], ["audit", "--csv"]):
        assert jessica.ok(*args).stdout == on_the_database(served, jessica, *args), args
    trail = json.loads(jessica.ok("audit", "--json", "--actor", REPORTER).stdout)
    (recorded,) = [e for e in trail if e["action"] == "task.done"]
    assert recorded["actor"] == REPORTER
    assert "via" not in (recorded["payload"] or {})

    # Decisions, through the service.
    proposed = jessica.ok(
        "--lang",
        "en",
        "decision",
        "propose",
        "est-2027-03",
        "--title",
        "Fler lampor",
        "--cost",
        "1000",
    ).stdout
    assert proposed.startswith("Decision ")
    decisions = json.loads(jessica.ok("decision", "list", "--json").stdout)
    assert [d["title"] for d in decisions] == ["Fler lampor"]
    for args in (["decision", "list"], ["--lang", "en", "plan", "2027", "--role", "samordnare"]):
        assert jessica.ok(*args).stdout == on_the_database(served, jessica, *args), args

    # An event reported at any time, through the service: as on the database.
    reported = ida.ok(
        "event",
        "report",
        "--category",
        "klotter",
        "--when",
        "2027-03-01T21:00",
        "--town",
        "Herrljunga",
        "--place",
        "stationen",
        "--description",
        "Nya taggar",
        "--json",
    )
    assert json.loads(reported.stdout)["reporter"] == REPORTER
    for args in (
        ["event", "list"],
        ["event", "list", "--json"],
        ["--lang", "en", "event", "list", "--month", "2027-03"],
    ):
        assert ida.ok(*args).stdout == on_the_database(served, ida, *args), args

    # Through the service one acts as oneself: --as and TSK_USER are refused, in one line.
    for args, env in (
        (["--as", CHAIR, "task", "list"], {}),
        (["task", "list"], {"TSK_USER": CHAIR}),
    ):
        refused = ida.run(*args, **env)
        assert refused.exit_code == 1
        assert refused.stderr.startswith("tsk: genom tjänsten agerar du som dig själv")
        assert len(refused.stderr.splitlines()) == 1
    english = ida.run("--lang", "en", "--as", CHAIR, "task", "list")
    assert english.stderr.startswith("tsk: through the service you act as yourself")

    # What the service does not let her read is refused as on the service.
    everyone = ida.run("--lang", "en", "task", "list", "--json")
    assert everyone.exit_code == 1
    assert len(everyone.stderr.splitlines()) == 1
    audit = ida.run("--lang", "en", "audit")
    assert audit.exit_code == 1
    assert len(audit.stderr.splitlines()) == 1


def test_a_token_revoked_expired_or_changed_is_refused_and_kept(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ida = signed_in(served, REPORTER, tmp_path, monkeypatch)
    ida.ok("task", "list", "--mine")

    # Changed: not one the service issued.
    original = ida.token()
    stored = json.loads(ida.token_file.read_text())
    ida.token_file.write_text(json.dumps(stored | {"token": original[:-2] + "xx"}))
    for lang, words in (
        ("sv", "tsk: API-token nekas: "),
        ("en", "tsk: The API token is refused: the token is not one this service issued"),
    ):
        changed = ida.run("--lang", lang, "task", "list", "--mine")
        assert changed.exit_code == 1
        assert changed.stderr.startswith(words), changed.stderr
        assert "tsk login" in changed.stderr
        assert len(changed.stderr.splitlines()) == 1
    assert [(r.actor, r.municipality) for r in _refusals(served.store, "api.token")] == [
        ("token", "herrljunga"),
        ("token", "herrljunga"),
    ]

    # Expired: the service's record says so (its times are the wall clock's).
    ida.token_file.write_text(json.dumps(stored))
    with served.store.transaction() as session:
        session.execute(update(ApiToken).values(expires_at=local(2026, 1, 1)))
    expired = ida.run("--lang", "en", "task", "list", "--mine")
    assert expired.exit_code == 1
    assert "the token expired on 2026-01-01" in expired.stderr
    assert _refusals(served.store, "api.token")[-1].actor == REPORTER

    # A token file others may read is not used.
    ida.token_file.chmod(0o644)
    shared = ida.run("--lang", "en", "task", "list", "--mine")
    assert shared.exit_code == 1
    assert "can be read by others" in shared.stderr


def test_an_id_token_for_another_client_gets_no_token(served: Served) -> None:
    id_token = web_id_token(served.provider, LOGINS[CHAIR])
    for lang, words in (
        ("en", "the ID token was issued for another service (aud mismatch)"),
        ("sv", "ID-token"),
    ):
        answer = httpx.post(
            f"{served.url}/api/v1/tokens",
            json={"id_token": id_token},
            headers={"Accept-Language": lang},
            timeout=30,
        )
        assert answer.status_code == 403
        assert answer.headers["content-type"] == "application/problem+json"
        assert words in answer.json()["detail"]
    assert [r.actor for r in _refusals(served.store, "token")] == ["oidc", "oidc"]
    with served.store.reading() as session:
        assert session.scalars(select(ApiToken)).all() == []


def test_the_token_door_is_rate_limited(served: Served) -> None:
    # Behind the proxy the service believes (127.0.0.1), the client's own address counts.
    address = {"X-Forwarded-For": "203.0.113.7", "Accept-Language": "en"}
    answers = [
        httpx.post(
            f"{served.url}/api/v1/tokens",
            json={"id_token": "not-a-token"},
            headers=address,
            timeout=30,
        )
        for _ in range(TOKEN_LIMIT + 1)
    ]
    assert [a.status_code for a in answers] == [403] * TOKEN_LIMIT + [429]
    assert answers[-1].headers["retry-after"] == "60"
    assert answers[-1].json()["detail"].startswith("Too many attempts")
    # Another address is not held back.
    other = httpx.post(f"{served.url}/api/v1/tokens", json={"id_token": "x"}, timeout=30)
    assert other.status_code == 403


# ---------------------------------------------------------------- which commands go where


def test_commands_on_a_database_say_so_through_the_service(
    store: Store, clock: Clock, tmp_path: Path
) -> None:
    herrljunga(store, clock)
    person = Person(REPORTER, tmp_path, "https://tsk.example.org")
    for args in (["tick"], ["mail", "status"], ["org", "history"], ["audit", "verify"]):
        refused = person.run("--lang", "en", *args)
        assert refused.exit_code == 1, args
        command = " ".join(["tsk", *args])
        assert refused.stderr == (
            f"tsk: '{command}' is not done through the service (https://tsk.example.org): it"
            " works on a database; give one with --db (TSK_DATABASE_URL)\n"
        )
    # Given a database, they work on it, TSK_URL or not.
    assert person.run("--db", store.url, "tick", "--no-send").exit_code == 0
    assert person.run("audit", "verify", TSK_DATABASE_URL=store.url).exit_code == 0


def test_a_token_kept_names_the_service_when_no_database_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tsk_workflow.cli import client

    nowhere = "http://127.0.0.1:9"  # nothing listens there
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    client.write_token(client.Stored(nowhere, "tsk_x", REPORTER, "herrljunga"))
    person = Person(REPORTER, tmp_path, nowhere)
    found = person.run("--lang", "en", "task", "list", TSK_URL=None)
    assert found.exit_code == 1
    assert found.stderr.startswith(f"tsk: the service at {nowhere} cannot be reached: ")
    assert len(found.stderr.splitlines()) == 1
    # Another service than the token's: sign in to it first.
    other = person.run("--lang", "en", "task", "list", TSK_URL="https://tsk.example.org")
    assert other.stderr == (
        f"tsk: the token kept is for {nowhere}, not https://tsk.example.org: sign in with"
        " 'tsk login' (TSK_URL names the service)\n"
    )
    # An address a token may not be sent to.
    plain = person.run("--lang", "en", "login", "--url", "http://tsk.example.org")
    assert plain.exit_code == 1
    assert "must be https://" in plain.stderr
