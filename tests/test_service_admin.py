"""The API's acts for those who look after the installation: a new version of the
organisation, open cycles moved to a changed definition, personal data purged; each refused,
and the refusal kept, for anyone the engine does not let. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.enginekit import Clock, local
from tests.webkit import demo_sign_in, herrljunga, service_client
from tsk_workflow.catalog import resolve_organisation_path
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import RefusedAct

CLOCK_START = local(2027, 3, 1, 8)
ADMIN = "marie.lind"  # an admin, and the kanslichef
CHAIR = "jessica.wahlstrom"
REPORTER = "ida.wikstrom"


@pytest.fixture
def client(store: Store, clock: Clock) -> Any:
    herrljunga(store, clock)
    with service_client(store, clock) as client:
        yield client


def _last_refusal(store: Store) -> tuple[str, str]:
    with store.reading() as session:
        row = session.scalars(select(RefusedAct).order_by(RefusedAct.id.desc())).first()
    assert row is not None
    return row.actor, row.action


def test_an_admin_loads_a_new_version_of_the_organisation(client: Any, store: Store) -> None:
    text = resolve_organisation_path("herrljunga").read_text(encoding="utf-8")
    changed = text.replace(
        "sender: trygghet@herrljunga.example.org", "sender: tryggare@herrljunga.example.org"
    )
    assert changed != text
    files = {"file": ("herrljunga.yaml", changed.encode(), "application/yaml")}
    token = demo_sign_in(client, REPORTER)
    refused = client.post("/api/v1/org", files=files, headers={"X-CSRF-Token": token})
    assert refused.status_code == 403
    assert _last_refusal(store) == (REPORTER, "organisation.load")
    token = demo_sign_in(client, ADMIN)
    loaded = client.post("/api/v1/org", files=files, headers={"X-CSRF-Token": token})
    assert loaded.status_code == 200, loaded.text
    assert (loaded.json()["version"], loaded.json()["changed"]) == (2, True)


def test_moving_open_cycles_to_the_current_definition(client: Any, store: Store) -> None:
    token = demo_sign_in(client, REPORTER)
    refused = client.post(
        "/api/v1/processes/est/upgrade-cycles?dry_run=true", headers={"X-CSRF-Token": token}
    )
    assert refused.status_code == 403
    token = demo_sign_in(client, CHAIR)
    done = client.post(
        "/api/v1/processes/est/upgrade-cycles?dry_run=true", headers={"X-CSRF-Token": token}
    )
    assert done.status_code == 200, done.text
    assert done.json()["process"] == "est"


def test_personal_data_purged_by_the_kanslichef_only(client: Any, store: Store) -> None:
    body = {"before": "2024-01-01", "dry_run": True}
    token = demo_sign_in(client, REPORTER)
    refused = client.post("/api/v1/gdpr/purge", json=body, headers={"X-CSRF-Token": token})
    assert refused.status_code == 403
    assert _last_refusal(store)[0] == REPORTER
    token = demo_sign_in(client, ADMIN)
    counted = client.post("/api/v1/gdpr/purge", json=body, headers={"X-CSRF-Token": token})
    assert counted.status_code == 200, counted.text
    assert counted.json()["dry_run"] is True
