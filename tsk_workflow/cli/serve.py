"""``tsk serve``: the service (``tsk_workflow.web``) on uvicorn."""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import log_level_option
from tsk_workflow.i18n import N_, _

if TYPE_CHECKING:
    from tsk_workflow.store.database import Store


@click.command(
    help=N_(
        "Run the service until stopped: the JSON API (/api/v1, described at /api/docs), sign-in"
        " through the municipality's OpenID Connect provider, the links in mail, and the"
        " scheduler pass of tsk run every TSK_PASS_INTERVAL seconds (replicas on one PostgreSQL"
        " take turns). Settings come from the environment, or a file of NAME=value lines"
        " (--config; the environment wins): TSK_BASE_URL, TSK_SECRET_KEY or TSK_SECRET_KEY_FILE,"
        " TSK_OIDC_ISSUER, TSK_OIDC_CLIENT_ID, TSK_OIDC_CLIENT_SECRET, TSK_OIDC_PERSON_CLAIM."
        " Without OIDC only a database on virtual time (the demo's) is served, its people"
        " signing in from a list."
    )
)
@click.option("--host", default="127.0.0.1", show_default=True, help=N_("The address to listen on"))
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help=N_("The port")
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=N_("A file of NAME=value lines (systemd's EnvironmentFile format)"),
)
@log_level_option
@click.pass_context
def serve(
    ctx: click.Context, host: str, port: int, config_file: Path | None, log_level: str
) -> None:
    import os

    from tsk_workflow.cli.run import configure_logging
    from tsk_workflow.web.config import read_environment

    configure_logging(log_level, as_json=False)  # the scheduler's pass logs a line each time
    environ = read_environment(config_file, os.environ)
    store = runtime.open_store(ctx)
    run_service(ctx, store, environ, host, port, log_level)


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` (0: a free port, known before the service starts,
    which then listens on it); one that cannot be bound is refused in one line."""
    from tsk_workflow.errors import TskError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise TskError(
            _("cannot listen on {host}:{port}: {reason}").format(
                host=host, port=port, reason=exc.strerror or exc
            )
        ) from None
    return sock


def address(sock: socket.socket) -> str:
    """The address to open the service on ``sock`` at (``http://127.0.0.1:8000/``)."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def run_service(
    ctx: click.Context,
    store: Store,
    environ: Mapping[str, str],
    host: str,
    port: int,
    log_level: str,
    *,
    sock: socket.socket | None = None,
    on_started: Callable[[str], None] | None = None,
) -> None:
    """The service over ``store`` on ``host``:``port`` (or the socket ``sock``, bound there
    already) until SIGTERM or Ctrl-C, which stop it cleanly: requests and a scheduler pass in
    progress finish, and the command exits 0. ``on_started`` is told the address once the
    service listens. Bad settings are refused before anything listens."""
    import signal

    import uvicorn

    from tsk_workflow.store.installation import virtual_time
    from tsk_workflow.web.app import create_app
    from tsk_workflow.web.config import load_config
    from tsk_workflow.web.state import ServiceState

    virtual = virtual_time(store)
    environ = _demo_key(store, dict(environ)) if virtual else dict(environ)
    config = load_config(environ, host=host, port=port, virtual_time=virtual)
    sock = sock or bind(host, port)  # bound, not listening yet
    bound = int(sock.getsockname()[1])
    if bound != port:  # port 0: the address (links, sign-in) is the port bound
        config = load_config(environ, host=host, port=bound, virtual_time=virtual)
    state = ServiceState(config, store, runtime.clock(store), virtual_time=virtual, settle=True)
    # A database without an organisation is refused before listening; so is anyone but the
    # service's user or an admin (the service acts for everyone).
    state.engines()
    runtime.require_service_act(ctx, store, "serve")
    app = create_app(state)
    # uvicorn stops on SIGTERM or Ctrl-C (requests in progress finish, the scheduler's pass
    # in progress too), then raises the signal again for the handler that was there before:
    # this one, so that a clean stop exits 0, as 'tsk run' does.
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda _number, _frame: None)
    listening = sock

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and on_started is not None:
                on_started(address(listening))

    Server(
        uvicorn.Config(
            app,
            log_level=log_level,
            proxy_headers=True,
            forwarded_allow_ips=environ.get("TSK_FORWARDED_ALLOW_IPS", "127.0.0.1"),
            server_header=False,
        )
    ).run(sockets=[sock])


def _demo_key(store: Store, environ: dict[str, str]) -> dict[str, str]:
    """On the demo's database, without a key given, the key its mails' links were signed
    with: ``link-key`` beside the database (``tsk demo`` writes it there), so that the links
    in the demo's maildir open at ``tsk serve``."""
    from tsk_workflow.demo.run import LINK_KEY_FILE
    from tsk_workflow.links import ENV_KEY, ENV_KEY_FILE
    from tsk_workflow.store.database import sqlite_file

    if environ.get(ENV_KEY) or environ.get(ENV_KEY_FILE):
        return environ
    database = sqlite_file(store.url)
    key = database.parent / LINK_KEY_FILE if database is not None else None
    if key is None or not key.is_file():
        return environ
    return {**environ, ENV_KEY_FILE: str(key)}
