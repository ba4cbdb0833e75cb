"""``tsk audit keygen`` and ``tsk audit checkpoint``: signed checkpoints of the audit trail,
kept off the database (see ``tsk_workflow.checkpoints``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import emit_json, json_option, settings

if TYPE_CHECKING:
    from tsk_workflow.organisation.model import Organisation


@click.command()
@click.option(
    "--out",
    "path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The private key's file (PATH.pub gets the public key)",
)
@json_option
def keygen(path: Path, as_json: bool) -> None:
    """Make the Ed25519 key pair that signs the checkpoints; never overwrites a key.

    Keep the private key where the database's users cannot read it and point TSK_AUDIT_KEY
    at it; give the public key (PATH.pub) to the auditors.
    """
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
    click.echo(f"Nyckel {made.key_id}: privat {made.private} (0600), publik {made.public}")


@click.command()
@json_option
@click.pass_context
def checkpoint(ctx: click.Context, as_json: bool) -> None:
    """Sign the audit chain's head now and append it to TSK_CHECKPOINT_DIR/checkpoints.jsonl
    (and mail it to TSK_CHECKPOINT_MAILTO when set). The key is TSK_AUDIT_KEY's file."""
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
    mailed = f"; skickad till {publishing.mailto}" if published.mailed else ""
    click.echo(
        f"Kontrollpunkt {made.seq} signerad (nyckel {made.key_id[:8]}…): {published.file}{mailed}"
    )


def _mail_org(ctx: click.Context) -> Organisation:
    """The organisation whose outbox sends the mail: --org, or the first one loaded."""
    if settings(ctx).org:
        return runtime.engine(ctx).org
    engines = runtime.engines(ctx)
    return engines[min(engines)].org
