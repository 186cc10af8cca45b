"""How every plan sheet prints: A4 landscape, fit to width, titles repeated, a header and
footer (account, period, sheet, page x of y, 社外秘 / Confidential), gridlines off, and a
print area that ends at the last *used* row.

The print area is a workbook name ``_xlnm.Print_Area`` holding a formula, not a fixed
range: ``'Sheet'!$A$1:INDEX('Sheet'!$A:$X,<last used row>)`` where the last used row is
the larger of the fixed part of the sheet (titles, fields, table headers) and, per table,
the last row of the table or of the rows just below it in which any input column holds a
value.  Excel evaluates such a name whenever it prints, so a rep who types the 34th deal
sees it on paper while the 27 empty pre-sized rows never print.

LibreOffice (and openpyxl, which drops such a name on load with a warning) only know
fixed print ranges; both then fall back to the used range of the sheet, which loses
nothing, it only prints the empty pre-sized rows as well.  Whenever xltools itself turns
a plan into a PDF it first pins the print areas to fixed ranges computed the same way
from the cell values (:func:`pin_print_areas`); ``tests/test_print.py`` proves that the
name's formula gives the same row in LibreOffice.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from xltools.cells import col_letter
from xltools.spec.spec import Label

CONFIDENTIAL = "社外秘 / Confidential"
TEXTS: dict[str, Label] = {
    "page": Label("&P / &N ページ", "Page &P of &N"),
}
#: header/footer font (Excel header codes): the Japanese UI font, small
HF_FONT = {"ja": '&"Meiryo UI,Regular"&9', "en": '&"Calibri,Regular"&9'}
PRINT_AREA = "_xlnm.Print_Area"


@dataclass(frozen=True)
class TableRows:
    """A table's data rows and the unlocked rows below it, and its input columns."""

    first_row: int
    last_row: int  # the last unlocked row below the table
    input_cols: tuple[int, ...]


def quote_sheet(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def hf_text(text: str) -> str:
    """Literal text inside an Excel header/footer: ``&`` doubled (it starts a code)."""
    return text.replace("&", "&&")


def last_row_formula(sheet: str, fixed_last_row: int, tables: Sequence[TableRows]) -> str:
    """The last row to print: ``fixed_last_row`` or the last row of a table (or below it)
    with a value in an input column, whichever is further down."""
    sh = quote_sheet(sheet)
    parts = [str(fixed_last_row)]
    for t in tables:
        cols = [f"{sh}!${col_letter(c)}${t.first_row}:${col_letter(c)}${t.last_row}" for c in t.input_cols]
        if not cols:
            continue
        rows = f"ROW({sh}!$A${t.first_row}:$A${t.last_row})"
        parts.append(f"SUMPRODUCT(MAX((LEN({'&'.join(cols)})>0)*{rows}))")
    return parts[0] if len(parts) == 1 else f"MAX({','.join(parts)})"


def print_area_formula(sheet: str, last_col: int, fixed_last_row: int, tables: Sequence[TableRows]) -> str:
    sh = quote_sheet(sheet)
    return (f"{sh}!$A$1:INDEX({sh}!$A:${col_letter(last_col)},"
            f"{last_row_formula(sheet, fixed_last_row, tables)})")


def set_print_area(wb, ws, formula: str) -> None:
    """A sheet-scoped ``_xlnm.Print_Area`` name (openpyxl's ``ws.print_area`` only takes ranges)."""
    from openpyxl.workbook.defined_name import DefinedName

    ws.defined_names[PRINT_AREA] = DefinedName(PRINT_AREA, localSheetId=wb.sheetnames.index(ws.title),
                                               attr_text=formula)


def page_setup(ws, *, lang: str, account: str, period: str, portrait: bool = False) -> None:
    """A4, landscape unless ``portrait``, one page wide, header and footer, no gridlines."""
    from openpyxl.worksheet.properties import PageSetupProperties

    ws.page_setup.orientation = "portrait" if portrait else "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.page_margins.header = ws.page_margins.footer = 0.25
    ws.print_options.horizontalCentered = True
    ws.print_options.gridLines = False
    ws.sheet_view.showGridLines = False
    font = HF_FONT[lang]
    for hf in (ws.oddHeader, ws.evenHeader, ws.firstHeader):
        hf.left.text = font + hf_text(f"{account}　{period}")
        hf.center.text = font + "&A"
        hf.right.text = font + CONFIDENTIAL
    for hf in (ws.oddFooter, ws.evenFooter, ws.firstFooter):
        hf.left.text = font + CONFIDENTIAL
        hf.center.text = font + TEXTS["page"](lang)


# -- pinning (before xltools renders a PDF itself) ----------------------------------------------

def used_last_row(ws) -> int:
    """The last row holding a value, a formula outside the tables' data rows (titles, fields,
    headers), or a table header: table formula cells of empty rows do not count."""
    from openpyxl.utils import range_boundaries

    spans = []
    last = 1
    for t in ws.tables.values():
        c1, r1, c2, r2 = range_boundaries(t.ref)
        spans.append((c1, c2, r1 + 1))
        last = max(last, r1)
    for (r, c), cell in list(ws._cells.items()):
        v = cell.value
        if v in (None, "") or r <= last:
            continue
        in_table = any(c1 <= c <= c2 and r >= first for c1, c2, first in spans)
        if in_table and isinstance(v, str) and v.startswith("=") and cell.data_type == "f":
            continue
        last = r
    return last


def pin_print_areas(wb) -> None:
    """Give every visible sheet a fixed print area ending at its last used row (what the
    formula print area evaluates to): LibreOffice then prints only the used rows.  For
    xltools' own PDF rendering; the rep's workbook keeps the formula."""
    for ws in wb.worksheets:
        if ws.sheet_state != "visible" or not ws._cells:
            continue
        last_col = max(c for _r, c in ws._cells)
        ws.defined_names.pop(PRINT_AREA, None)
        ws.print_area = f"A1:{col_letter(last_col)}{used_last_row(ws)}"
        fit_row_heights(ws)


#: points per line of wrapped 10-11 pt text
LINE_POINTS = 15
#: Excel's default column width (characters)
DEFAULT_WIDTH = 8.43


def text_lines(text: str, width: float) -> int:
    """Lines a wrapped cell of ``width`` characters needs for ``text`` (full-width
    characters count two)."""
    from xltools.workbook.xlwrite import display_width

    usable = max(1, int(width) - 1)
    return sum(max(1, -(-display_width(part) // usable)) for part in str(text).split("\n"))


def fit_row_heights(ws, rows: Iterable[int] | None = None) -> None:
    """Make every wrapped text in ``rows`` (default: all) fit: a row gets the height its
    longest wrapped text needs, never less than it has.  Neither Excel nor LibreOffice
    re-measures rows of a file written by openpyxl, so long text would be cut on paper."""
    wanted: dict[int, int] = {}
    only = set(rows) if rows is not None else None
    for (r, c), cell in ws._cells.items():
        if only is not None and r not in only:
            continue
        v = cell.value
        if not isinstance(v, str) or not v or cell.data_type == "f" or not cell.alignment.wrap_text:
            continue
        width = ws.column_dimensions[cell.column_letter].width or DEFAULT_WIDTH
        n = text_lines(v, width)
        if n > 1:
            wanted[r] = max(wanted.get(r, 1), n)
    for r, n in wanted.items():
        dim = ws.row_dimensions[r]
        height = n * LINE_POINTS + 2
        if not dim.height or dim.height < height:
            dim.height = height


def load_workbook_quietly(path, **kwargs):
    """openpyxl's ``load_workbook`` without its warning about formula print areas (it
    drops them; :func:`pin_print_areas`, :func:`load_workbook_keeping_print_areas` or a
    regenerated plan puts them back)."""
    import warnings

    from openpyxl import load_workbook

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Print area cannot be set to Defined name")
        return load_workbook(path, **kwargs)


def formula_print_areas(path: str | os.PathLike[str]) -> dict[int, str]:
    """The sheet print areas of the workbook at ``path`` as written, by sheet position
    (``localSheetId``): openpyxl drops those that are formulas when it loads a workbook.
    Nothing when they cannot be read (the copy then prints its used range)."""
    import zipfile
    from xml.etree import ElementTree

    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    try:
        with zipfile.ZipFile(path) as z:
            rels = ElementTree.fromstring(z.read("_rels/.rels"))
            target = next(r.get("Target", "") for r in rels if r.get("Type", "").endswith("/officeDocument"))
            root = ElementTree.fromstring(z.read(target.lstrip("/")))
    except (OSError, KeyError, StopIteration, ElementTree.ParseError, zipfile.BadZipFile):
        return {}
    areas: dict[int, str] = {}
    for names in (el for el in root if local(el.tag) == "definedNames"):
        for n in names:
            sheet = n.get("localSheetId")
            if local(n.tag) == "definedName" and n.get("name") == PRINT_AREA and sheet and sheet.isdigit() and n.text:
                areas[int(sheet)] = n.text
    return areas


def load_workbook_keeping_print_areas(path: str | os.PathLike[str], **kwargs: Any) -> Any:
    """openpyxl's ``load_workbook`` (``kwargs``: its options) with the formula print areas it
    drops put back as they were: a copy saved from it prints like the original."""
    wb = load_workbook_quietly(path, **kwargs)
    sheets = wb._sheets
    for idx, formula in formula_print_areas(path).items():
        if idx < len(sheets) and hasattr(sheets[idx], "defined_names"):
            ws = sheets[idx]
            if not ws.print_area and PRINT_AREA not in ws.defined_names:  # dropped on load
                set_print_area(wb, ws, formula)
    return wb


def print_ready_copy(src, dst) -> Path:
    """A copy of the plan ``src`` at ``dst`` whose print areas are pinned to the used rows
    and whose wrapped rows fit: what xltools hands LibreOffice to make a PDF."""
    wb = load_workbook_quietly(src)
    pin_print_areas(wb)
    wb.save(dst)
    return Path(dst)
