"""``tsk audit keygen`` and ``tsk audit checkpoint``: signed checkpoints of the audit trail,
kept off the database (see ``tsk_workflow.checkpoints``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import emit_json, json_option, settings
from tsk_workflow.i18n import N_, _

if TYPE_CHECKING:
    from tsk_workflow.organisation.model import Organisation


@click.command(
    help=N_(
        "Make the Ed25519 key pair that signs the checkpoints; never overwrites a key.\n\n"
        "Keep the private key where the database's users cannot read it and point TSK_AUDIT_KEY"
        " at it; give the public key (PATH.pub) to the auditors."
    )
)
@click.option(
    "--out",
    "path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=N_("The private key's file (PATH.pub gets the public key)"),
)
@json_option
def keygen(path: Path, as_json: bool) -> None:
    from tsk_workflow.checkpoints import generate_key

    made = generate_key(path)
    if as_json:
        emit_json(
            {
                "private_key": str(made.private),
                "public_key": str(made.public),
                "key_id": made.key_id,
            }
        )
        return
    click.echo(
        _("Key {key}: private {private} (0600), public {public}").format(
            key=made.key_id, private=made.private, public=made.public
        )
    )


@click.command(
    help=N_(
        "Sign the audit chain's head now and append it to TSK_CHECKPOINT_DIR/checkpoints.jsonl"
        " (and mail it to TSK_CHECKPOINT_MAILTO when set). The key is TSK_AUDIT_KEY's file."
    )
)
@json_option
@click.pass_context
def checkpoint(ctx: click.Context, as_json: bool) -> None:
    import os

    from tsk_workflow.checkpoints import load_private_key, publish, publishing_from_env

    publishing = publishing_from_env(os.environ)
    key = load_private_key(publishing.key)
    store = runtime.open_store(ctx)
    now = runtime.clock(store)()
    org = _mail_org(ctx) if publishing.mailto else None
    with store.transaction() as session:
        published = publish(session, key, publishing, now, org)
    store.dispose()
    if as_json:
        emit_json(published.to_dict())
        return
    made = published.checkpoint
    mailed = _("; sent to {address}").format(address=publishing.mailto) if published.mailed else ""
    click.echo(
        _("Checkpoint {seq} signed (key {key}…): {file}").format(
            seq=made.seq, key=made.key_id[:8], file=published.file
        )
        + mailed
    )


def _mail_org(ctx: click.Context) -> Organisation:
    """The organisation whose outbox sends the mail: --org, or the first one loaded."""
    if settings(ctx).org:
        return runtime.engine(ctx).org
    engines = runtime.engines(ctx)
    return engines[min(engines)].org
