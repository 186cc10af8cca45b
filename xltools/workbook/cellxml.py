"""The XML of worksheet cells (``<c>``) and rows (``<row>``), in one place.

Every cell xltools writes into a package goes through these functions: the ordinary cells
of :func:`xltools.workbook.outfile.write_xlsx` (plans, pack, case library, annotated copies)
and the streamed rows of the roll-up (:mod:`xltools.reports.rollup.book`).  Text is written
as an inline string (``t="inlineStr"``), so it is never a formula whatever it begins with;
the text-safety rules (characters XML cannot hold, the cell limit, ``_xHHHH_``) are
:func:`xltools.workbook.xlwrite.stored_text`'s, applied by :func:`stored_inline` and
:func:`text_cell` -- :func:`inline` encodes text that is already stored (an openpyxl cell's
value, which :func:`~xltools.workbook.xlwrite.write_text` has made safe).

The encoding of a text:

* ``& < >`` escaped; a carriage return written as ``&#13;`` (a literal one would be read
  back as a line feed: XML normalises line ends);
* ``xml:space="preserve"`` when the text has leading or trailing whitespace (including a
  text of whitespace only), which Excel would otherwise trim.

This is openpyxl's encoding except for those two cases (openpyxl writes the CR as is, and
no ``xml:space`` on a text of whitespace only).

Numbers: :func:`number` writes ``repr`` of a float and the digits of an int, which read
back exactly.  :func:`value_cell` writes a value text formatted elsewhere:
``write_xlsx`` keeps openpyxl's ``%.16g`` for the cells of an openpyxl workbook, so that a
plan reads back with the same types as openpyxl's own save would give.
"""
from __future__ import annotations

import math
from datetime import date, datetime
from functools import lru_cache

from xltools.workbook.xlwrite import stored_text

__all__ = ["EXCEL_EPOCH", "head", "escape", "inline", "stored_inline", "text_cell", "inline_cell", "number", "number_cell",
           "bool_cell", "formula_cell", "value_cell", "empty_cell", "date_serial", "row"]

#: day 0 of Excel's date serials (1900 date system, with its 1900-02-29)
EXCEL_EPOCH = datetime(1899, 12, 30)


def head(ref: str, style: int | None = None, kind: str | None = None) -> str:
    """The opening of a ``<c>`` element without its ``>``: ``<c r="B3" s="4" t="inlineStr"``;
    ``style`` None leaves out ``s``, ``kind`` None leaves out ``t``."""
    out = f'<c r="{ref}"'
    if style is not None:
        out += f' s="{style}"'
    if kind is not None:
        out += f' t="{kind}"'
    return out


def escape(text: str) -> str:
    """``& < >`` escaped for element content, CR as ``&#13;``."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


@lru_cache(maxsize=1 << 14)  # names, stages and messages repeat on every row of a big roll-up
def inline(text: str) -> str:
    """``<is><t>...</t></is>`` of a text that is already stored (see the module docs)."""
    if text != text.strip():
        return f'<is><t xml:space="preserve">{escape(text)}</t></is>'
    return f"<is><t>{escape(text)}</t></is>"


@lru_cache(maxsize=1 << 14)
def stored_inline(text: str) -> str:
    """:func:`inline` of ``stored_text(text)``: any text, made safe."""
    return inline(stored_text(text))


def text_cell(ref: str, style: int | None, text: str) -> str:
    """A text cell of any text (made safe, never a formula)."""
    if style is None:
        return f'<c r="{ref}" t="inlineStr">{stored_inline(text)}</c>'
    return f'<c r="{ref}" s="{style}" t="inlineStr">{stored_inline(text)}</c>'


def inline_cell(cell_head: str, text: str) -> str:
    """A text cell of ``cell_head`` (:func:`head` with ``t="inlineStr"``) and a text that is
    already stored (:func:`inline`)."""
    return f"{cell_head}>{inline(text)}</c>"


def number(v: int | float) -> str:
    """The ``<v>`` text of a finite number: it reads back as the same number."""
    if type(v) is int:
        return str(v)
    return repr(float(v)) if isinstance(v, float) else str(int(v))


def number_cell(ref: str, style: int | None, v: int | float, kind: str | None = None) -> str:
    """A number cell (``v`` finite: Excel cannot store NaN or infinities; write those as text)."""
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"not a finite number: {v!r}")
    return f"{head(ref, style, kind)}><v>{number(v)}</v></c>"


def bool_cell(ref: str, style: int | None, v: bool) -> str:
    return f'{head(ref, style, "b")}><v>{int(v)}</v></c>'


def formula_cell(ref: str, style: int | None, formula: str) -> str:
    """A formula cell, ``formula`` with its leading ``=``; no cached value."""
    if not formula.startswith("="):
        raise ValueError(f"not a formula: {formula!r}")
    return f"{head(ref, style)}><f>{escape(formula[1:])}</f><v /></c>"


def value_cell(cell_head: str, text: str) -> str:
    """A cell of ``cell_head`` (:func:`head`) with the value text ``text`` (``<v />`` when empty)."""
    return f"{cell_head}><v>{escape(text)}</v></c>" if text else f"{cell_head}><v /></c>"


def empty_cell(cell_head: str) -> str:
    """A cell with no value (a styled blank)."""
    return cell_head + " />"


def date_serial(v: date | datetime) -> int | float:
    """Excel's serial of a date (whole days) or a naive datetime (days and a fraction)."""
    if isinstance(v, datetime):
        return (v - EXCEL_EPOCH).total_seconds() / 86400
    return (v - EXCEL_EPOCH.date()).days


def row(r: int, cells: list[str], attrs: str = "") -> str:
    """A ``<row>`` of ``cells`` (``attrs``: further attributes, each with its leading space)."""
    return f'<row r="{r}"{attrs}>{"".join(cells)}</row>'
