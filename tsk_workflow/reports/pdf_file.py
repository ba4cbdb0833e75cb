"""A report as PDF: HTML (``templates/report.html.j2``, in the sandbox) laid out by WeasyPrint,
tagged as PDF/UA-1 so that a screen reader follows its headings, tables and charts.

The fonts are named in the stylesheet: DejaVu Sans (Debian's ``fonts-dejavu-core``), else
Liberation Sans, else the system's sans-serif (docs/administrator.md, "Reports").
"""

from __future__ import annotations

import base64
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from tsk_workflow import i18n
from tsk_workflow.errors import TskError
from tsk_workflow.i18n import _
from tsk_workflow.reports.model import Chart, Paragraph, Report, Table
from tsk_workflow.templating import sandboxed

PDF_VARIANT = "pdf/ua-1"


def html_page(report: Report) -> str:
    """The report as one HTML page (what the PDF is laid out from)."""
    template = _environment().get_template("report.html.j2")
    with i18n.speaking(report.lang):
        return template.render(report=report)


class PdfUnavailable(TskError):
    """WeasyPrint cannot run here: the system lacks Pango (its layout library)."""


def pdf_file(report: Report) -> bytes:
    """The report as a PDF file's bytes; :class:`PdfUnavailable` where WeasyPrint cannot run."""
    try:
        from weasyprint import HTML
    except OSError as exc:  # WeasyPrint loads Pango when it is imported
        raise PdfUnavailable(
            _(
                "PDF cannot be made here: WeasyPrint needs Pango ({error}); install it with"
                " 'apt-get install libpango-1.0-0 fonts-dejavu-core', or choose --format docx"
            ).format(error=str(exc).splitlines()[0])
        ) from None

    document = HTML(string=html_page(report))
    pdf: bytes = document.write_pdf(pdf_variant=PDF_VARIANT, pdf_tags=True)
    return pdf


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = sandboxed(
        extensions=["jinja2.ext.i18n"],
        loader=PackageLoader("tsk_workflow.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n._, i18n.ngettext, newstyle=True
    )
    env.tests["paragraph"] = lambda block: isinstance(block, Paragraph)
    env.tests["table"] = lambda block: isinstance(block, Table)
    env.tests["chart"] = lambda block: isinstance(block, Chart)
    env.filters["data_uri"] = lambda svg: (
        "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
    )
    return env
