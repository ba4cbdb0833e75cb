"""Pages rendered on the server: Jinja2, in the sandbox, in the language of the request.

Every page extends ``base.html.j2``: the language in ``<html lang>``, the person signed in, the
CSRF token for the forms that change something, and no inline script or style (the CSP allows
neither, ``web/security.py``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tsk_workflow import i18n
from tsk_workflow.templating import sandboxed


@cache
def environment() -> ImmutableSandboxedEnvironment:
    env = sandboxed(
        extensions=["jinja2.ext.i18n"],
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n._, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext
    )
    return env


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """The page ``name`` (``templates/NAME.j2``) with ``context`` and what every page shows."""
    from tsk_workflow.web.sessions import csrf_token, signed_in_name

    values = {
        "lang": i18n.language(),
        "csrf": csrf_token(request),
        "who": signed_in_name(request),
        **context,
    }
    html = environment().get_template(f"{name}.j2").render(values)
    return HTMLResponse(html, status_code=status_code)
