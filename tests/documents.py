"""Real PDF and Word files for the loader tests, written with the same libraries that read them.

A PDF with a text layer needs a font and a content stream: pypdf writes both from its own objects
(no hand-written PDF bytes), and reads the text back as any PDF viewer would show it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path


def make_pdf(
    path: Path,
    lines: list[str],
    *,
    title: str | None = None,
    created: str | None = None,
    password: str | None = None,
) -> Path:
    """A one-page PDF showing `lines` in Helvetica. `created` is a PDF date, e.g. "D:20230416100000Z"."""
    from pypdf import PdfWriter
    from pypdf.generic import ContentStream, DictionaryObject, NameObject, StreamObject

    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
    )
    shown = " 0 -16 Td ".join(f"({_pdf_string(line)}) Tj" for line in lines)
    stream = StreamObject()
    stream.set_data(f"BT /F1 12 Tf 72 720 Td {shown} ET".encode("latin-1"))
    page.replace_contents(ContentStream(stream, writer))
    info = {}
    if title:
        info["/Title"] = title
    if created:
        info["/CreationDate"] = created
    if info:
        writer.add_metadata(info)
    if password:
        writer.encrypt(password, algorithm="RC4-128")
    with path.open("wb") as out:
        writer.write(out)
    return path


def _pdf_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_docx(
    path: Path,
    paragraphs: list[str],
    *,
    title: str | None = None,
    created: datetime | None = None,
    table: list[list[str]] | None = None,
) -> Path:
    """A Word document of `paragraphs` (then `table`, if given), with optional core properties."""
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, values in zip(grid.rows, table, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = value
    if title is not None:
        document.core_properties.title = title
    if created is not None:
        document.core_properties.created = created
    document.save(str(path))
    return path
