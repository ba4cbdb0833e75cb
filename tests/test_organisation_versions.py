"""The organisation in force is stored, versioned and attributed (issue 14, part 1), and only a
database made for virtual time takes a clock other than the server's (part 3).

Tried as an attacker who can run ``tsk`` with files of their own: a forged organisation file is
refused by every command that acts, ``init`` with it replaces nothing, a new version comes in
only through ``tsk org load`` by one of the admins of the version in force, and the scheduler
acts with the stored version even when the file it was loaded from changes or disappears.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from tests.enginekit import Clock, counts
from tsk_workflow.cli import cli
from tsk_workflow.engine import service
from tsk_workflow.resources import municipalities_dir
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, AuditPayload, Municipality, OrganisationVersion

ADMIN, CHAIR, NOT_ADMIN = "marie.lind", "jessica.wahlstrom", "nina.bergqvist"

MALLORY = """  - id: mallory
    name: Mallory Forger
    email: mallory@evil.example.org
    roles: [sakerhetschef]
"""


class Cli:
    """``tsk`` on one database through click's runner, at the virtual clock's time."""

    def __init__(self, runner: CliRunner, store: Store, clock: Clock) -> None:
        self.runner, self.store, self.clock = runner, store, clock

    def __call__(
        self, *args: str, org: str | None = "herrljunga", as_: str | None = None
    ) -> Result:
        options = ["--db", self.store.url]
        options += ["--org", org] if org else []
        options += ["--as", as_] if as_ else []
        return self.runner.invoke(cli, [*options, *args])

    def ok(self, *args: str, org: str | None = "herrljunga", as_: str | None = None) -> Any:
        result = self(*args, "--json", org=org, as_=as_)
        assert result.exit_code == 0, (args, result.output)
        return json.loads(result.stdout)

    def refused(self, *args: str, org: str | None = "herrljunga", as_: str | None = None) -> str:
        result = self(*args, org=org, as_=as_)
        assert result.exit_code == 1, (args, result.output)
        assert "Traceback" not in result.output
        lines = result.stderr.splitlines()
        assert len(lines) == 1, lines
        return lines[0]


@pytest.fixture
def tsk(store: Store, runner: CliRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setattr(service, "system_clock", clock)
    return Cli(runner, store, clock)


def herrljunga_copy(folder: Path, *, extra_person: bool = False, sender: str | None = None) -> Path:
    """A copy of Herrljunga's file, optionally with Mallory among the people or another sender."""
    text = (municipalities_dir() / "herrljunga.yaml").read_text(encoding="utf-8")
    if extra_person:
        text = text.replace("\npeople:\n", "\npeople:\n" + MALLORY, 1)
    if sender:
        text = text.replace("sender: trygghet@herrljunga.example.org", f"sender: {sender}", 1)
    path = folder / ("forged.yaml" if extra_person else "herrljunga.yaml")
    path.write_text(text, encoding="utf-8")
    return path


def versions(store: Store) -> list[tuple[int, str, str]]:
    with store.reading() as session:
        query = select(
            OrganisationVersion.version, OrganisationVersion.loaded_by, OrganisationVersion.digest
        ).order_by(OrganisationVersion.version)
        return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


# ---------------------------------------------------------------- bootstrapping


def test_the_first_init_stores_version_one_and_the_same_file_changes_nothing(tsk: Cli) -> None:
    first = tsk.ok("init")
    assert (first["municipality"], first["version"], first["changed"]) == ("herrljunga", 1, True)
    assert first["virtual_time"] is True  # the test store was made for virtual time
    again = tsk.ok("init")
    assert (again["version"], again["changed"]) == (1, False)
    [(version, loaded_by, digest)] = versions(tsk.store)
    assert (version, loaded_by, digest) == (1, "tsk", first["digest"])
    [row] = tsk.ok("org", "history")
    assert row["version"] == 1
    assert row["os_user"]
    assert row["audit_seq"] == 1
    assert row["changes"][0]["sv"].startswith("första versionen:")
    with tsk.store.reading() as session:
        stored = session.get(Municipality, "herrljunga")
        assert stored is not None
        assert stored.source == "herrljunga.yaml"


def test_a_forged_file_neither_acts_nor_replaces_the_organisation(tsk: Cli, tmp_path: Path) -> None:
    tsk.ok("init")
    cycle = tsk.ok("cycle", "open", "est", "--period", "2027-03", as_=CHAIR)
    proposed = tsk.ok("decision", "propose", cycle["ref"], "--title", "Belysning", as_=CHAIR)
    forged = str(herrljunga_copy(tmp_path, extra_person=True))
    before = counts(tsk.store)

    line = tsk.refused("cycle", "list", org=forged)
    assert "forged.yaml (sha256 " in line
    assert "är inte den gällande organisationen" in line
    assert "version 1, sha256 " in line
    assert "org load" in line
    assert "inläst av " in line
    assert tsk.refused(
        "cycle", "close", cycle["ref"], "--force", "--note", "x", org=forged, as_="mallory"
    )
    record = ("decision", "record", str(proposed["id"]), "--body", "ks", "--date", "2027-03-03")
    record += ("--paragraph", "§ 101", "--outcome", "rejected")
    assert "är inte den gällande organisationen" in tsk.refused(*record, org=forged, as_="mallory")
    assert "är inte den gällande organisationen" in tsk.refused("init", org=forged)
    assert counts(tsk.store) == before
    assert len(versions(tsk.store)) == 1

    # With the organisation in force, Mallory is nobody: refused, and the attempt is kept.
    line = tsk.refused("cycle", "close", cycle["ref"], "--force", "--note", "x", as_="mallory")
    assert line == "tsk: okänd person 'mallory' i Herrljunga kommun"
    refused = tsk.ok("audit", "--refused")
    assert [(r["actor"], r["action"]) for r in refused] == [("mallory", "cycle.close")]


# ---------------------------------------------------------------- loading a new version


def test_only_an_admin_loads_a_new_version_and_the_event_says_what_changed(
    tsk: Cli, tmp_path: Path
) -> None:
    tsk.ok("init")
    forged = str(herrljunga_copy(tmp_path, extra_person=True))

    line = tsk.refused("org", "load", forged, as_=NOT_ADMIN)
    assert "bara administratörerna i Herrljunga kommun (marie.lind, jessica.wahlstrom)" in line
    line = tsk.refused("org", "load", forged, as_="mallory")
    assert line == "tsk: okänd person 'mallory' i Herrljunga kommun"
    refused = tsk.ok("audit", "--refused")
    assert [(r["actor"], r["action"]) for r in refused] == [
        (NOT_ADMIN, "organisation.load"),
        ("mallory", "organisation.load"),
    ]
    assert len(versions(tsk.store)) == 1

    loaded = tsk.ok("org", "load", forged, as_=ADMIN)
    assert (loaded["version"], loaded["changed"]) == (2, True)
    said = [change["en"] for change in loaded["changes"]]
    assert said == [
        "person added: mallory, Mallory Forger <mallory@evil.example.org>",
        "role sakerhetschef: held by [jessica.wahlstrom] -> [mallory, jessica.wahlstrom]",
    ]
    with tsk.store.reading() as session:
        event = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "organisation.loaded")
            .order_by(AuditEvent.seq.desc())
        ).first()
        assert event is not None
        assert (event.actor, event.role) == (ADMIN, "admin")
        payload = session.get(AuditPayload, event.seq)
        assert payload is not None
        assert payload.payload["version"] == 2
        assert payload.payload["source"].endswith("forged.yaml")
        assert payload.payload["previous_digest"] == versions(tsk.store)[0][2]
    assert [v[:2] for v in versions(tsk.store)] == [(1, "tsk"), (2, ADMIN)]

    # The new version is in force: by name, by its file, and Mallory now is a person.
    assert tsk.ok("cycle", "list") == []
    assert tsk.ok("cycle", "list", org=forged) == []
    history = tsk.ok("org", "history")
    assert [h["version"] for h in history] == [1, 2]
    assert history[1]["changes"][0]["sv"] == (
        "person tillagd: mallory, Mallory Forger <mallory@evil.example.org>"
    )
    text = tsk("org", "history").stdout
    assert "version 2" in text
    assert f"{ADMIN} (" in text
    assert "person tillagd: mallory" in text


def test_mail_settings_in_words_and_a_version_without_admins_is_refused(
    tsk: Cli, tmp_path: Path
) -> None:
    tsk.ok("init")
    moved = herrljunga_copy(tmp_path, sender="trygghet@elsewhere.example.org")
    loaded = tsk.ok("org", "load", str(moved), as_=CHAIR)
    assert [c["en"] for c in loaded["changes"]] == [
        "mail settings changed: sender trygghet@herrljunga.example.org ->"
        " trygghet@elsewhere.example.org"
    ]
    again = tsk.ok("org", "load", str(moved), as_=CHAIR)
    assert (again["version"], again["changed"]) == (2, False)

    text = moved.read_text(encoding="utf-8").replace(
        "admins: [marie.lind, jessica.wahlstrom]", "admins: []"
    )
    moved.write_text(text, encoding="utf-8")
    assert "anger inga administratörer" in tsk.refused("org", "load", str(moved), as_=CHAIR)


# ---------------------------------------------------------------- what is read, and when


def test_the_scheduler_uses_the_stored_version_not_the_file(tsk: Cli, tmp_path: Path) -> None:
    own = herrljunga_copy(tmp_path)
    tsk.ok("init", org=str(own))
    own.write_text("municipality: herrljunga\nname: changed behind our back\n", encoding="utf-8")
    ticked = tsk.ok("tick", "--no-send", "--now", "2027-03-01T08:10", org=None)
    assert "est-2027-03" in ticked["opened"]
    own.unlink()
    assert tsk.ok("cycle", "list", org=None)[0]["ref"] == "est-2027-03"  # the only one loaded
    assert tsk.ok("cycle", "list")[0]["ref"] == "est-2027-03"  # by name


def test_several_municipalities_need_a_name(tsk: Cli) -> None:
    tsk.ok("init")
    tsk.ok("init", org="tingsryd")
    line = tsk.refused("cycle", "list", org=None)
    assert line == "tsk: den här databasen har herrljunga, tingsryd: ange vilken med --org NAMN"
    line = tsk.refused("--lang", "en", "cycle", "list", org=None)
    assert line == "tsk: this database holds herrljunga, tingsryd: say which with --org NAME"
    assert tsk.ok("cycle", "list", org="tingsryd") == []


# ---------------------------------------------------------------- the server's clock


@pytest.fixture
def real_time_store(store_kind: str, make_store: Any) -> Store:
    made: Store = make_store(store_kind, virtual_time=False)
    return made


def test_a_database_on_the_servers_clock_refuses_another_time(
    real_time_store: Store, runner: CliRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tsk = Cli(runner, real_time_store, clock)
    monkeypatch.setattr(service, "system_clock", clock)
    assert tsk.ok("init")["virtual_time"] is False
    before = counts(real_time_store)
    refused = "is refused: this database runs on the server's clock"
    en = ("--lang", "en")
    assert refused in tsk.refused(*en, "tick", "--now", "2027-06-01T08:00")
    assert refused in tsk.refused(*en, "mail", "send", "--now", "2027-06-01T08:00")
    assert "nekas: den här databasen går på serverns klocka" in tsk.refused(
        "tick", "--now", "2027-06-01T08:00"
    )
    monkeypatch.setenv("TSK_NOW", "2026-01-01T08:00")
    assert "TSK_NOW is refused" in tsk.refused(*en, "cycle", "open", "est", as_=CHAIR)
    assert "TSK_NOW is refused" in tsk.refused(*en, "task", "list")
    assert "TSK_NOW nekas" in tsk.refused("task", "list")
    assert counts(real_time_store) == before
    monkeypatch.delenv("TSK_NOW")
    # A database in use cannot be turned into one for virtual time.
    assert "virtual time is only for a new database" in tsk.refused(*en, "init", "--virtual-time")
    assert "virtuell tid är bara för en ny databas" in tsk.refused("init", "--virtual-time")


def test_a_new_database_can_be_made_for_virtual_time(
    real_time_store: Store, runner: CliRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tsk = Cli(runner, real_time_store, clock)
    monkeypatch.setattr(service, "system_clock", clock)
    assert tsk.ok("init", "--virtual-time", org=None)["virtual_time"] is True
    tsk.ok("init")
    ticked = tsk.ok("tick", "--no-send", "--now", "2027-03-01T08:10")
    assert "est-2027-03" in ticked["opened"]


def test_a_file_missing_from_disk_does_not_matter_to_the_stored_version(
    tsk: Cli, tmp_path: Path
) -> None:
    (tmp_path / "one").mkdir()
    own = herrljunga_copy(tmp_path / "one")
    tsk.ok("init", org=str(own))
    shutil.rmtree(own.parent)
    assert tsk.ok("org", "history", org=None)[0]["source"] == str(own)


# ---------------------------------------------------------------- what changed, in words


def test_the_changes_of_a_load_are_said_in_words() -> None:
    from tests.enginekit import shared_organisation
    from tsk_workflow.organisation.diff import changes

    old = shared_organisation("herrljunga")
    rules = list(old.routing.rules)
    rules[0] = rules[0].model_copy(update={"to": "ks" if rules[0].to == "klg" else "klg"})
    group = old.groups[0].model_copy(update={"chair": "marie.lind"})
    new = old.model_copy(
        update={
            "routing": old.routing.model_copy(update={"rules": tuple(rules)}),
            "groups": (group, *old.groups[1:]),
            "admins": ("marie.lind",),
            "privacy": old.privacy.model_copy(update={"retention": "P5Y"}),
        }
    )
    said = [change["en"] for change in changes(old, new)]
    assert said == [
        f"group {group.key} changed: chair {old.groups[0].chair} -> marie.lind",
        f"routing rule {rules[0].name} changed: to {old.routing.rules[0].to} -> {rules[0].to}",
        "admins: [marie.lind, jessica.wahlstrom] -> [marie.lind]",
        "privacy changed",
    ]
    assert [change["sv"] for change in changes(old, old)] == ["inga ändringar i innehållet"]
    assert [change["sv"] for change in changes(old, new)] == [
        f"grupp {group.key} ändrad: chair {old.groups[0].chair} -> marie.lind",
        f"beslutsregel {rules[0].name} ändrad: to {old.routing.rules[0].to} -> {rules[0].to}",
        "administratörer: [marie.lind, jessica.wahlstrom] -> [marie.lind]",
        "personuppgifter ändrade",
    ]


def test_the_words_of_a_change_are_in_both_languages_whatever_is_spoken() -> None:
    """The audit event keeps both texts; the language the command speaks changes neither, and
    an added group is described in each language (the chair was "ordförande" in English too)."""
    from tests.enginekit import shared_organisation
    from tsk_workflow import i18n
    from tsk_workflow.organisation.diff import changes

    new = shared_organisation("herrljunga")
    old = new.model_copy(update={"groups": new.groups[1:]})
    group = new.groups[0]
    expected = [
        {
            "sv": f"grupp tillagd: {group.key}, {group.name} (ordförande {group.chair})",
            "en": f"group added: {group.key}, {group.name} (chair {group.chair})",
        }
    ]
    assert changes(old, new) == expected
    with i18n.speaking("en"):
        assert changes(old, new) == expected
    first = changes(None, new)[0]
    assert first["sv"].startswith(f"första versionen: {len(new.people)} personer, ")
    assert first["en"].startswith(f"first version: {len(new.people)} people, ")
