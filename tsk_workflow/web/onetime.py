"""One-time form ids: a form that makes something acts once, however often it is sent.

A page that shows such a form puts a new ``form_id`` in it (:func:`new_form_id`). When the
form is posted, :meth:`OneTime.once` runs the act under that id (per person): a second post
with the same id, sent while the first runs (a double click) or after it (back and send
again), waits for the first and gets its result (the address to show) instead of acting
again. An act that fails keeps nothing, so the corrected form can be sent with the same id.

The ids are kept in the service's memory, the latest :data:`KEEP`: behind several replicas a
double submit that two replicas take is not caught here (the engine's own checks still apply:
a decision is not recorded twice).
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable

from fastapi import Request

KEEP = 10_000
"""How many finished form ids are remembered."""


def new_form_id() -> str:
    return secrets.token_urlsafe(16)


class OneTime:
    """The results of the forms posted, by person and form id."""

    def __init__(self, keep: int = KEEP) -> None:
        self._keep = keep
        self._guard = threading.Lock()
        self._running: dict[str, threading.Lock] = {}
        self._done: OrderedDict[str, str] = OrderedDict()

    def once(self, key: str, act: Callable[[], str]) -> tuple[str, bool]:
        """The result of ``act`` run once for ``key``, and whether this call ran it."""
        with self._guard:
            if key in self._done:
                return self._done[key], False
            running = self._running.setdefault(key, threading.Lock())
        with running:
            with self._guard:
                if key in self._done:
                    return self._done[key], False
            try:
                result = act()
            except BaseException:
                with self._guard:
                    self._running.pop(key, None)
                raise
            with self._guard:
                self._done[key] = result
                self._running.pop(key, None)
                while len(self._done) > self._keep:
                    self._done.popitem(last=False)
            return result, True


_made = threading.Lock()


def of(request: Request) -> OneTime:
    """The app's :class:`OneTime`, made on first use."""
    state = request.app.state
    with _made:
        found = getattr(state, "onetime", None)
        if found is None:
            found = state.onetime = OneTime()
    assert isinstance(found, OneTime)
    return found


def key(municipality: str, person: str, form: str, form_id: str) -> str:
    """The key of a form ``form`` (``decision.propose``...) posted by a person."""
    return f"{municipality}\x1f{person}\x1f{form}\x1f{form_id}"
