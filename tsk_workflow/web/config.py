"""The service's settings: from the environment, or a file given with ``tsk serve --config``.

The file holds the same names as the environment, one ``NAME=value`` a line (the format of
systemd's ``EnvironmentFile=``, read with python-dotenv), so one file serves both; a variable
set in the environment wins over the file, as the mail settings do over the organisation's.

========================== ==============================================================
``TSK_BASE_URL``           the address people reach the service at (links in mail, sign-in)
``TSK_SECRET_KEY``         signs the session cookies and mail links (32 characters or more);
``TSK_SECRET_KEY_FILE``    or a file holding it, its owner's only (``tsk_workflow.links``)
``TSK_OIDC_ISSUER``        the identity provider (OpenID Connect discovery at its
                           ``/.well-known/openid-configuration``)
``TSK_OIDC_CLIENT_ID``     this service's client at the provider,
``TSK_OIDC_CLIENT_SECRET`` and its secret
``TSK_OIDC_PERSON_CLAIM``  the claim matched to a person of the organisation (``email``)
``TSK_OIDC_SCOPES``        what is asked for (``openid email profile``)
``TSK_OIDC_CLI_CLIENT_ID`` the command line's public client at the provider, with the
                           device authorization grant (``tsk login``; none: no tokens)
``TSK_TOKEN_DAYS``         how long a personal API token of ``tsk login`` lasts (90)
``TSK_PASS_INTERVAL``      seconds between scheduler passes (60; 0 runs none)
``TSK_SESSION_HOURS``      how long a sign-in lasts (10)
``TSK_MAP_TILES``          the lägesbild map's tiles, a URL template with ``{z}``, ``{x}``,
                           ``{y}`` (OpenStreetMap's; empty: no tiles, the points alone)
``TSK_MAP_ATTRIBUTION``    the tiles' attribution, shown under the map
========================== ==============================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tsk_workflow import links
from tsk_workflow.errors import TskError
from tsk_workflow.i18n import _
from tsk_workflow.links import LinkSettings


@dataclass(frozen=True)
class OidcSettings:
    """The identity provider and this service's client there."""

    issuer: str
    client_id: str
    client_secret: str
    person_claim: str = "email"
    scopes: str = "openid email profile"
    cli_client_id: str | None = None
    """The command line's public client (device authorization grant); None: ``tsk login``
    is not offered."""

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"


DEFAULT_MAP_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DEFAULT_MAP_ATTRIBUTION = "© OpenStreetMap contributors"


@dataclass(frozen=True)
class ServiceConfig:
    """What ``tsk serve`` runs with. ``environ`` is the whole environment the service acts in
    (the file's names under the process's), for what others read from it: the SMTP settings,
    the checkpoint's key and folder, the mail links."""

    base_url: str
    secret_key: bytes
    oidc: OidcSettings | None
    environ: Mapping[str, str]
    links: LinkSettings | None = None
    """How the links in mail are read (the same key and address), None when they are off."""
    pass_interval: float = 60.0
    session_hours: float = 10.0
    token_days: float = 90.0
    """How long a personal API token lasts (``tsk login``)."""
    generated_key: bool = False
    """The key was made at start (a virtual-time database without one): sign-ins end with
    the process."""
    map_tiles: str = DEFAULT_MAP_TILES
    """The tile server of the lägesbild's map (a Leaflet URL template); empty: no tiles."""
    map_attribution: str = DEFAULT_MAP_ATTRIBUTION

    @property
    def map_origin(self) -> str | None:
        """The origin the map's tiles come from, for the CSP's ``img-src`` (a ``{s}``
        subdomain becomes ``*``); None without tiles."""
        return tile_origin(self.map_tiles)

    @property
    def secure(self) -> bool:
        """Whether people reach the service over TLS (the cookie is then ``Secure``)."""
        return self.base_url.startswith("https://")


def read_environment(config_file: Path | None, environ: Mapping[str, str]) -> dict[str, str]:
    """The file's ``NAME=value`` lines under ``environ`` (the environment wins)."""
    merged: dict[str, str] = {}
    if config_file is not None:
        from dotenv import dotenv_values

        if not config_file.is_file():
            raise TskError(_("{file}: no such file").format(file=config_file))
        values = dotenv_values(config_file)
        merged.update({key: value for key, value in values.items() if value is not None})
    merged.update(environ)
    return merged


def load_config(
    environ: Mapping[str, str], *, host: str, port: int, virtual_time: bool
) -> ServiceConfig:
    """The settings in ``environ`` (:func:`read_environment`); ``host`` and ``port`` make the
    base URL when ``TSK_BASE_URL`` is not set. Without OIDC or a secret key only a database
    on virtual time (the demo's, the tests') is served: there the people sign in from a list,
    and a key is made for the process."""
    address = links.base_url(environ.get(links.ENV_BASE_URL, "").strip())
    address = address or f"http://{host}:{port}"
    oidc = _oidc(environ)
    if oidc is None and not virtual_time:
        raise TskError(
            _(
                "no sign-in configured: set TSK_OIDC_ISSUER, TSK_OIDC_CLIENT_ID and"
                " TSK_OIDC_CLIENT_SECRET (only a database on virtual time, the demo's, is"
                " served without)"
            )
        )
    key = links.secret_key(environ)
    generated = key is None
    if key is None:
        if not virtual_time:
            raise TskError(
                _("no secret key: set TSK_SECRET_KEY, or TSK_SECRET_KEY_FILE naming a file")
            )
        key = links.generate_key().encode()
        environ = {**environ, links.ENV_KEY: key.decode()}
    # What the scheduler pass and the links read: the address and key the service uses.
    environ = {**environ, links.ENV_BASE_URL: address}
    return ServiceConfig(
        base_url=address,
        secret_key=key,
        oidc=oidc,
        links=links.link_settings(environ),
        environ=environ,
        pass_interval=_number(environ, "TSK_PASS_INTERVAL", 60.0),
        session_hours=_number(environ, "TSK_SESSION_HOURS", 10.0),
        token_days=_number(environ, "TSK_TOKEN_DAYS", 90.0),
        generated_key=generated,
        map_tiles=_map_tiles(environ),
        map_attribution=environ.get("TSK_MAP_ATTRIBUTION", DEFAULT_MAP_ATTRIBUTION).strip(),
    )


def _map_tiles(environ: Mapping[str, str]) -> str:
    """``TSK_MAP_TILES``: unset, OpenStreetMap's; empty, none; else an http(s) template
    naming ``{z}``, ``{x}`` and ``{y}``."""
    template = environ.get("TSK_MAP_TILES")
    if template is None:
        return DEFAULT_MAP_TILES
    template = template.strip()
    if not template:
        return ""
    _check_url(template.replace("{s}", "a"), "TSK_MAP_TILES")
    if not all(part in template for part in ("{z}", "{x}", "{y}")):
        raise TskError(
            _("TSK_MAP_TILES={value} must name {{z}}, {{x}} and {{y}}").format(value=repr(template))
        )
    if any(c in template for c in " ;,'\"\\"):
        raise TskError(
            _("TSK_MAP_TILES={value} is not an http(s) address").format(value=repr(template))
        )
    return template


def tile_origin(template: str) -> str | None:
    """The scheme and host of a tile template (``https://tile.openstreetmap.org``)."""
    if not template:
        return None
    parts = urlsplit(template)
    return f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"


def _oidc(environ: Mapping[str, str]) -> OidcSettings | None:
    names = ("TSK_OIDC_ISSUER", "TSK_OIDC_CLIENT_ID", "TSK_OIDC_CLIENT_SECRET")
    given = [name for name in names if environ.get(name)]
    if not given:
        return None
    missing = [name for name in names if name not in given]
    if missing:
        raise TskError(
            _("{names} must be set as well, for sign-in").format(names=", ".join(missing))
        )
    _check_url(environ["TSK_OIDC_ISSUER"], "TSK_OIDC_ISSUER")
    return OidcSettings(
        issuer=environ["TSK_OIDC_ISSUER"],
        client_id=environ["TSK_OIDC_CLIENT_ID"],
        client_secret=environ["TSK_OIDC_CLIENT_SECRET"],
        person_claim=environ.get("TSK_OIDC_PERSON_CLAIM") or "email",
        scopes=environ.get("TSK_OIDC_SCOPES") or "openid email profile",
        cli_client_id=environ.get("TSK_OIDC_CLI_CLIENT_ID") or None,
    )


def _check_url(url: str, name: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TskError(
            _("{name}={value} is not an http(s) address").format(name=name, value=repr(url))
        )


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    text = environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise TskError(
            _("{name}={value} is not a number of 0 or more").format(name=name, value=repr(text))
        )
    return value
