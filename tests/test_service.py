"""The service (``tsk serve``): health, problems in the caller's language, the demo's
sign-in, the API's acts and reads as the person signed in, who may read what, CSRF, headers
and rate limits. On SQLite and PostgreSQL, through HTTP (Starlette's TestClient)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.enginekit import Clock, local
from tests.webkit import KEY, demo_sign_in, herrljunga, service_client, service_config
from tsk_workflow.errors import TskError
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, RefusedAct
from tsk_workflow.web.config import load_config, read_environment
from tsk_workflow.web.language import from_header

CLOCK_START = local(2027, 3, 1, 8)

CHAIR = "jessica.wahlstrom"  # chairs EST
REPORTER = "ida.wikstrom"  # inrapportör, member of EST
OUTSIDER = "petra.sjodin"  # fritidschef: no part in EST
ADMIN = "marie.lind"  # an admin of Herrljunga


@pytest.fixture
def client(store: Store, clock: Clock) -> Any:
    herrljunga(store, clock)
    with service_client(store, clock) as client:
        yield client


def _open_est(client: Any) -> dict[str, Any]:
    token = demo_sign_in(client, CHAIR)
    opened = client.post(
        "/api/v1/cycles",
        json={"process": "est", "period": "2027-03"},
        headers={"X-CSRF-Token": token},
    )
    assert opened.status_code == 201, opened.text
    cycle: dict[str, Any] = opened.json()
    return cycle


def _report_task(cycle: dict[str, Any], person: str) -> int:
    return next(t["id"] for t in cycle["tasks"] if person in t["assignees"])


def _refusals(store: Store) -> list[RefusedAct]:
    with store.reading() as session:
        return list(session.scalars(select(RefusedAct).order_by(RefusedAct.id)))


# ---------------------------------------------------------------- without a session


def test_health_answers_without_sign_in(client: Any) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "municipalities": ["herrljunga"]}


@pytest.mark.parametrize(
    "path",
    ["/api/v1/me", "/api/v1/tasks", "/api/v1/tasks/1", "/api/v1/cycles", "/api/v1/decisions"],
)
def test_the_api_needs_a_session_and_says_so_as_a_problem(client: Any, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["status"] == 401
    assert body["instance"] == path
    assert body["detail"] == "Logga in först."
    english = client.get(path, headers={"Accept-Language": "en-GB,en;q=0.9,sv;q=0.5"})
    assert english.json()["detail"] == "Sign in first."


def _routes(routes: list[Any]) -> list[Any]:
    """Every route, those of the routers included too (FastAPI keeps an included router as
    one entry, without a path, its routes inside)."""
    found = []
    for route in routes:
        included = getattr(route, "original_router", None)
        found += _routes(included.routes) if included is not None else [route]
    return found


def test_every_route_but_sign_in_health_and_links_needs_a_session(client: Any) -> None:
    """The API answers 401 without a session; a page sends the browser to sign in."""
    open_doors = {"/healthz", "/signin", "/auth/login", "/auth/callback", "/auth/demo"}
    open_doors |= {"/api/openapi.json", "/api/docs", "/", "/auth/logout"}
    open_doors |= {"/favicon.ico"}  # no icon: an empty answer, so browsers log no 404
    # The command line's sign-in (tsk login): what it needs, and its ID token for a token.
    open_doors |= {"GET /api/v1/auth/cli", "POST /api/v1/tokens"}
    # A year plan's private subscription address: its token is its key (web/page_plan.py).
    open_doors |= {"/ics/{token}.ics"}
    walked = _routes(client.app.routes)
    assert "/api/v1/tasks/{task_id}/done" in {getattr(route, "path", "") for route in walked}
    for route in walked:
        path = getattr(route, "path", "")
        if path in open_doors or path.startswith(("/static", "/t/")):
            continue
        for method in sorted(getattr(route, "methods", None) or []):
            if method == "HEAD" or f"{method} {path}" in open_doors:
                continue
            url = path.replace("{task_id}", "1").replace("{ref}", "1")
            url = url.replace("{decision_id}", "1").replace("{document_id}", "1")
            url = url.replace("{token_id}", "1").replace("{year}", "2027")
            url = url.replace("{report_id}", "1")
            answer = client.request(method, url, json={})
            if path.startswith("/api/"):
                assert answer.status_code == 401, (method, url, answer.status_code)
            else:  # a page: to sign in first
                assert answer.status_code == 303, (method, url, answer.status_code)
                assert answer.headers["location"] == "/signin", (method, url)


# ---------------------------------------------------------------- signing in (the demo's)


def test_the_demo_sign_in_lists_the_people_and_needs_its_token(client: Any, store: Store) -> None:
    page = client.get("/signin")
    assert page.status_code == 200
    assert "Jessica Wahlström" in page.text
    refused = client.post("/auth/demo", data={"person": f"herrljunga:{CHAIR}"})
    assert refused.status_code == 403
    assert client.get("/api/v1/me").status_code == 401
    demo_sign_in(client, CHAIR)
    me = client.get("/api/v1/me").json()
    assert (me["id"], me["municipality"], me["language"]) == (CHAIR, "herrljunga", "sv")
    assert "est" in me["groups"]


def test_the_demo_sign_in_is_only_for_a_database_on_virtual_time(
    store: Store, clock: Clock
) -> None:
    with pytest.raises(TskError, match="TSK_OIDC_ISSUER"):
        load_config({"TSK_SECRET_KEY": KEY}, host="127.0.0.1", port=8000, virtual_time=False)


def test_signing_out_ends_the_session(client: Any) -> None:
    token = demo_sign_in(client, CHAIR)
    assert client.post("/auth/logout", data={"csrf_token": "wrong"}).status_code == 403
    assert client.post("/auth/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/api/v1/me").status_code == 401


# ---------------------------------------------------------------- acting through the API


def test_a_chair_opens_a_cycle_and_a_reporter_completes_her_task(client: Any, store: Store) -> None:
    cycle = _open_est(client)
    assert cycle["ref"] == "est-2027-03"
    assert cycle["state"] == "insamling"
    task_id = _report_task(cycle, REPORTER)

    token = demo_sign_in(client, REPORTER)
    mine = client.get("/api/v1/tasks").json()
    assert [t["id"] for t in mine] == [task_id]
    shown = client.get(f"/api/v1/tasks/{task_id}").json()
    assert shown["form"]["questions"][0]["key"] == "kategori"
    answers = {
        "kategori": "klotter",
        "ort": "herrljunga",
        "beskrivning": "Klotter på stationen.",
    }
    done = client.post(
        f"/api/v1/tasks/{task_id}/done",
        json={"answers": answers, "note": "Se bild"},
        headers={"X-CSRF-Token": token},
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done"
    assert done.json()["done_by"] == REPORTER
    with store.reading() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "task.done")).one()
    assert event.actor == REPORTER


def test_wrong_answers_are_a_problem_with_one_error_per_field(client: Any) -> None:
    cycle = _open_est(client)
    task_id = _report_task(cycle, REPORTER)
    token = demo_sign_in(client, REPORTER)
    answer = client.post(
        f"/api/v1/tasks/{task_id}/done",
        json={"answers": {"kategori": "nonsens", "antal": 0}},
        headers={"X-CSRF-Token": token, "Accept-Language": "en"},
    )
    assert answer.status_code == 422
    body = answer.json()
    assert body["type"].endswith("invalid-answers")
    fields = [error["field"] for error in body["errors"]]
    assert fields == ["kategori", "ort", "antal", "beskrivning"]
    assert client.get(f"/api/v1/tasks/{task_id}").json()["status"] == "open"


def test_the_engine_refuses_through_the_api_as_through_the_cli(client: Any, store: Store) -> None:
    cycle = _open_est(client)
    token = demo_sign_in(client, REPORTER)
    closed = client.post(
        f"/api/v1/cycles/{cycle['ref']}/close", json={"note": "x"}, headers={"X-CSRF-Token": token}
    )
    assert closed.status_code == 403
    assert closed.json()["detail"].startswith("bara ordföranden i")
    assert _refusals(store)[-1].action == "cycle.close"


# ---------------------------------------------------------------- who may read what


def test_another_groups_task_and_cycle_cannot_be_reached_by_changing_an_id(
    client: Any, store: Store
) -> None:
    cycle = _open_est(client)
    task_id = _report_task(cycle, REPORTER)
    demo_sign_in(client, OUTSIDER)
    assert client.get("/api/v1/tasks").json() == []
    assert client.get("/api/v1/cycles").json() == []
    for path in (f"/api/v1/tasks/{task_id}", f"/api/v1/cycles/{cycle['ref']}"):
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert OUTSIDER in answer.json()["detail"]
    missing = client.get("/api/v1/tasks/999999")
    assert missing.status_code == 404
    refused = [(r.actor, r.action, r.subject) for r in _refusals(store)]
    assert refused[-3:] == [
        (OUTSIDER, "read", f"task:{task_id}"),
        (OUTSIDER, "read", f"cycle:{cycle['id']}"),
        (OUTSIDER, "read", "task:999999"),
    ]


def test_everyones_tasks_need_a_permission(client: Any, store: Store) -> None:
    _open_est(client)
    demo_sign_in(client, REPORTER)
    refused = client.get("/api/v1/tasks?mine=false")
    assert refused.status_code == 403
    assert _refusals(store)[-1].action == "read_all_tasks"
    demo_sign_in(client, ADMIN)
    everyone = client.get("/api/v1/tasks?mine=false")
    assert everyone.status_code == 200
    assert len(everyone.json()) >= 5


def test_a_member_reads_the_cycle_with_what_can_fire_and_why_not(client: Any) -> None:
    cycle = _open_est(client)
    demo_sign_in(client, REPORTER)
    shown = client.get(f"/api/v1/cycles/{cycle['ref']}").json()
    assert shown["documents"] == []
    possible = {p["trigger"]: p for p in shown["possible"]}
    assert possible, shown
    assert all(p["reasons"] for p in possible.values() if not p["allowed"])


# ---------------------------------------------------------------- CSRF, headers, limits


@pytest.mark.parametrize("header", [None, "wrong-token"])
def test_a_change_without_the_sessions_token_is_refused(client: Any, header: str | None) -> None:
    demo_sign_in(client, CHAIR)
    headers = {"X-CSRF-Token": header} if header else {}
    answer = client.post(
        "/api/v1/cycles", json={"process": "est", "period": "2027-03"}, headers=headers
    )
    assert answer.status_code == 403
    assert answer.json()["type"].endswith("csrf")
    assert client.get("/api/v1/cycles").json() == []


def test_security_headers_on_pages_api_and_problems(client: Any) -> None:
    for path in ("/signin", "/healthz", "/api/v1/me", "/nowhere"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" not in headers  # not behind TLS


def test_hsts_and_a_secure_cookie_behind_tls(store: Store, clock: Clock) -> None:
    herrljunga(store, clock)
    with service_client(store, clock, {"TSK_BASE_URL": "https://tsk.example.org"}) as client:
        client.base_url = "https://testserver"
        page = client.get("/signin")
        assert page.headers["strict-transport-security"].startswith("max-age=")
        cookie = page.headers["set-cookie"]
        assert "secure" in cookie.lower()
        assert "httponly" in cookie.lower()
        assert "samesite=lax" in cookie.lower()


def test_sign_in_is_rate_limited(client: Any) -> None:
    answers = [client.get("/auth/login").status_code for _ in range(31)]
    assert answers[:30] == [303] * 30
    assert answers[30] == 429


def test_the_api_is_described(client: Any) -> None:
    schema = client.get("/api/openapi.json").json()
    assert "/api/v1/tasks/{task_id}/done" in schema["paths"]
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "/api/v1/tasks/{task_id}/done" in page.text


# ---------------------------------------------------------------- settings


def test_settings_from_a_file_with_the_environment_winning(tmp_path: Any) -> None:
    file = tmp_path / "tsk.env"
    file.write_text(
        f"TSK_BASE_URL=https://file.example.org\nTSK_SECRET_KEY={KEY}\n# a comment\n",
        encoding="utf-8",
    )
    merged = read_environment(file, {"TSK_BASE_URL": "https://env.example.org"})
    config = load_config(merged, host="127.0.0.1", port=8000, virtual_time=True)
    assert config.base_url == "https://env.example.org"
    assert config.secret_key == KEY.encode()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TSK_SECRET_KEY": "short"}, "TSK_SECRET_KEY"),
        ({"TSK_SECRET_KEY": KEY, "TSK_OIDC_ISSUER": "https://idp"}, "TSK_OIDC_CLIENT_ID"),
        ({"TSK_SECRET_KEY": KEY, "TSK_BASE_URL": "ftp://x"}, "TSK_BASE_URL"),
        ({"TSK_SECRET_KEY_FILE": "/nonexistent/key"}, "/nonexistent/key"),
    ],
)
def test_bad_settings_are_refused_in_one_line(environ: dict[str, str], message: str) -> None:
    with pytest.raises(TskError, match=message):
        load_config(environ, host="127.0.0.1", port=8000, virtual_time=True)


def test_without_a_key_a_virtual_time_database_gets_one_for_the_process() -> None:
    config = load_config({}, host="127.0.0.1", port=8000, virtual_time=True)
    assert config.generated_key
    assert len(config.secret_key) >= 32
    assert service_config().generated_key is False


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("en-GB,en;q=0.9,sv;q=0.8", "en"),
        ("sv-SE", "sv"),
        ("de,en;q=0.5", "en"),
        ("de", "sv"),
        ("", "sv"),
    ],
)
def test_the_language_of_a_browser(header: str, lang: str) -> None:
    assert from_header(header) == lang


# ---------------------------------------------------------------- decisions


def test_a_decision_proposed_routed_and_recorded_through_the_api(
    client: Any, store: Store, clock: Clock
) -> None:
    cycle = _open_est(client)
    token = demo_sign_in(client, CHAIR)
    proposed = client.post(
        "/api/v1/decisions",
        json={"cycle": cycle["ref"], "title": "Belysning vid resecentrum", "cost": 240000},
        headers={"X-CSRF-Token": token, "Accept-Language": "en"},
    )
    assert proposed.status_code == 201, proposed.text
    decision = proposed.json()
    assert (decision["routed_to"], decision["rule"]) == ("ks", "kostnad_over_200000")
    assert "200,000" in decision["route_reason"] or "200 000" in decision["route_reason"]
    assert decision["agenda_date"] == "2027-04-07"
    clock.set(local(2027, 4, 7, 15))  # KS's meeting, the first Wednesday of April
    record = {"body": "ks", "date": "2027-04-07", "paragraph": "§ 12", "outcome": "approved"}
    token = demo_sign_in(client, "hanna.nyberg")  # EST's deputy chair: no recorder of KS
    refused = client.post(
        f"/api/v1/decisions/{decision['id']}/record", json=record, headers={"X-CSRF-Token": token}
    )
    assert refused.status_code == 403
    assert _refusals(store)[-1].action == "decision.record"
    token = demo_sign_in(client, "nina.bergqvist")  # the secretary
    recorded = client.post(
        f"/api/v1/decisions/{decision['id']}/record", json=record, headers={"X-CSRF-Token": token}
    )
    assert recorded.status_code == 200, recorded.text
    assert (recorded.json()["outcome"], recorded.json()["paragraph"]) == ("approved", "§ 12")
    # The secretary is not of EST's group, but records KS's decisions: she reads them.
    listed = client.get("/api/v1/decisions").json()
    assert [d["id"] for d in listed] == [decision["id"]]
    demo_sign_in(client, REPORTER)
    assert [d["id"] for d in client.get("/api/v1/decisions").json()] == [decision["id"]]
    demo_sign_in(client, OUTSIDER)
    assert client.get("/api/v1/decisions").json() == []


# ---------------------------------------------------------------- another municipality


def test_another_municipalitys_task_is_not_found_and_the_attempt_kept(
    store: Store, clock: Clock
) -> None:
    from tests.enginekit import make_engine, set_up

    herrljunga(store, clock)
    tranemo = make_engine(store, "tranemo", clock)
    from tsk_workflow.catalog import resolve_organisation_path
    from tsk_workflow.engine import setup

    setup.load_organisation(tranemo, resolve_organisation_path("tranemo"))
    with service_client(store, clock) as client:
        cycle = _open_est(client)
        task_id = _report_task(cycle, REPORTER)
        stranger = next(p.id for p in tranemo.org.people)
        demo_sign_in(client, stranger, municipality="tranemo")
        answer = client.get(f"/api/v1/tasks/{task_id}")
        assert answer.status_code == 404
        assert client.get(f"/api/v1/cycles/{cycle['ref']}").status_code == 404
        with store.reading() as session:
            kept = session.scalars(
                select(RefusedAct).where(RefusedAct.municipality == "tranemo")
            ).all()
        assert [(r.actor, r.subject) for r in kept] == [
            (stranger, f"task:{task_id}"),
            (stranger, f"cycle:{cycle['ref']}"),
        ]
    del set_up


def test_the_links_are_rate_limited(client: Any) -> None:
    answers = [client.get("/t/not-a-token").status_code for _ in range(61)]
    assert set(answers[:60]) == {403}
    assert answers[60] == 429


def test_the_icon_browsers_ask_for_is_an_empty_answer_not_a_404(client: Any) -> None:
    answer = client.get("/favicon.ico")
    assert (answer.status_code, answer.content) == (204, b"")
