"""Compile the gettext catalogues into the wheel (tsk_workflow/i18n.py reads them).

A regular wheel gets each ``tsk_workflow/locale/<lang>/LC_MESSAGES/tsk.mo`` compiled from its
``.po`` into the build; an editable install writes the ``.mo`` beside the ``.po`` in the source
tree (ignored by git), since its package is the source folder itself.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CompileCatalogues(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        out = Path(tempfile.mkdtemp(prefix="tsk-mo-"))
        for po in sorted((root / "tsk_workflow" / "locale").glob("*/LC_MESSAGES/*.po")):
            with po.open("rb") as file:
                catalog = read_po(file)
            compiled = io.BytesIO()
            write_mo(compiled, catalog)
            relative = po.relative_to(root).with_suffix(".mo")
            if version == "editable":
                po.with_suffix(".mo").write_bytes(compiled.getvalue())
                continue
            target = out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(compiled.getvalue())
            build_data["force_include"][str(target)] = relative.as_posix()
