"""JSON Schemas of the definition and organisation files, generated from the models.

``python -m tsk_workflow.schemas`` rewrites ``docs/process.schema.json`` and
``docs/organisation.schema.json``; a test keeps them in sync. It stands above both packages: the
organisation's model uses the definitions', so ``definitions`` imports nothing of ``organisation``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_of(model: type[BaseModel], title: str) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": SCHEMA_DIALECT, "title": title, **schema}


def process_schema() -> dict[str, Any]:
    from tsk_workflow.definitions.model import ProcessDefinition

    return schema_of(ProcessDefinition, "tsk-workflow process definition")


def organisation_schema() -> dict[str, Any]:
    from tsk_workflow.organisation.model import Organisation

    return schema_of(Organisation, "tsk-workflow organisation")


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def write(docs: Path) -> None:
    (docs / "process.schema.json").write_text(render(process_schema()), encoding="utf-8")
    (docs / "organisation.schema.json").write_text(render(organisation_schema()), encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
