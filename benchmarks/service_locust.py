"""The people of ``benchmarks.service``: a locustfile, run by that benchmark (``locust -f``).

Each simulated user is one reporter at a time, taken from the file ``TSK_BENCH_PEOPLE`` names
(JSON: ``[[municipality, person, task id, [town keys]], ...]``, a person's open EST report and
the towns of their municipality). The user signs in from the demo's list (``GET /signin`` for
the form's CSRF token the first time; later sign-ins, as the next person, post the token of the
session they already have), reads ``/api/v1/me`` for the API's CSRF token, then goes round:
the inbox (``GET /api/v1/tasks``), the task (``GET /api/v1/tasks/{id}``), and after a task
view, with the probability ``TSK_BENCH_SUBMIT``, submits the report
(``POST /api/v1/tasks/{id}/done`` with valid answers and ``X-CSRF-Token``). Having submitted, the
user signs in as the next reporter no other user holds: a task is handed to one user only, so
no two users complete the same task. One request per locust task, with a think time of
``TSK_BENCH_WAIT`` (``min,max`` seconds) between requests.

Every request is written as a JSON line to ``TSK_BENCH_LOG`` (kind, milliseconds, status, the
task id for a submit); the benchmark computes its figures and checks from that file, not from
locust's own statistics.
"""

from __future__ import annotations

import json
import os
import random
from collections import deque
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, events, task

PEOPLE: deque[list[Any]] = deque(json.loads(Path(os.environ["TSK_BENCH_PEOPLE"]).read_text()))
HELD: set[tuple[str, str]] = set()
"""The people signed in by a user now (one user per person at a time)."""
SUBMIT = float(os.environ.get("TSK_BENCH_SUBMIT", "0.5"))
WAIT = [float(x) for x in os.environ.get("TSK_BENCH_WAIT", "1,2").split(",")]
LOG = open(os.environ["TSK_BENCH_LOG"], "w", encoding="utf-8")  # noqa: SIM115 - open for the run

CATEGORIES = ["skadegorelse", "klotter", "nedskrapning", "otrygg_plats", "annat"]


def next_reporter() -> list[Any] | None:
    """The next reporter whom no user holds (None: every task has been handed out)."""
    for _ in range(len(PEOPLE)):
        item = PEOPLE.popleft()
        if (item[0], item[1]) in HELD:
            PEOPLE.append(item)
            continue
        HELD.add((item[0], item[1]))
        return item
    return None


@events.request.add_listener
def _logged(
    request_type: str,
    name: str,
    response_time: float,
    response_length: int,
    response: Any = None,
    context: Any = None,
    exception: Any = None,
    start_time: float = 0.0,
    **_kwargs: Any,
) -> None:
    status = getattr(response, "status_code", 0) or 0
    line: dict[str, Any] = {"kind": name, "ms": response_time, "status": status}
    line["at"] = start_time
    line["user"] = (context or {}).get("user")
    if context and "task" in context:
        line["task"] = context["task"]
        line["person"] = context["person"]
    if exception is not None and not status:
        line["error"] = repr(exception)[:200]
    LOG.write(json.dumps(line) + "\n")


@events.quitting.add_listener
def _closed(**_kwargs: Any) -> None:
    LOG.close()


class Reporter(FastHttpUser):
    wait_time = between(WAIT[0], WAIT[1])

    def context(self) -> dict[str, Any]:
        """What every request of this user carries to the log: which user made it."""
        return {"user": id(self)}

    def on_start(self) -> None:
        self.csrf = ""
        self.reporter: list[Any] | None = None
        self.next = "inbox"
        self.sign_in_as(next_reporter())

    def sign_in_as(self, reporter: list[Any] | None) -> None:
        """Sign in as ``reporter`` (None: keep the person there is, with nothing to submit)."""
        if reporter is None:
            self.reporter = None
            return
        if not self.csrf:  # a new browser: the sign-in page gives the form its token
            with self.client.get("/signin", name="sign-in page", catch_response=True) as page:
                found = page.text.split('name="csrf_token" value="', 1)
                token = found[1].split('"', 1)[0] if len(found) == 2 else ""
        else:  # signed in already: a new session from this one, with its token
            token = self.csrf
        self.client.post(
            "/auth/demo",
            data={"person": f"{reporter[0]}:{reporter[1]}", "csrf_token": token},
            name="sign-in",
            allow_redirects=False,
        )
        me = self.client.get("/api/v1/me", name="me")
        self.csrf = me.json()["csrf_token"] if me.status_code == 200 else ""
        self.reporter = reporter
        self.next = "inbox"

    @task
    def step(self) -> None:
        """One request: the inbox, then the task, then the report (or the inbox again)."""
        reporter = self.reporter
        if reporter is None or not self.csrf or self.next == "inbox":
            self.client.get("/api/v1/tasks", name="inbox")
            self.next = "task"
            return
        municipality, person, task_id, towns = reporter
        if self.next == "task":
            self.client.get(f"/api/v1/tasks/{task_id}", name="task view")
            self.next = "submit" if random.random() < SUBMIT else "inbox"
            return
        answers = {
            "kategori": random.choice(CATEGORIES),
            "ort": random.choice(towns),
            "antal": random.randint(1, 5),
            "beskrivning": f"Rapport från {person} i lasttestet.",
        }
        self.client.post(
            f"/api/v1/tasks/{task_id}/done",
            json={"answers": answers},
            headers={"X-CSRF-Token": self.csrf},
            name="submit",
            context={"task": task_id, "person": f"{municipality}:{person}"},
        )
        HELD.discard((municipality, person))
        self.sign_in_as(next_reporter())
