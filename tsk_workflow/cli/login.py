"""``tsk login`` and ``tsk logout``: a personal token of the service, kept in the user's
config folder (``cli/client.py``)."""

from __future__ import annotations

from typing import Any

import click

from tsk_workflow.cli import client
from tsk_workflow.cli.context import emit_json, json_option, settings
from tsk_workflow.errors import TskError
from tsk_workflow.i18n import N_, _


def _service_address(url: str | None) -> str:
    import os

    given = url or os.environ.get(client.ENV_URL, "")
    if not given.strip():
        stored = client.read_token()
        if stored is not None:
            return stored.url
        raise TskError(_("which service? give --url URL or set TSK_URL"))
    return client.check_address(given, "--url" if url else client.ENV_URL)


@click.command(
    help=N_(
        "Sign in to the service (TSK_URL) with the municipality's sign-in, in a browser on any"
        " device: the people's commands then go through the service as you. The token is kept"
        " in your config folder (~/.config/tsk-workflow/token.json, yours only)."
    )
)
@click.option("--url", metavar="URL", help=N_("The service's address (default: TSK_URL)"))
@json_option
@click.pass_context
def login(ctx: click.Context, url: str | None, as_json: bool) -> None:
    address = _service_address(url)
    lang = settings(ctx).lang

    def show(device: dict[str, Any]) -> None:
        # With --json the instructions go to stderr: stdout is the JSON only.
        complete = device.get("verification_uri_complete")
        address, code = device.get("verification_uri"), device.get("user_code")
        if complete:
            click.echo(_("To sign in, open this address in a browser:"), err=as_json)
            click.echo(f"  {complete}", err=as_json)
            click.echo(
                _("Or go to {address} and enter the code {code}").format(
                    address=address, code=code
                ),
                err=as_json,
            )
        else:  # Entra ID gives only the address and the code
            click.echo(
                _("To sign in, go to {address} in a browser and enter the code {code}").format(
                    address=address, code=code
                ),
                err=as_json,
            )
        click.echo(_("Waiting for the sign-in (Ctrl-C stops)…"), err=as_json)

    before = client.read_token()
    issued = client.sign_in(address, lang, show)
    stored = client.Stored(
        url=address,
        token=str(issued["token"]),
        person=str(issued["person"]),
        municipality=str(issued["municipality"]),
    )
    path = client.write_token(stored)
    if before is not None and before.url == address:
        _revoke(before, lang)  # the token it replaces is of no more use: none is left behind
    if as_json:
        emit_json(
            {
                "url": address,
                "person": stored.person,
                "municipality": stored.municipality,
                "expires_at": issued.get("expires_at"),
                "file": str(path),
            }
        )
        return
    click.echo(
        _("Signed in to {url} as {name} ({person}, {organisation}).").format(
            url=address,
            name=issued.get("name", stored.person),
            person=stored.person,
            organisation=issued.get("organisation", stored.municipality),
        )
    )
    expires = str(issued.get("expires_at", ""))[:10]
    click.echo(
        _("The token is kept in {file} until {date}; 'tsk logout' revokes it.").format(
            file=path, date=expires
        )
    )


def _revoke(stored: client.Stored, lang: str) -> tuple[bool, str]:
    """Revoke ``stored`` at its service: whether it is no longer valid there, and why not."""
    service = client.Service(stored.url, stored.token, lang)
    try:
        service.delete("/api/v1/tokens/current")
    except client.TokenRefused:
        pass  # revoked or expired already: nothing to revoke
    except TskError as exc:
        return False, str(exc)
    finally:
        service.close()
    return True, ""


@click.command(
    help=N_(
        "Sign out of the service: the token kept is revoked at the service and removed from"
        " your config folder."
    )
)
@json_option
@click.pass_context
def logout(ctx: click.Context, as_json: bool) -> None:
    stored = client.read_token()
    if stored is None:
        if as_json:
            emit_json({"signed_out": False, "revoked": False})
        else:
            click.echo(_("Not signed in: no token is kept here."))
        return
    revoked, why = _revoke(stored, settings(ctx).lang)
    client.forget_token()
    if as_json:
        emit_json({"signed_out": True, "revoked": revoked, "url": stored.url})
        return
    if revoked:
        click.echo(
            _("Signed out of {url}: the token is revoked and removed.").format(url=stored.url)
        )
        return
    click.echo(
        _("The token is removed here, but the service did not revoke it: {why}").format(why=why),
        err=True,
    )
