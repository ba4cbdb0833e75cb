"""A municipality's own mail templates: which folder, and whether it may be used.

The shipped templates are one set in ``notifications/``, written once and translated through the
catalogue. A municipality writes its own per language, in a folder holding ``sv/`` and ``en/``:
a file there replaces the shipped file of the same name for the readers of that language (a
Swedish ``sv/task_assigned.subject.txt`` for Swedish readers, English readers keep the shipped
one), one file at a time. The folder is

- the one ``mail.templates: <name>`` in the organisation names under ``TSK_TEMPLATE_ROOT``, a
  folder the administrator sets for the service. The organisation gives only the name (checked
  in ``tsk_workflow.organisation.validate``), never a path: whoever may edit an organisation
  must not be able to point the service at files of their choosing.
- Without it, ``municipalities/<key>/notifications`` shipped with the package, when present.

:func:`template_folder` finds ``TSK_TEMPLATE_ROOT/<name>`` when mail is made, and raises
:class:`~tsk_workflow.mail.render.Held` with the reason when it cannot be used: no root set, no
such folder, a symlink leading out of the root, or contents the shipped folder does not have
(anything but ``sv/`` and ``en/``, a file name the shipped ``notifications/`` does not have, such
as ``task_assigend.txt``). The outbox then holds the municipality's mail rather than send it with
the shipped templates. The reasons are said in the language spoken (they are for whoever looks
after the mail).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path

from tsk_workflow.i18n import _
from tsk_workflow.mail.render import LANGUAGES, Held, shipped_templates
from tsk_workflow.organisation.validate import template_folder_name_problem

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
            _(
                "mail.templates names the folder {name}, but {variable} is not set: the"
                " administrator sets {variable} for the service to the folder that holds it"
            ).format(name=repr(name), variable=ROOT_VARIABLE)
        )
    root = Path(setting).resolve()
    if not root.is_dir():
        raise Held(
            _("{variable}={setting} is not a folder").format(
                variable=ROOT_VARIABLE, setting=setting
            )
        )
    folder = (root / name).resolve()
    if not folder.is_relative_to(root):
        raise Held(
            _("{path} leads outside {variable} ({root}): refused").format(
                path=root / name, variable=ROOT_VARIABLE, root=root
            )
        )
    if not folder.is_dir():
        raise Held(
            _("mail.templates names the folder {name}, but there is no {path}").format(
                name=repr(name), path=root / name
            )
        )
    problems = folder_problems(folder, root)
    if problems:
        raise Held("; ".join(problems))
    return folder


def folder_problems(folder: Path, root: Path) -> list[str]:
    """What is wrong with a template folder: anything but ``sv/`` and ``en/``, a file in them
    the shipped ``notifications/`` does not have (with the closest name), or a path leading out
    of ``root``."""
    found: list[str] = []
    shipped = shipped_templates()
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.name not in LANGUAGES or not entry.is_dir():
            found.append(
                _("'{name}' in {folder}: expected only folders sv/ and en/").format(
                    name=entry.name, folder=folder
                )
            )
            continue
        if not entry.resolve().is_relative_to(root):
            found.append(
                _("'{name}' in {folder} leads outside {variable}: refused").format(
                    name=entry.name, folder=folder, variable=ROOT_VARIABLE
                )
            )
            continue
        for file in sorted(entry.iterdir()):
            if file.name.startswith("."):
                continue
            name = f"{entry.name}/{file.name}"
            if file.name not in shipped:
                close = difflib.get_close_matches(file.name, shipped, n=1)
                found.append(
                    (
                        _("unknown mail template '{name}' in {folder} (did you mean '{close}'?)")
                        if close
                        else _("unknown mail template '{name}' in {folder}")
                    ).format(name=name, folder=folder, close=close[0] if close else "")
                )
            elif not file.resolve().is_relative_to(root):
                found.append(
                    _("'{name}' in {folder} leads outside {variable}: refused").format(
                        name=name, folder=folder, variable=ROOT_VARIABLE
                    )
                )
            elif not file.is_file():
                found.append(
                    _("'{name}' in {folder} is not a file").format(name=name, folder=folder)
                )
    return found
