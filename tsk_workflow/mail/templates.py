"""A municipality's own mail templates: which folder, and whether it may be used.

The shipped templates are ``notifications/<lang>/``; a municipality may replace any of them, one
file at a time, from a folder of the same layout (``sv/``, ``en/``):

- ``mail.templates: <name>`` in the organisation names a folder under ``TSK_TEMPLATE_ROOT``, a
  folder the administrator sets for the service. The organisation gives only the name (checked
  in ``tsk_workflow.organisation.validate``), never a path: whoever may edit an organisation
  must not be able to point the service at files of their choosing.
- Without it, ``municipalities/<key>/notifications`` shipped with the package, when present.

:func:`template_folder` finds ``TSK_TEMPLATE_ROOT/<name>`` when mail is made, and raises
:class:`~tsk_workflow.mail.render.Held` with the reason when it cannot be used: no root set, no
such folder, a symlink leading out of the root, or contents the shipped folder does not have
(anything but ``sv/`` and ``en/``, an unknown template name such as ``task_assigend.txt``). The
outbox then holds the municipality's mail rather than send it with the shipped templates.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path

from tsk_workflow.mail.render import LANGUAGES, Held
from tsk_workflow.organisation.validate import template_folder_name_problem
from tsk_workflow.resources import notifications_dir

ROOT_VARIABLE = "TSK_TEMPLATE_ROOT"


def template_folder(name: str, env: Mapping[str, str]) -> Path:
    """``TSK_TEMPLATE_ROOT/<name>``, resolved, inside the root and holding only known templates.

    Raises ``Held`` saying what is wrong and what to do.
    """
    problem = template_folder_name_problem(name)
    if problem:
        raise Held(problem)
    setting = env.get(ROOT_VARIABLE, "")
    if not setting:
        raise Held(
            f"mail.templates names the folder {name!r}, but {ROOT_VARIABLE} is not set: the"
            f" administrator sets {ROOT_VARIABLE} for the service to the folder that holds it"
        )
    root = Path(setting).resolve()
    if not root.is_dir():
        raise Held(f"{ROOT_VARIABLE}={setting} is not a folder")
    folder = (root / name).resolve()
    if not folder.is_relative_to(root):
        raise Held(f"{root / name} leads outside {ROOT_VARIABLE} ({root}): refused")
    if not folder.is_dir():
        raise Held(f"mail.templates names the folder {name!r}, but there is no {root / name}")
    problems = folder_problems(folder, root)
    if problems:
        raise Held("; ".join(problems))
    return folder


def folder_problems(folder: Path, root: Path) -> list[str]:
    """What is wrong with a template folder: anything but ``sv/`` and ``en/``, a file the shipped
    ``notifications/`` does not have (with the closest name), or a path leading out of ``root``."""
    found: list[str] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.name not in LANGUAGES or not entry.is_dir():
            found.append(f"'{entry.name}' in {folder}: expected only folders sv/ and en/")
            continue
        if not entry.resolve().is_relative_to(root):
            found.append(f"'{entry.name}' in {folder} leads outside {ROOT_VARIABLE}: refused")
            continue
        shipped = sorted(p.name for p in (notifications_dir() / entry.name).iterdir())
        for file in sorted(entry.iterdir()):
            if file.name.startswith("."):
                continue
            if file.name not in shipped:
                close = difflib.get_close_matches(file.name, shipped, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                found.append(f"unknown mail template '{entry.name}/{file.name}' in {folder}{hint}")
            elif not file.resolve().is_relative_to(root):
                found.append(
                    f"'{entry.name}/{file.name}' in {folder} leads outside {ROOT_VARIABLE}: refused"
                )
            elif not file.is_file():
                found.append(f"'{entry.name}/{file.name}' in {folder} is not a file")
    return found
