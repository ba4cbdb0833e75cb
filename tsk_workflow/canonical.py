"""Canonical JSON and its SHA-256: what the audit chain hashes, and what forms digest.

Pure and at the bottom of the layers, so that the core (``forms``) can digest answers the way
the audit trail does without importing the trail (and its database).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical(value: Any) -> bytes:
    """Deterministic JSON: sorted keys, no spaces, UTF-8; non-JSON values as ``str(value)``."""
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    ).encode()


def digest(value: Any) -> str:
    """The SHA-256 (hex) of ``canonical(value)``."""
    return hashlib.sha256(canonical(value)).hexdigest()
