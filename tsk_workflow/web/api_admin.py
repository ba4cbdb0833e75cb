"""The API's acts of those who look after the installation: a new version of the organisation
(its admins), open cycles moved to a changed definition (the chair or an admin), personal data
purged after the retention time (the kanslichef). The engine checks who may, as for the CLI."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile
from pydantic import BaseModel

from tsk_workflow import gdpr
from tsk_workflow.catalog import organisation_from_text
from tsk_workflow.engine import setup, upgrade
from tsk_workflow.i18n import _
from tsk_workflow.web.deps import Actor
from tsk_workflow.web.problem import Problem

router = APIRouter(prefix="/api/v1")

MAX_ORGANISATION_BYTES = 2 * 1024 * 1024
"""An organisation file of a large municipality is some tens of kilobytes."""


class Purge(BaseModel):
    before: dt.date
    force: bool = False
    dry_run: bool = False


@router.post("/org", tags=["admin"], summary="Load a new version of the organisation (its admins)")
async def load_organisation(
    actor: Actor, file: Annotated[UploadFile, File(description="The organisation file (YAML)")]
) -> dict[str, Any]:
    from starlette.concurrency import run_in_threadpool

    raw = await file.read(MAX_ORGANISATION_BYTES + 1)
    if len(raw) > MAX_ORGANISATION_BYTES:
        raise Problem(413, "too-large", _("An organisation file is at most 2 MB."))
    engine = actor.engine
    read = setup.OrganisationFile.of(raw, file.filename or "organisation.yaml")

    def load() -> dict[str, Any]:
        new = organisation_from_text(read.text, read.name, engine.catalog)
        loaded = setup.load(
            engine.store, engine.catalog, engine.org, read, new, actor.person, engine.clock
        )
        return loaded.to_dict()

    result: dict[str, Any] = await run_in_threadpool(load)
    return result


@router.post(
    "/processes/{key}/upgrade-cycles",
    tags=["admin"],
    summary="Move open cycles to the current definition (the chair or an admin)",
)
def upgrade_cycles(key: str, actor: Actor, dry_run: bool = False) -> dict[str, Any]:
    done = upgrade.upgrade_cycles(actor.engine, actor.person, key, dry_run=dry_run)
    return done.to_dict()


@router.post("/gdpr/purge", tags=["admin"], summary="Purge personal data past the retention")
def purge(body: Purge, actor: Actor) -> dict[str, Any]:
    result = gdpr.purge(
        actor.engine, actor.person, body.before, force=body.force, dry_run=body.dry_run
    )
    return result.as_dict()
