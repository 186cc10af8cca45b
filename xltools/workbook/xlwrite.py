"""Safe cell writing for every workbook xltools produces (plans, roll-ups, annotations).

The one rule that matters most: text that came from a rep is written as *text*.
openpyxl turns any string that begins with ``=`` into a formula; :func:`write_value`
forces the string type and sets Excel's ``quotePrefix`` on text that begins with
``= + - @`` so that it stays text even when someone edits the cell in Excel later.
Characters that XML cannot carry are replaced (never a crash), over-long text is cut at
Excel's cell limit.

:func:`write_table` writes a block of values as an Excel table whose header cells are
strings exactly equal to the table column names (a mismatch is a classic cause of
Excel's repair prompt).
"""
from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Iterable, Sequence

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles.numbers import is_date_format
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableStyleInfo

__all__ = ["MAX_CELL_CHARS", "FORMULA_TRIGGERS", "DATE_FORMAT", "clean_text", "write_text", "write_formula",
           "write_value", "write_row", "unique_headers", "table_name", "write_table", "display_width"]

#: Excel's limit for the text in one cell
MAX_CELL_CHARS = 32767
#: leading characters that make a spreadsheet treat typed text as a formula
FORMULA_TRIGGERS = ("=", "+", "-", "@")
DATE_FORMAT = "yyyy/mm/dd"
DATETIME_FORMAT = "yyyy/mm/dd hh:mm"
_TABLE_NAME_BAD = re.compile(r"[^A-Za-z0-9_.]")
_CELL_LIKE = re.compile(r"^[A-Za-z]{1,3}[0-9]+$|^[RrCc][0-9]*$|^[Rr][0-9]*[Cc][0-9]*$")


_BAD_CHARS = re.compile(f"(?:{ILLEGAL_CHARACTERS_RE.pattern})|[\ud800-\udfff]")
#: Excel's escape syntax for characters in XML (``_x0041_`` is "A"): Excel and python-calamine
#: decode it, so text that happens to hold it is written with its underscore escaped
_EXCEL_ESCAPE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")


def clean_text(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot hold replaced by U+FFFD, lone
    surrogates likewise, cut to :data:`MAX_CELL_CHARS`."""
    return _BAD_CHARS.sub("\ufffd", text)[:MAX_CELL_CHARS]


def stored_text(text: str) -> str:
    """The text-safety rules of every text xltools writes into a workbook, in one place:
    :func:`clean_text`, and ``_xHHHH_`` escaped so that it reads back as typed.  (A text
    starting with ``=`` is kept text by the cell type, see :func:`write_text`.)  The
    generator, annotate, the case library, the pack and the streamed cells of
    :mod:`xltools.workbook.cellxml` (the roll-up) all write text through this function."""
    return _EXCEL_ESCAPE.sub(r"_x005F_\1", clean_text(text))


def write_text(cell, text: str) -> Any:
    """Write ``text`` as a string cell, whatever it begins with (``=``... stays text, and
    ``_xHHHH_`` stays those seven characters)."""
    text = stored_text(text)
    cell._value = text  # bypass openpyxl's "starts with = means formula" rule
    cell.data_type = "s"
    if text.startswith(FORMULA_TRIGGERS) and not cell.quotePrefix:
        cell.quotePrefix = True
    return cell


def write_formula(cell, formula: str) -> Any:
    """Write a formula (must begin with ``=``): the only way xltools writes formulas."""
    if not formula.startswith("="):
        raise ValueError(f"not a formula: {formula!r}")
    if type(cell) is not Cell:  # a merged cell refuses a value: let openpyxl say so
        cell.value = formula
        return cell
    # what ``cell.value = formula`` does for a text starting with "=", minus its type dispatch
    formula = cell.check_string(formula)
    cell.data_type = "f" if len(formula) > 1 else "s"
    cell._value = formula
    return cell


def write_value(cell, value: Any) -> Any:
    """Write a Python value the safe way and return the cell.

    * ``str``: always a string cell (see the module docs), never a formula;
    * ``bool``, ``int``, ``float``, ``Decimal``: numbers (NaN and infinities, which Excel
      cannot store, are written as text);
    * ``date``/``datetime``: dates (timezone dropped after conversion to local wall time),
      with a ``yyyy/mm/dd`` format if the cell has none;
    * ``None``: empties the cell; anything else: its ``str()`` as text.
    """
    if value is None:
        cell.value = None
        return cell
    if isinstance(value, str):
        return write_text(cell, value)
    if isinstance(value, bool):
        cell.value = value
        return cell
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return write_text(cell, str(value))
        cell.value = value
        return cell
    if isinstance(value, (date, datetime)):
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone().replace(tzinfo=None)
        had_date_format = is_date_format(cell.number_format)
        cell.value = value
        if not had_date_format:
            with_time = isinstance(value, datetime) and value.time() != time(0)
            cell.number_format = DATETIME_FORMAT if with_time else DATE_FORMAT
        return cell
    return write_text(cell, str(value))


def write_row(ws, row: int, col: int, values: Iterable[Any]) -> None:
    """Write ``values`` left to right from (row, col) with :func:`write_value`."""
    for i, v in enumerate(values):
        write_value(ws.cell(row=row, column=col + i), v)


def unique_headers(headers: Iterable[Any]) -> list[str]:
    """Header texts usable as table column names: strings, non-empty, unique ignoring
    case (Excel's rule), without line breaks; duplicates get `` 2``, `` 3``..."""
    out: list[str] = []
    seen: set[str] = set()
    for i, h in enumerate(headers, 1):
        text = clean_text("" if h is None else str(h)).replace("\r", " ").replace("\n", " ").strip()
        base = text or f"Column{i}"
        text, n = base, 1
        while text.casefold() in seen:
            n += 1
            text = f"{base} {n}"
        seen.add(text.casefold())
        out.append(text)
    return out


def table_name(text: str, taken: Iterable[str] = ()) -> str:
    """A valid, unique table name made from ``text`` (letters, digits, ``_`` and ``.``,
    starting with a letter or ``_``, not a cell reference, at most 255 characters)."""
    name = _TABLE_NAME_BAD.sub("_", unicodedata.normalize("NFKC", text))[:200] or "Table"
    if not (name[0].isalpha() or name[0] == "_") or _CELL_LIKE.match(name):
        name = "T_" + name
    existing = {t.casefold() for t in taken}
    base, n = name, 1
    while name.casefold() in existing:
        n += 1
        name = f"{base}_{n}"
    return name


def write_table(ws, name: str, headers: Sequence[Any], rows: Iterable[Sequence[Any]], *,
                top: int = 1, left: int = 1, style: str = "TableStyleMedium2",
                number_formats: dict[int, str] | None = None,
                widths: dict[int, float] | None = None) -> Table:
    """Write a header row and ``rows`` at (top, left) and make them an Excel table.

    ``number_formats`` and ``widths`` are keyed by 0-based column position.  A table needs
    at least one data row, so an empty ``rows`` gives one blank row.  Returns the table.
    """
    names = unique_headers(headers)
    write_row(ws, top, left, names)
    number_formats = number_formats or {}
    r = top
    for r, values in enumerate(rows, top + 1):
        for i, v in enumerate(values):
            cell = ws.cell(row=r, column=left + i)
            if i in number_formats:
                cell.number_format = number_formats[i]
            write_value(cell, v)
    last_row = max(r, top + 1)
    ref = f"{get_column_letter(left)}{top}:{get_column_letter(left + len(names) - 1)}{last_row}"
    taken = [t for sheet in ws.parent.worksheets for t in sheet.tables]
    table = Table(displayName=table_name(name, taken), ref=ref)
    table.tableStyleInfo = TableStyleInfo(name=style, showRowStripes=True)
    ws.add_table(table)
    for i, w in (widths or {}).items():
        ws.column_dimensions[get_column_letter(left + i)].width = w
    return table


def display_width(text: str) -> int:
    """Columns ``text`` takes on screen: East Asian wide characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)
