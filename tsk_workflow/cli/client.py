"""The command line as a client of the service (``tsk serve``): its address, the personal
token ``tsk login`` keeps, and the requests, over HTTP only (this module never imports the
service's code).

**Which commands go through the service.** ``TSK_URL`` names the service; without it, a token
kept by ``tsk login`` names its service, as long as no database is given (``--db``,
``TSK_DATABASE_URL``). The people's commands (``task``, ``cycle``, ``decision``, ``audit``,
``plan``, ``lagesbild``) then go through the service's API as the person signed in; ``--db``
on the command line takes them back to a database. The commands that work on a database
(``init``, ``tick``, ``run``, ``serve``, ``backup``, ``org``, ``gdpr``, ``mail``, ``audit
verify``...) need one given (``--db`` or ``TSK_DATABASE_URL``): without, they say in one line
that they are not done through the service (``runtime.open_store``).

**The token** is kept in ``$XDG_CONFIG_HOME/tsk-workflow/token.json`` (``~/.config/...``):
the folder is the user's only (0700), the file too (0600, created so, never widened), and a
file that others may read is refused.

**Errors.** A problem the service answers (RFC 9457) becomes a ``TskError`` with the problem's
``detail``, in the language of ``--lang`` (sent as ``Accept-Language``), so the command prints
one line and exits 1 as it does on a database; a refused token (401) adds that ``tsk login``
signs in again.

httpx is imported only when a request is made: a command on a database never loads it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote

from tsk_workflow.errors import NotFound, Refused, TskError, warn
from tsk_workflow.i18n import _

if TYPE_CHECKING:
    import httpx

ENV_URL = "TSK_URL"
TOKEN_FILE = "token.json"
TIMEOUT = 30.0


class TokenRefused(TskError):
    """The service refused the token (401): revoked, expired, or not one of its own."""


class Stored(NamedTuple):
    """What ``tsk login`` keeps."""

    url: str
    token: str
    person: str
    municipality: str


def normal_url(url: str) -> str:
    return url.strip().rstrip("/")


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/tsk-workflow``, else ``~/.config/tsk-workflow``."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "tsk-workflow"


def token_path() -> Path:
    return config_dir() / TOKEN_FILE


def service_url(db: str | None, db_on_command_line: bool) -> str | None:
    """The service the people's commands go to, or None (a database): ``TSK_URL``; else the
    service of the token kept, unless a database is given. ``--db`` on the command line wins
    over both."""
    if db_on_command_line:
        return None
    url = os.environ.get(ENV_URL, "")
    if url.strip():
        return normal_url(url)
    if db:
        return None
    path = token_path()
    if not path.is_file():
        return None
    stored = read_token(path)
    return stored.url if stored is not None else None


def read_token(path: Path | None = None) -> Stored | None:
    """The token kept (None: none). One that others may read, or that cannot be read, is
    refused in one line."""
    import json
    import stat

    path = path or token_path()
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TskError(
            _("{path}: cannot read file: {error}").format(path=path, error=exc.strerror)
        ) from None
    if status.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise Refused(
            _(
                "{file} can be read by others, so its token is not used: remove it and sign in"
                " again with 'tsk login'"
            ).format(file=path)
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Stored(
            url=normal_url(str(data["url"])),
            token=str(data["token"]),
            person=str(data["person"]),
            municipality=str(data["municipality"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        raise TskError(
            _("{file} is not a token kept by 'tsk login': remove it and sign in again").format(
                file=path
            )
        ) from None


def write_token(stored: Stored) -> Path:
    """Keep ``stored``: the folder made the user's only (0700), the file written 0600 under a
    new name and moved into place, so no one ever reads half of it or a copy open to others."""
    import json
    import secrets

    folder = config_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    path = folder / TOKEN_FILE
    temporary = folder / f".{TOKEN_FILE}.{secrets.token_hex(8)}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(temporary, flags, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(stored._asdict(), file, ensure_ascii=False, indent=2)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def forget_token() -> bool:
    """Remove the token kept; whether there was one."""
    try:
        token_path().unlink()
    except FileNotFoundError:
        return False
    return True


def check_address(url: str, what: str) -> str:
    """``url`` if it is an address a token may be sent to: https, or http to this machine."""
    from urllib.parse import urlsplit

    parts = urlsplit(normal_url(url))
    local = parts.hostname in {"127.0.0.1", "::1", "localhost"}
    if (parts.scheme == "https" or (parts.scheme == "http" and local)) and parts.netloc:
        return normal_url(url)
    raise TskError(
        _(
            "{what}={url} is not an address to sign in at: it must be https:// (http:// only to"
            " this machine)"
        ).format(what=what, url=url)
    )


def _unreachable(url: str, exc: Exception) -> TskError:
    """The service at ``url`` not reached: refused, timed out, or not an address at all."""
    return TskError(
        _("the service at {url} cannot be reached: {error}").format(
            url=url, error=str(exc) or type(exc).__name__
        )
    )


class Service:
    """Requests to the service at ``url``, with ``token`` (none: only the doors that take no
    sign-in), in ``lang``."""

    def __init__(self, url: str, token: str | None, lang: str) -> None:
        from importlib.metadata import version

        import httpx

        self.url = normal_url(url)
        headers = {"Accept-Language": lang, "User-Agent": f"tsk/{version('tsk-workflow')}"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            self._http = httpx.Client(base_url=self.url, headers=headers, timeout=TIMEOUT)
        except httpx.InvalidURL as exc:
            raise _unreachable(self.url, exc) from None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._json(self._send("GET", path, params=params))

    def get_bytes(self, path: str, params: dict[str, Any] | None = None) -> bytes:
        return self._send("GET", path, params=params).content

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._json(self._send("POST", path, json=body or {}))

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        return self._json(self._send("PATCH", path, json=body))

    def post_file(self, path: str, name: str, content: bytes, fields: dict[str, str]) -> Any:
        """A file and form fields, as ``multipart/form-data``."""
        return self._json(self._send("POST", path, files={"file": (name, content)}, data=fields))

    def delete(self, path: str) -> Any:
        return self._json(self._send("DELETE", path))

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise _unreachable(self.url, exc) from None
        if response.status_code >= 400:
            raise problem_error(response)
        # The service's warnings (web/warned.py), shown as the command line's own.
        for warning in response.headers.get_list("x-tsk-warning"):
            warn(unquote(warning))
        return response

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise TskError(
                _("the service at {url} answered something that is not JSON").format(url=self.url)
            ) from None


def problem_error(response: httpx.Response) -> TskError:
    """The service's problem (RFC 9457) as the error the command prints: its ``detail``, and
    one line more for each wrong answer of a form."""
    try:
        body = response.json()
    except ValueError:
        body = None
    status = response.status_code
    if not isinstance(body, dict) or not isinstance(body.get("detail"), str):
        return TskError(
            _("the service answered {status} {reason}").format(
                status=status, reason=response.reason_phrase
            )
        )
    detail: str = body["detail"]
    if status == 401:
        return TskError(_("{detail} Sign in with 'tsk login'.").format(detail=detail.rstrip()))
    kind = str(body.get("type", "")).rpartition(":")[2]
    errors = body.get("errors")
    error: TskError
    if status == 404:
        error = NotFound(detail)
    elif status in (403, 409) or kind == "invalid-answers":
        error = Refused(detail)
    else:
        error = TskError(detail)
    if isinstance(errors, list) and errors:
        lines = [f"{e.get('field')}: {e.get('message')}" for e in errors if isinstance(e, dict)]
        # Printed one a line (TskGroup): each wrong answer, as on a database; the detail first
        # for a request the service could not read.
        problems = lines if kind == "invalid-answers" else [detail, *lines]
        error.problems = problems  # type: ignore[attr-defined]
    return error


def connect(url: str, actor: str | None, lang: str) -> Service:
    """The service at ``url`` with the token kept for it: the people's commands. ``--as`` is
    refused: through the service a person acts as themselves."""
    if actor:
        raise Refused(
            _(
                "through the service you act as yourself: --as (TSK_USER) is not taken; sign in"
                " as the person with 'tsk login'"
            )
        )
    stored = read_token()
    if stored is None:
        raise TskError(_("not signed in to {url}: sign in with 'tsk login'").format(url=url))
    if stored.url != normal_url(url):
        raise TskError(
            _(
                "the token kept is for {other}, not {url}: sign in with 'tsk login' (TSK_URL"
                " names the service)"
            ).format(other=stored.url, url=url)
        )
    return Service(url, stored.token, lang)


# ---------------------------------------------------------------- tsk login: the device flow

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN = 5
"""Seconds added to the polling interval when the provider says ``slow_down`` (RFC 8628)."""


def sign_in(
    url: str,
    lang: str,
    show: Callable[[dict[str, Any]], None],
    sleep: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Sign in at the service ``url`` with the device authorization grant (RFC 8628): ask the
    service for its provider and the command line's client there, start the grant, ``show``
    the person where to approve it, poll the provider's token endpoint until they have (at the
    interval it asks, slower when it says ``slow_down``, no longer than the code lives), and
    give the ID token to the service for a personal API token. The service's answer: the
    token, the person, their municipality."""
    import socket
    import time

    service = Service(url, None, lang)
    try:
        found = service.get("/api/v1/auth/cli")
        issuer, client_id = str(found["issuer"]), str(found["client_id"])
        scopes = str(found.get("scopes") or "openid email profile")
        metadata = _provider(
            issuer, "GET", f"{issuer.rstrip('/')}/.well-known/openid-configuration"
        )
        if normal_url(str(metadata.get("issuer", ""))) != normal_url(issuer):
            raise TskError(
                _("the sign-in provider at {url} names another issuer: {other}").format(
                    url=issuer, other=metadata.get("issuer")
                )
            )
        endpoint = metadata.get("device_authorization_endpoint")
        if not endpoint:
            raise TskError(
                _("the sign-in provider at {url} does not offer the device flow").format(url=issuer)
            )
        device = _provider(
            issuer, "POST", str(endpoint), data={"client_id": client_id, "scope": scopes}
        )
        show(device)
        id_token = _poll(
            issuer, str(metadata["token_endpoint"]), client_id, device, sleep or time.sleep
        )
        label = socket.gethostname()[:100]
        issued: dict[str, Any] = service.post(
            "/api/v1/tokens", {"id_token": id_token, "label": label}
        )
        return issued
    finally:
        service.close()


def _poll(
    issuer: str,
    endpoint: str,
    client_id: str,
    device: dict[str, Any],
    sleep: Callable[[float], None],
) -> str:
    """The ID token, once the person has approved the sign-in."""
    import time

    interval = float(device.get("interval") or 5)
    deadline = time.monotonic() + float(device.get("expires_in") or 600)
    form = {
        "grant_type": DEVICE_GRANT,
        "device_code": device["device_code"],
        "client_id": client_id,
    }
    while True:
        sleep(interval)
        if time.monotonic() > deadline:
            raise TskError(_("the sign-in was not approved in time: run 'tsk login' again"))
        answer = _provider(issuer, "POST", endpoint, data=form, errors=True)
        error = answer.get("error")
        if error is None:
            if not answer.get("id_token"):
                raise TskError(_("the sign-in provider sent no ID token"))
            return str(answer["id_token"])
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval += SLOW_DOWN
            continue
        if error == "access_denied":
            raise Refused(_("the sign-in was cancelled, or the provider did not allow it"))
        if error == "expired_token":
            raise TskError(_("the sign-in was not approved in time: run 'tsk login' again"))
        code = str(error) if str(error).replace("_", "").isalpha() else "?"
        raise Refused(_("the provider refused the sign-in ({error})").format(error=code[:64]))


def _provider(
    issuer: str, method: str, url: str, *, data: dict[str, Any] | None = None, errors: bool = False
) -> dict[str, Any]:
    """A request to the provider; its JSON answer. An OAuth error answer (400 with ``error``)
    is returned as it is when ``errors``; anything else that fails is one line."""
    import httpx

    try:
        response = httpx.request(method, url, data=data, timeout=TIMEOUT)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise TskError(
            _("the sign-in provider at {url} cannot be reached: {error}").format(
                url=issuer, error=str(exc) or type(exc).__name__
            )
        ) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    if response.is_success or (errors and response.status_code in (400, 401) and "error" in body):
        return body
    raise TskError(
        _("the sign-in provider at {url} answered {status}: {error}").format(
            url=issuer, status=response.status_code, error=body.get("error", response.reason_phrase)
        )
    )
