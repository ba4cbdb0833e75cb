"""Who acts from the command line on a database on the server's clock: the OS login, mapped to
a person by ``login:``; ``--as`` only with ``act_for``, recorded with both names; the service's
acts only for the service's user or an admin. On a database on virtual time ``--as`` stays
free, as the demo, the tests and the docs' examples use it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.dbfixtures import MakeStore
from tests.enginekit import shared_organisation
from tsk_workflow.catalog import resolve_organisation_path
from tsk_workflow.cli import cli
from tsk_workflow.engine import access
from tsk_workflow.engine.directory import PermissionDenied
from tsk_workflow.engine.setup import os_user
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, AuditPayload, RefusedAct

CHAIR = "jessica.wahlstrom"  # chairs EST, an admin of Herrljunga
DEPUTY = "hanna.nyberg"
REPORTER = "ida.wikstrom"
UNSET = dict.fromkeys(("TSK_DATABASE_URL", "TSK_ORG", "TSK_USER", "TSK_LANG", "TSK_NOW"))


# ---------------------------------------------------------------- the rules, pure


def test_a_login_is_its_persons_and_as_needs_act_for() -> None:
    org = shared_organisation("herrljunga")
    people = [p.model_copy(update={"login": "jwa"}) if p.id == CHAIR else p for p in org.people]
    mapped = org.model_copy(update={"people": tuple(people)})
    assert access.acting_person(mapped, "jwa", None) == (CHAIR, None)
    assert access.acting_person(mapped, "jwa", CHAIR) == (CHAIR, None)
    with pytest.raises(PermissionDenied, match="act_for|agera för"):
        access.acting_person(mapped, "jwa", REPORTER)
    with pytest.raises(PermissionDenied, match="'someone'"):
        access.acting_person(mapped, "someone", None)
    granted = mapped.model_copy(
        update={"permissions": mapped.permissions.model_copy(update={"act_for": ("samordnare",)})}
    )
    assert access.acting_person(granted, "jwa", REPORTER) == (REPORTER, "jwa")


def test_the_service_acts_are_for_the_service_user_or_an_admin() -> None:
    org = shared_organisation("herrljunga")
    people = [
        p.model_copy(update={"login": "mli"}) if p.id == "marie.lind" else p for p in org.people
    ]
    mapped = org.model_copy(update={"people": tuple(people)})
    assert access.may_run_service([mapped], "tsk", "tsk")
    assert access.may_run_service([mapped], "mli", None)  # marie.lind is an admin
    assert not access.may_run_service([mapped], "someone", "tsk")
    assert not access.may_run_service([mapped, org], "mli", None)  # not an admin's in both


# ---------------------------------------------------------------- the command line


def _org_file(tmp_path: Path, *, act_for: bool, login_of: str = CHAIR) -> Path:
    """Herrljunga with the running OS login as ``login_of``'s, optionally granted act_for."""
    text = resolve_organisation_path("herrljunga").read_text(encoding="utf-8")
    marker = f"  - id: {login_of}\n"
    assert marker in text
    text = text.replace(marker, f"{marker}    login: {os_user()}\n", 1)
    if act_for:
        text = text.replace(
            "\npeople:\n", f"\npermissions:\n  act_for: [{login_of}]\n\npeople:\n", 1
        )
    path = tmp_path / "herrljunga.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _tsk(store: Store, *args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner(env={**UNSET, **(env or {})}).invoke(cli, ["--db", store.url, *args])


def _real_time(make_store: MakeStore, org_file: Path) -> Store:
    store = make_store("sqlite", virtual_time=False)
    result = _tsk(store, "--org", str(org_file), "init")
    assert result.exit_code == 0, result.stderr
    return store


def _events(store: Store, action: str) -> list[tuple[str, dict[str, Any]]]:
    with store.reading() as session:
        rows = session.execute(
            select(AuditEvent.actor, AuditPayload.payload)
            .join(AuditPayload, AuditPayload.seq == AuditEvent.seq)
            .where(AuditEvent.action == action)
        )
        return [(actor, payload) for actor, payload in rows]


def _refused(store: Store) -> list[tuple[str, str]]:
    with store.reading() as session:
        return [(r.actor, r.action) for r in session.scalars(select(RefusedAct))]


def test_the_os_login_acts_and_as_is_refused_without_act_for(
    make_store: MakeStore, tmp_path: Path
) -> None:
    store = _real_time(make_store, _org_file(tmp_path, act_for=False))
    opened = _tsk(store, "cycle", "open", "est", "--period", "2027-01", "--json")
    assert opened.exit_code == 0, opened.stderr
    assert _events(store, "cycle.opened")[0][0] == CHAIR
    assert "via" not in _events(store, "cycle.opened")[0][1]
    task = next(t for t in json.loads(opened.stdout)["tasks"] if REPORTER in t["assignees"])
    refused = _tsk(store, "--as", REPORTER, "task", "done", str(task["id"]), "--nothing-to-report")
    assert refused.exit_code == 1
    assert "act_for" in refused.stderr or "agera för" in refused.stderr
    assert _refused(store)[-1] == (CHAIR, "act_for")


def test_acting_for_another_person_is_recorded_with_both(
    make_store: MakeStore, tmp_path: Path
) -> None:
    store = _real_time(make_store, _org_file(tmp_path, act_for=True))
    opened = _tsk(store, "cycle", "open", "est", "--period", "2027-01", "--json")
    task = next(t for t in json.loads(opened.stdout)["tasks"] if REPORTER in t["assignees"])
    done = _tsk(store, "--as", REPORTER, "task", "done", str(task["id"]), "--nothing-to-report")
    assert done.exit_code == 0, done.stderr
    actor, payload = _events(store, "task.done")[0]
    assert (actor, payload["via"]) == (REPORTER, os_user())


def test_a_login_of_nobody_is_refused_and_recorded(make_store: MakeStore, tmp_path: Path) -> None:
    store = _real_time(make_store, _org_file(tmp_path, act_for=False))
    unmapped = tmp_path / "other"
    unmapped.mkdir()
    plain = resolve_organisation_path("herrljunga").read_text(encoding="utf-8")
    other = _real_time(make_store, _write(unmapped / "herrljunga.yaml", plain))
    result = _tsk(other, "--as", CHAIR, "cycle", "open", "est", "--period", "2027-01")
    assert result.exit_code == 1
    assert f"'{os_user()}'" in result.stderr
    assert _refused(other)[-1] == (os_user(), "login")
    assert _refused(store) == []


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_the_scheduler_pass_is_the_services_or_an_admins(
    make_store: MakeStore, tmp_path: Path
) -> None:
    admin = _real_time(make_store, _org_file(tmp_path, act_for=False))  # CHAIR is an admin
    assert _tsk(admin, "tick", "--json").exit_code == 0
    not_admin_dir = tmp_path / "reporter"
    not_admin_dir.mkdir()
    store = _real_time(make_store, _org_file(not_admin_dir, act_for=False, login_of=REPORTER))
    refused = _tsk(store, "tick")
    assert refused.exit_code == 1
    assert "TSK_SERVICE_USER" in refused.stderr
    assert _refused(store)[-1] == (os_user(), "tick")
    assert _tsk(store, "tick", env={"TSK_SERVICE_USER": os_user()}).exit_code == 0


def test_on_virtual_time_as_names_anyone(make_store: MakeStore, tmp_path: Path) -> None:
    store = make_store("sqlite")
    assert _tsk(store, "--org", "herrljunga", "init").exit_code == 0
    opened = _tsk(store, "--as", CHAIR, "cycle", "open", "est", "--period", "2027-01")
    assert opened.exit_code == 0, opened.stderr
    assert _tsk(store, "tick", "--now", "2027-01-02T08:00").exit_code == 0
