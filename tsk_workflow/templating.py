"""Jinja2 environments that a template cannot break out of: every template renders in the sandbox.

Mail templates may come from a folder the administrator keeps for a municipality
(``TSK_TEMPLATE_ROOT``), and what the templates show (titles, notes, answers) was typed by people;
neither may reach Python. :func:`sandboxed` builds a
:class:`jinja2.sandbox.ImmutableSandboxedEnvironment`: no attribute that starts with ``_``
(``''.__class__``, ``cycler.__init__.__globals__``), no function internals, no method that
changes a list, dict or set, ``str.format`` checked like attribute access. On top of that it
bounds what one template can spend: ``range`` of at most :data:`MAX_RANGE` items, ``**`` with a
result of at most :data:`MAX_POWER_BITS` bits, ``*`` making a string or list of at most
:data:`MAX_LENGTH` items, and no ``lipsum`` (paragraphs of filler text on demand). Whatever is
refused raises :class:`jinja2.sandbox.SecurityError`, which the mail outbox turns into held mail.
"""

from __future__ import annotations

from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tsk_workflow.i18n import _

MAX_RANGE = 10_000
MAX_POWER_BITS = 4096
MAX_LENGTH = 100_000

__all__ = ["MAX_LENGTH", "MAX_POWER_BITS", "MAX_RANGE", "SecurityError", "sandboxed"]


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"**", "*"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and _too_big_power(left, right):
            raise SecurityError(
                _("{left} ** {right} is larger than the sandbox allows ({bits} bits)").format(
                    left=repr(left), right=repr(right), bits=MAX_POWER_BITS
                )
            )
        if operator == "*" and _too_long(left, right):
            raise SecurityError(
                _("a repetition longer than the sandbox allows ({most})").format(most=MAX_LENGTH)
            )
        return super().call_binop(context, operator, left, right)


def sandboxed(**options: Any) -> ImmutableSandboxedEnvironment:
    """A sandboxed environment with ``options`` (loader, autoescape, undefined, ...)."""
    env = _Sandbox(**options)
    env.globals.pop("lipsum", None)
    env.globals["range"] = _range
    return env


def _range(*args: int) -> range:
    numbers = range(*args)
    try:
        size = len(numbers)
    except OverflowError:  # more than sys.maxsize
        size = MAX_RANGE + 1
    if size > MAX_RANGE:
        raise SecurityError(_("a range of more than {most} numbers").format(most=MAX_RANGE))
    return numbers


def _too_big_power(base: Any, exponent: Any) -> bool:
    if not (isinstance(base, int) and isinstance(exponent, int)) or exponent <= 0:
        return False
    return max(abs(base).bit_length(), 1) * exponent > MAX_POWER_BITS and abs(base) > 1


def _too_long(left: Any, right: Any) -> bool:
    sequence, times = (right, left) if isinstance(left, int) else (left, right)
    if not isinstance(sequence, (str, list, tuple)) or not isinstance(times, int):
        return False
    return len(sequence) * times > MAX_LENGTH
