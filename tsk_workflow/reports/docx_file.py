"""A report as a Word document (python-docx).

Headings are Word's own styles (``Title``, ``Heading 1``, ``Heading 2``...), tables have a
header row that repeats on each page, and a chart is a picture (the SVG drawn as PNG by
CairoSVG) with its text as the picture's description, so that a municipality's template
restyles it all and a screen reader reads it. ``template``: the municipality's own .docx; its
styles, page setup, headers and footers are kept and its body is replaced by the report.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from tsk_workflow.errors import Refused
from tsk_workflow.i18n import _
from tsk_workflow.reports.model import Block, Chart, Paragraph, Report, Section, Table

if TYPE_CHECKING:
    from docx.document import Document as WordDocument

CHART_WIDTH_CM = 16.0
"""A chart's width on the page: an A4 page's text width with Word's default margins."""
CHART_SCALE = 2.0
"""Pixels per SVG unit when the chart is drawn for Word: sharp when printed."""
_TEMPLATE_TYPES = (
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
)


def docx_file(report: Report, template: Path | None = None) -> bytes:
    """The report as a .docx file's bytes, on ``template`` if given (see the module)."""
    from docx import Document

    document = Document() if template is None else _template(template)
    document.core_properties.title = report.title
    document.core_properties.subject = report.subtitle
    document.core_properties.author = report.organisation
    document.core_properties.language = "sv-SE" if report.lang == "sv" else "en-GB"
    document.add_heading(report.title, level=0)
    for line in (report.subtitle, report.organisation, report.made_on):
        document.add_paragraph(line)
    for section in report.sections:
        _section(document, section, 1)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def check_template(template: Path) -> None:
    """Refuse, with a sentence, a template that is not a Word document (.docx or .dotx)."""
    if template.suffix.lower() not in {".docx", ".dotx"}:
        raise Refused(
            _("{file} is not a Word document: the template must be a .docx file").format(
                file=template.name
            )
        )
    try:
        with zipfile.ZipFile(template) as archive:
            types = archive.read("[Content_Types].xml").decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile, KeyError):
        raise Refused(
            _("{file} is not a Word document: it cannot be opened as a .docx file").format(
                file=template.name
            )
        ) from None
    if not any(kind in types for kind in _TEMPLATE_TYPES):
        raise Refused(
            _("{file} is not a Word document: it holds no Word text").format(file=template.name)
        )


def _template(template: Path) -> WordDocument:
    """The template opened, its body emptied (its last section's page setup stays)."""
    from docx import Document

    check_template(template)
    data = template.read_bytes()
    if template.suffix.lower() == ".dotx":  # python-docx opens documents: make it one
        data = _as_document(data)
    document = Document(io.BytesIO(data))
    body = document.element.body
    for child in list(body):
        if not child.tag.endswith("}sectPr"):
            body.remove(child)
    return document


def _as_document(data: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "[Content_Types].xml":
                content = content.replace(_TEMPLATE_TYPES[1].encode(), _TEMPLATE_TYPES[0].encode())
            target.writestr(item, content)
    return out.getvalue()


def _section(document: WordDocument, section: Section, level: int) -> None:
    document.add_heading(section.heading, level=min(level, 9))
    for block in section.blocks:
        _block(document, block)
    for inner in section.sections:
        _section(document, inner, level + 1)


def _block(document: WordDocument, block: Block) -> None:
    if isinstance(block, Paragraph):
        paragraph = document.add_paragraph(block.text)
        if block.note:
            for run in paragraph.runs:
                run.italic = True
    elif isinstance(block, Table):
        _table(document, block)
    else:
        _chart(document, block)


def _table(document: WordDocument, table: Table) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    document.add_paragraph(table.caption, style=_style(document, "Caption"))
    grid = document.add_table(rows=1, cols=len(table.columns))
    style = _style(document, "Table Grid")
    if style is not None:
        grid.style = style
    header = grid.rows[0]
    repeat = OxmlElement("w:tblHeader")  # the header row again on each page
    repeat.set(qn("w:val"), "true")
    header._tr.get_or_add_trPr().append(repeat)
    for index, name in enumerate(table.columns):
        cell = header.cells[index]
        cell.text = name
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for values in table.rows:
        cells = grid.add_row().cells
        for index, value in enumerate(values):
            cells[index].text = value
            if index in table.numeric:
                cells[index].paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT


def _chart(document: WordDocument, chart: Chart) -> None:
    import cairosvg
    from docx.shared import Cm

    png = cairosvg.svg2png(bytestring=chart.svg.encode("utf-8"), scale=CHART_SCALE)
    document.add_picture(io.BytesIO(png), width=Cm(CHART_WIDTH_CM))
    picture = document.inline_shapes[-1]
    properties = picture._inline.docPr
    properties.set("title", chart.caption)
    properties.set("descr", chart.alt)
    document.add_paragraph(chart.caption, style=_style(document, "Caption"))


def _style(document: WordDocument, name: str) -> str | None:
    """``name`` if the document (the template) has that style, else None: Word's default."""
    styles = document.styles
    return name if any(style.name == name for style in styles) else None
