"""The problem a route raises itself (RFC 9457, answered by ``web/problems.py``)."""

from __future__ import annotations

from typing import Any


class Problem(Exception):
    """A problem a route raises itself: ``status``, a ``kind`` (the type's last part) and the
    ``detail`` for people; ``extra`` adds members (``errors`` of a form)."""

    def __init__(self, status: int, kind: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail, self.extra = status, kind, detail, extra
