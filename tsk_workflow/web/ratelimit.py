"""Rate limits on the doors that take no session: sign-in, mail links, tokens, the year
plan's ICS subscription addresses.

A moving window per client address and door (the ``limits`` library, in memory: each replica
counts its own, so behind two replicas a client gets at most twice the figure). Past the
limit a request gets a 429 problem with ``Retry-After``; what it asked is not done.
"""

from __future__ import annotations

from functools import cache

from fastapi import Request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from tsk_workflow.i18n import _
from tsk_workflow.web.problem import Problem

LIMITS = {
    "signin": "30/minute",
    "link": "60/minute",
    "token": "20/minute",
    "ics": "60/minute",
}
"""Requests per client address and minute at each door."""


@cache
def _item(door: str) -> RateLimitItem:
    return parse(LIMITS[door])


def limit(request: Request, door: str) -> None:
    """Count this request at ``door``; refuse it (429) past the door's limit."""
    client = request.client.host if request.client else "unknown"
    limiter = request.app.state.limiter
    if not limiter.hit(_item(door), door, client):
        raise Problem(
            429,
            "rate-limit",
            _("Too many attempts from your address: wait a minute and try again."),
            retry_after=60,
        )


def new_limiter() -> MovingWindowRateLimiter:
    """A limiter of its own for each app (the tests make many apps)."""
    return MovingWindowRateLimiter(MemoryStorage())
