"""The pages the browser tests check and ``scripts/screenshots.py`` photographs: ONE list.

When a page lands, add it to :data:`PAGES` and every browser check (axe-core at desktop and
375 px in Swedish and English, no sideways scroll on a phone, focus visible, no console error
or CSP violation) and the screenshots cover it. A path may name values of the served world
in braces: ``{token}``, a mail link's token to the reporter's first open task; ``{task}``, that
task's id; ``{cycle}``, its cycle's reference; ``{action}``, the register's first action (a
world fills ``params``, see ``harness.World``). ``as_role`` is who is signed in (a key of
:data:`PEOPLE`), or None for a page seen without signing in.
"""

from __future__ import annotations

from dataclasses import dataclass

PEOPLE = {
    "reporter": "ida.wikstrom",  # inrapportör in social services
    "chair": "jessica.wahlstrom",  # säkerhetschef: chairs EST, coordinator, admin
    "secretary": "nina.bergqvist",  # sekreterare: records the decisions
    "auditor": "marie.lind",  # kanslichef: the archive and the audit trail, admin
    "admin": "marie.lind",
}
"""Herrljunga's people (municipalities/herrljunga.yaml) who play each role on the pages."""


@dataclass(frozen=True)
class Page:
    name: str  # the test id and the screenshot's file name (docs/screenshots/NAME-desktop.png)
    path: str
    as_role: str | None
    axe_known: tuple[str, ...] = ()
    """axe-core rules this page is known to break, to be fixed: while they are the only serious
    or critical violations its axe test is reported as an expected failure (xfail, with the
    violations), not a pass; any other violation fails it. Remove the rule once it is fixed."""


PAGES = [
    Page("signin", "/signin", None),
    Page("start", "/", "reporter"),
    Page("task-link", "/t/{token}", None),
    Page("tasks", "/tasks", "reporter"),
    Page("task", "/tasks/{task}", "reporter"),
    Page("lagesbild", "/lagesbild", "chair"),
    Page("audit", "/audit", "auditor"),
    Page("audit-verify", "/audit/verify", "auditor"),
    Page("admin", "/admin", "admin"),
    Page("cycles", "/cycles", "chair"),
    Page("cycle", "/cycles/{cycle}", "chair"),
    Page("plan", "/plan", "chair"),
    Page("decisions", "/decisions", "secretary"),
    Page("decision-new", "/decisions/new", "secretary"),
    Page("report", "/report", "reporter"),
    Page("actions", "/actions", "reporter"),
    Page("action", "/actions/{action}", "chair"),
    Page("action-new", "/actions/new", "chair"),
    Page("action-plan", "/actions/plan", "chair"),
    Page("action-review", "/actions/review", "chair"),
    Page("compliance", "/compliance", "chair"),
    Page("reports", "/reports", "chair"),
]
