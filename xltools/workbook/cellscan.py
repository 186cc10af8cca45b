"""Fast scans of a worksheet part's cells, shared by the reader: which cells hold formulas
(python-calamine does not say), and the cell patterns the reader's other scans use -- with an
optional namespace prefix before each tag name, or without it for a part where no tag of these
names has one (:func:`~xltools.workbook.sheetscan.has_prefixed_tags`: then no match is tried
at every ``<``)."""
from __future__ import annotations

import re

from xltools.cells import col_index
from xltools.workbook.sheetscan import add_array, has_prefixed_tags

_ATTR_R = re.compile(rb'\sr\s*=\s*"([^"]*)"')
ATTR_T = re.compile(rb'\st\s*=\s*"([^"]*)"')
_A1_PARTS = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")


class Patterns:
    """The worksheet patterns of the reader, with an optional namespace prefix before
    each tag name or -- for a part where no tag of these names has one
    (:func:`~xltools.workbook.sheetscan.has_prefixed_tags`) -- without it."""

    def __init__(self, p: bytes):
        self.sheetdata_open = re.compile(rb"<" + p + rb"sheetData(?=[\s/>])[^>]*?(/?)>")
        self.sheetdata_close = re.compile(rb"</" + p + rb"sheetData\s*>")
        self.token = re.compile(rb"<" + p + rb"(row|c|f)(?=[\s/>])([^>]*)>")
        # a cell with an address whose first child is a formula (CT_Cell: f, v, is, extLst)
        self.cell_f = re.compile(rb"<" + p + rb'c\s[^>]*?\br\s*=\s*"\$?([A-Za-z]{1,3})\$?(\d+)"[^>]*>'
                                 rb"\s*<" + p + rb"f(?=[\s/>])([^>]*)>")
        self.f_tag = re.compile(rb"<" + p + rb"f(?=[\s/>])")
        self.value_cell = re.compile(rb"<" + p + rb"c\s([^>]*?)(?<!/)>(.*?)</" + p + rb"c\s*>", re.S)
        self.v = re.compile(rb"<" + p + rb"v>([^<]*)<")
        self.negative_v = re.compile(rb"<" + p + rb"v>\s*-")


_ANY_PREFIX = Patterns(rb"(?:[A-Za-z_][\w.-]*:)?")
_NO_PREFIX = Patterns(b"")


def patterns(xml: bytes) -> Patterns:
    """The patterns for this part: prefixed only where a scanned tag could carry a prefix."""
    return _ANY_PREFIX if has_prefixed_tags(xml) else _NO_PREFIX


def formula_cells(xml: bytes) -> set[tuple[int, int]]:
    """(row, column) of every cell of a worksheet part that holds a formula (1-based).

    Scans ``<sheetData>`` for ``<c>`` elements with an ``<f>`` child; cells without an
    ``r`` attribute are numbered as Excel does; an array formula covers its ``ref``.
    Files that give every formula cell its address (Excel, LibreOffice, openpyxl all
    do) take a single regex pass; anything else the token-by-token scan.
    """
    pat = patterns(xml)
    m = pat.sheetdata_open.search(xml)
    if not m or m.group(1) == b"/":
        return set()
    end = pat.sheetdata_close.search(xml, m.end())
    body_end = end.start() if end else len(xml)
    out: set[tuple[int, int]] = set()
    hits = pat.cell_f.findall(xml, m.end(), body_end)
    if len(hits) == len(pat.f_tag.findall(xml, m.end(), body_end)):
        cols: dict[bytes, int] = {}
        for letters, row_text, attrs in hits:
            col = cols.get(letters)
            if col is None:
                col = cols[letters] = col_index(letters.decode("ascii"))
            out.add((int(row_text), col))
            if b"array" in attrs:
                add_array(out, attrs)
        return out
    row = 0
    col = 0
    for tm in pat.token.finditer(xml, m.end(), body_end):
        kind, attrs = tm.group(1), tm.group(2)
        if kind == b"row":
            r = _ATTR_R.search(attrs)
            row = int(r.group(1)) if r and r.group(1).isdigit() else row + 1
            col = 0
        elif kind == b"c":
            r = _ATTR_R.search(attrs)
            cm = _A1_PARTS.match(r.group(1).decode("ascii", "replace")) if r else None
            if cm:
                col = col_index(cm.group(1))
                row = int(cm.group(2))
            else:
                col += 1
        elif row and col:  # <f>
            out.add((row, col))
            add_array(out, attrs)
    return out
