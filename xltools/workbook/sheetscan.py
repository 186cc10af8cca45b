"""Worksheet XML checked as bytes, before any native reader parses it.

python-calamine trusts what a worksheet says about itself: a cell reference six
letters wide or a shared-string count in the trillions makes it allocate without
bound, and the process dies (a Rust allocation failure: abort, exit 134).  So
:func:`scan_worksheet` checks every worksheet part with regular expressions (C
speed, nothing materialised) and returns what the reader needs to read it safely:

* every cell reference (``<c r>``), row number (``<row r>``) and the ``<dimension>``
  must lie in Excel's grid (A1:XFD1048576): anything else is a damaged file;
* the part must be a ``<worksheet>`` with its cell container ``<sheetData>``: a sheet
  without one is a damaged file, never an empty sheet;
* the used area is bounded by the cells that hold a value -- ``<dimension>`` is not
  trusted.  When a few far-away cells (a value typed in column XFD) make the area
  larger than the limits, those cells are decoded here (:attr:`SheetScan.cells`) and
  left out of the copy python-calamine reads (:attr:`SheetScan.reader_xml`): the
  reader reports them as stray values and reads the rest.  A sheet that stays too
  large without its :attr:`~xltools.workbook.safety.Limits.max_far_cells` farthest cells is
  ``E-SHEET-TOO-LARGE``;
* error values (``t="e"``: ``#REF!``, ``#N/A``, ``#SPILL!``...) are decoded here as
  :class:`~xltools.spec.model.CellError`: python-calamine reads the classic ones as empty
  cells and fails the whole sheet on newer ones, so those are blanked in its copy.

Positions are numbered as python-calamine numbers them (a cell without ``r``
follows the previous cell of its row; self-closing ``<c/>`` holds nothing).
"""
from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass, field
from itertools import compress
from typing import Any, Callable, Iterator

from xltools.cells import MAX_COL, MAX_ROW, a1, col_index, col_letter, in_grid, parse_range
from xltools.spec.model import CellError

_P = rb"(?:[A-Za-z_][\w.-]*:)?"  # an optional namespace prefix


class TagPatterns:
    """The patterns of the worksheet scans, for tags written with an optional namespace
    prefix (``prefix`` = :data:`_P`) or without one (``prefix`` = ``b""``): the second
    set finds the same tags in a part where no tag of these names has a prefix, without
    trying a prefix at every ``<``."""

    def __init__(self, prefix: bytes):
        p = prefix
        # every <c> start tag: (quote of r or b"", column letters, row digits, rest of r, closing quote,
        # "/" if empty, the start of a formula that is its first child: ``<f`` and its attributes);
        # the tail matches what ``[^>]*?(/?)>`` matches, without trying ``/?>`` at every byte.  The
        # formula's start tag holds no ``<``: what it takes can hold no other <c> start tag
        self.cell = re.compile(rb"<" + p + rb"c(?=[\s/>])(?:\s[^>]*?\br\s*=\s*([\"'])([A-Za-z]*)(\d*)([^\"']*)([\"']))?"
                               rb"(?:[^>]*(/)|[^>]*)>(?:\s*(<" + p + rb"f(?=[\s/>])[^<>]*)>)?")
        # every <row> start tag: (quote of r or b"", r)
        self.row = re.compile(rb"<" + p + rb"row(?=[\s/>])(?:\s[^>]*?\br\s*=\s*([\"'])([^\"']*)[\"'])?")
        self.dimension = re.compile(rb"<" + p + rb"dimension\s[^>]*?\bref\s*=\s*[\"']([^\"']*)[\"']")
        self.sheet_data = re.compile(rb"<" + p + rb"sheetData(?=[\s/>])")
        self.sheet_data_open = re.compile(rb"<" + p + rb"sheetData(?=[\s/>])[^>]*?(/?)>")
        # a cell with content: (attributes, content)
        self.value_cell = re.compile(rb"<" + p + rb"c\s([^>]*?)(?<!/)>(.*?)</" + p + rb"c\s*>", re.S)
        self.token = re.compile(rb"<(/?)" + p + rb"(row|c)(?=[\s/>])([^>]*?)(/?)>")
        self.cell_end = re.compile(rb"</" + p + rb"c\s*>")


_ANY_PREFIX = TagPatterns(_P)
_NO_PREFIX = TagPatterns(b"")
#: a tag of the names the scans look for (c, row, f, v, sheetData, dimension) written with a
#: prefix: every such tag has one of these byte sequences, so a part without any is scanned
#: with the patterns without a prefix (same matches, found faster)
_PREFIXED_TAG = re.compile(rb":(?:c|row|f|v|sheetData|dimension)[\s/>]")


@functools.lru_cache(maxsize=16)
def has_prefixed_tags(xml: bytes) -> bool:
    """Whether a tag the scans look for may carry a namespace prefix in ``xml`` (the
    safety scan, the formula scan and the date check of one part ask it once)."""
    return _PREFIXED_TAG.search(xml) is not None


def tag_patterns(xml: bytes) -> TagPatterns:
    """The scan patterns for ``xml``: without the optional prefix when no tag needs it."""
    return _ANY_PREFIX if has_prefixed_tags(xml) else _NO_PREFIX


_ROOT = re.compile(rb"(?:\xef\xbb\xbf)?(?:\s|<\?.*?\?>|<!--.*?-->)*<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)", re.S)
_ATTR_R = re.compile(rb"\sr\s*=\s*[\"']([^\"']*)[\"']")
_ATTR_T = re.compile(rb"\st\s*=\s*[\"']([^\"']*)[\"']")
_V = re.compile(rb"<" + _P + rb"v(?:\s[^>]*)?>([^<]*)</", re.S)
_T = re.compile(rb"<" + _P + rb"t(?:\s[^>]*)?>([^<]*)</", re.S)
_PHONETIC = re.compile(rb"<" + _P + rb"rPh\b.*?</" + _P + rb"rPh\s*>", re.S)
_A1 = re.compile(r"([A-Za-z]{1,3})([1-9]\d{0,6})\Z")
_ERROR_MARKS = (b't="e"', b"t='e'")
_ERROR_TYPE = re.compile(rb"\st\s*=\s*[\"']e[\"']")
#: error values python-calamine 0.9 reads (as empty cells); any other fails its whole sheet
CALAMINE_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
                             "#GETTING_DATA"})

Pos = tuple[int, int]


class SheetXmlError(ValueError):
    """What is wrong with a worksheet part: ``kind`` is ``damaged`` or ``too-large``;
    ``en``/``ja`` say what was found; ``value`` is the row count for ``too-large``."""

    def __init__(self, kind: str, en: str, ja: str, value: int | None = None):
        super().__init__(en)
        self.kind, self.en, self.ja, self.value = kind, en, ja, value


@dataclass
class SheetScan:
    """What :func:`scan_worksheet` found that the reader must know."""

    #: cells decoded here, not by python-calamine: (row, col) -> value (far cells, error values)
    cells: dict[Pos, Any] = field(default_factory=dict)
    #: the copy of the part python-calamine reads, when it must not see the original
    reader_xml: bytes | None = None
    #: far-away cells taken out of python-calamine's copy (subset of ``cells``)
    far: set[Pos] = field(default_factory=set)
    #: the cells that hold a formula, as :func:`xltools.workbook.cellscan.formula_cells` finds
    #: them, when the scan could tell (None: ask ``formula_cells``)
    formulas: set[Pos] | None = None


def parse_ref(text: str) -> Pos | None:
    """'B3' -> (3, 2) when it is a cell of Excel's grid, else None (no ``$``, no spaces)."""
    m = _A1.match(text)
    if not m:
        return None
    row, col = int(m.group(2)), col_index(m.group(1))
    return (row, col) if row <= MAX_ROW and col <= MAX_COL else None


def valid_range(text: str) -> bool:
    """A ``<dimension>``/table ``ref``: one cell or two corners, all in Excel's grid."""
    parts = text.split(":")
    return 0 < len(parts) <= 2 and all(parse_ref(p) is not None for p in parts)


def _damaged(sheet: str, en: str, ja: str) -> SheetXmlError:
    return SheetXmlError("damaged", f"sheet {sheet}: {en}", f"シート {sheet}：{ja}")


def _bad_ref(sheet: str, what: str, ref: bytes) -> SheetXmlError:
    shown = ref.decode("utf-8", "replace")[:40]
    return _damaged(sheet, f"{what} '{shown}' is not a cell of Excel's grid (A1:XFD1048576)",
                    f"{what} '{shown}' は Excel のシートの範囲（A1:XFD1048576）外のセル参照です")


def scan_worksheet(xml: bytes, sheet: str, *, max_rows: int, max_cells: int, max_far: int,
                   shared_strings: Callable[[], list[str]], markup_only: bool = False) -> SheetScan:
    """Check one worksheet part (see the module docs).  Raises :class:`SheetXmlError`.
    ``shared_strings`` returns the workbook's shared strings (called only when a far
    cell refers to one).  ``markup_only``: the part is well-formed XML without a comment,
    CDATA section or processing instruction (the XML check says so); then the formula cells
    are found in the same pass (:attr:`SheetScan.formulas`) where the part allows it."""
    root = _ROOT.match(xml)
    if not root or root.group(1) != b"worksheet":
        found = root.group(1).decode("utf-8", "replace") if root else "-"
        raise _damaged(sheet, f"the part is not a worksheet (<{found}>)", f"ワークシートではありません（<{found}>）")
    pat = tag_patterns(xml)
    if not pat.sheet_data.search(xml):
        raise _damaged(sheet, "no cell container <sheetData> (the sheet's cells are missing)",
                       "セルの入れ物 <sheetData> がありません（セルのデータが失われています）")
    dim = pat.dimension.search(xml)
    if dim and not valid_range(dim.group(1).decode("ascii", "replace")):
        raise _bad_ref(sheet, "the dimension", dim.group(1))
    rows = pat.row.findall(xml)
    if len(rows) > max_rows:
        raise SheetXmlError("too-large", f"sheet {sheet}: {len(rows):,} rows > {max_rows:,}",
                            f"シート {sheet}：{len(rows):,} 行（上限 {max_rows:,}）", value=len(rows))
    for r in {r for q, r in rows if q}:
        if not (r.isdigit() and r[:1] != b"0" and int(r) <= MAX_ROW):
            raise _bad_ref(sheet, "row number", r)
    hits = pat.cell.findall(xml)
    if not hits:
        return SheetScan()
    quotes, letters, digits, rest, closing, empty, formula = zip(*hits)
    by_position = b"" not in quotes
    formulas = None
    if by_position:  # every cell has its address (Excel, LibreOffice, openpyxl)
        if set(rest) != {b""} or b"" in letters or b"" in digits:
            for _, l, d, x, _, _, _ in hits:
                if not (l and d) or x:
                    raise _bad_ref(sheet, "cell reference", l + d + x)
        cols = {c: col_index(c.decode()) for c in set(letters)}
        row_nums = {d: int(d) for d in set(digits)}
        for text, c in cols.items():
            if len(text) > 3 or c > MAX_COL:
                raise _bad_ref(sheet, "cell reference", text + digits[letters.index(text)])
        for text, r in row_nums.items():
            if text[:1] == b"0" or r > MAX_ROW:
                raise _bad_ref(sheet, "cell reference", letters[digits.index(text)] + text)
        top, bottom = min(row_nums.values()), max(row_nums.values())
        left, right = min(cols.values()), max(cols.values())
        fits = _fits(top, bottom, left, right, max_rows, max_cells)
        valued = None if fits else [(row_nums[d], cols[l]) for l, d, e in zip(letters, digits, empty) if not e]
        if markup_only and pat is _NO_PREFIX and set(quotes) == {b'"'} and set(closing) == {b'"'}:
            known = _formulas_known(xml, pat, len(formula) - formula.count(b""))
            if known is not None:
                formulas = _formula_cells(letters, digits, formula, cols, row_nums) if known else set()
    else:  # cells without an address: numbered as python-calamine numbers them
        valued = [pos for pos, _, _ in _cells_in_order(xml, sheet)]
        fits = not valued or _fits(min(r for r, _ in valued), max(r for r, _ in valued),
                                   min(c for _, c in valued), max(c for _, c in valued), max_rows, max_cells)
    scan = SheetScan(formulas=formulas)
    if not fits:
        scan.far = _far_cells(valued, sheet, max_rows, max_cells, max_far)
    has_errors = any(mark in xml for mark in _ERROR_MARKS) or (
        (b"t =" in xml or b"t= " in xml) and _ERROR_TYPE.search(xml) is not None)
    if scan.far or has_errors:
        _decode(xml, sheet, scan, by_position, shared_strings)
    return scan


def _formulas_known(xml: bytes, pat: TagPatterns, hits: int) -> bool | None:
    """Whether the cells the scan found with a formula as first child (``hits`` of them) are
    what ``formula_cells`` finds in ``<sheetData>``, for a well-formed part of markup only,
    without prefixed tags, whose every cell has its address in double quotes: every ``<``
    starts a tag, so no match holds another.  False: the part has no ``<sheetData>`` body
    (no formula cells); None when it cannot be told from them: a cell outside
    ``<sheetData>`` or a ``<f`` in it that is not such a formula."""
    m = pat.sheet_data_open.search(xml)
    if not m or m.group(1) == b"/":
        return False
    start = m.end()
    end = xml.find(b"</sheetData", start)
    while end >= 0 and not _CLOSE_REST.match(xml, end + 11):
        end = xml.find(b"</sheetData", end + 11)
    if end < 0:
        end = len(xml)
    if xml.count(b"<f", start, end) != hits or _CELL_START.search(xml, 0, start) or _CELL_START.search(xml, end):
        return None
    return True


def _formula_cells(letters: tuple[bytes, ...], digits: tuple[bytes, ...], formula: tuple[bytes, ...],
                   cols: dict[bytes, int], row_nums: dict[bytes, int]) -> set[Pos]:
    """(row, column) of the cells whose ``formula`` (``<f`` and its attributes) is not empty;
    an array formula covers its ref."""
    out = {(row_nums[d], cols[l]) for l, d in compress(zip(letters, digits), formula)}
    starts = list(compress(formula, formula))
    if b"array" in b"".join(starts):
        for f in starts:
            if b"array" in f:
                add_array(out, f[2:])
    return out


_CELL_START = re.compile(rb"<c[\s/>]")
_CLOSE_REST = re.compile(rb"\s*>")
_ATTR_REF = re.compile(rb'\sref\s*=\s*"([^"]*)"')
_ATTR_T_DQ = re.compile(rb'\st\s*=\s*"([^"]*)"')


def add_array(out: set[Pos], attrs: bytes) -> None:
    """An array formula (``<f t="array" ref="A5:B5">``) covers every cell of its ref."""
    t = _ATTR_T_DQ.search(attrs)
    ref = _ATTR_REF.search(attrs)
    if t and t.group(1) == b"array" and ref:
        try:
            r1, c1, r2, c2 = parse_range(ref.group(1).decode("ascii", "replace"))
        except ValueError:
            return
        if (r2 - r1 + 1) * (c2 - c1 + 1) <= 100_000:
            out.update((r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1))


def _fits(top: int, bottom: int, left: int, right: int, max_rows: int, max_cells: int) -> bool:
    height = bottom - top + 1
    return height <= max_rows and height * (right - left + 1) <= max_cells


def _far_cells(cells: list[Pos], sheet: str, max_rows: int, max_cells: int, max_far: int) -> set[Pos]:
    """The fewest outermost cells whose removal makes the area fit the limits (greedy:
    peel the edge row or column that shrinks the area most per cell removed)."""
    by_row: dict[int, set[int]] = {}
    by_col: dict[int, set[int]] = {}
    for r, c in cells:
        by_row.setdefault(r, set()).add(c)
        by_col.setdefault(c, set()).add(r)
    rows, cols = sorted(by_row), sorted(by_col)
    lo_r, hi_r, lo_c, hi_c = 0, len(rows) - 1, 0, len(cols) - 1
    far: set[Pos] = set()

    def excess(t: int, b: int, l: int, r: int) -> float:
        height = rows[b] - rows[t] + 1
        return max(height / max_rows, height * (cols[r] - cols[l] + 1) / max_cells)

    while True:
        while lo_r <= hi_r and not by_row[rows[lo_r]]:
            lo_r += 1
        while hi_r >= lo_r and not by_row[rows[hi_r]]:
            hi_r -= 1
        while lo_c <= hi_c and not by_col[cols[lo_c]]:
            lo_c += 1
        while hi_c >= lo_c and not by_col[cols[hi_c]]:
            hi_c -= 1
        if lo_r > hi_r or excess(lo_r, hi_r, lo_c, hi_c) <= 1:
            return far
        now = excess(lo_r, hi_r, lo_c, hi_c)
        options = []
        for side in ("top", "bottom", "left", "right"):
            line = {"top": rows[lo_r], "bottom": rows[hi_r], "left": cols[lo_c], "right": cols[hi_c]}[side]
            n = len(by_row[line] if side in ("top", "bottom") else by_col[line])
            t, b, l, r = lo_r + (side == "top"), hi_r - (side == "bottom"), lo_c + (side == "left"), hi_c - (side == "right")
            after = excess(t, b, l, r) if t <= b and l <= r else 0.0
            options.append(((now - after) / n, side, line))
        _, side, line = max(options)
        if side in ("top", "bottom"):
            gone = [(line, c) for c in by_row[line]]
        else:
            gone = [(r, line) for r in by_col[line]]
        for r, c in gone:
            by_row[r].discard(c)
            by_col[c].discard(r)
        far.update(gone)
        if len(far) > max_far:
            height = rows[hi_r] - rows[lo_r] + 1
            area = height * (cols[hi_c] - cols[lo_c] + 1)
            corner = f"{col_letter(cols[lo_c])}{rows[lo_r]}:{col_letter(cols[hi_c])}{rows[hi_r]}"
            raise SheetXmlError(
                "too-large", f"sheet {sheet}: used area {corner}, {height:,} rows and {area:,} cells "
                f"(limits {max_rows:,} rows, {max_cells:,} cells)",
                f"シート {sheet}：使用範囲 {corner}、{height:,} 行・{area:,} セル（上限 {max_rows:,} 行・{max_cells:,} セル）",
                value=height)


def _cells_in_order(xml: bytes, sheet: str) -> Iterator[tuple[Pos, int, int]]:
    """((row, col), content start, content end) of every cell with content, numbered as
    python-calamine does: ``<row r>`` sets the row, ``</row>`` moves to the next one; a
    cell without ``r`` follows the previous cell; ``<c/>`` and ``<row/>`` count for nothing."""
    row = col = 0
    pat = tag_patterns(xml)
    for m in pat.token.finditer(xml):
        closing, kind, attrs, empty = m.groups()
        if kind == b"row":
            if closing:
                row, col = row + 1, 0
            elif not empty:
                r = _ATTR_R.search(attrs)
                if r:
                    row = int(r.group(1)) - 1
            continue
        if closing or empty:
            continue
        r = _ATTR_R.search(attrs)
        if r:  # the cell's address sets its column, not the row of the cells after it
            pos = parse_ref(r.group(1).decode("ascii", "replace"))
            if pos is None:
                raise _bad_ref(sheet, "cell reference", r.group(1))
            col = pos[1] - 1
        else:
            pos = (row + 1, col + 1)
            if not in_grid(*pos):
                raise _bad_ref(sheet, "cell position", a1(*pos).encode())
        end = pat.cell_end.search(xml, m.end())
        if end is None:
            raise _damaged(sheet, "a cell is not closed", "閉じていないセルがあります")
        yield pos, m.end(), end.start()
        col += 1


def _decode(xml: bytes, sheet: str, scan: SheetScan, by_position: bool,
            shared_strings: Callable[[], list[str]]) -> None:
    """Decode the far cells and the error values; blank them in python-calamine's copy."""
    if by_position:
        found = ((_position(m.group(1)), m.start(2), m.end(2), m.group(1))
                 for m in tag_patterns(xml).value_cell.finditer(xml))
    else:
        found = ((pos, start, end, _start_tag_attrs(xml, start)) for pos, start, end in _cells_in_order(xml, sheet))
    blank: list[tuple[int, int]] = []
    for pos, start, end, attrs in found:
        t = _ATTR_T.search(b" " + attrs)
        kind = t.group(1) if t else b"n"
        if pos in scan.far:
            value = _value(kind, xml[start:end], sheet, pos, shared_strings)
            if value is not None:
                scan.cells[pos] = value
            blank.append((start, end))
        elif kind == b"e":
            value = _value(kind, xml[start:end], sheet, pos, shared_strings)
            if value is not None:
                scan.cells[pos] = value
                if value not in CALAMINE_ERRORS:
                    blank.append((start, end))
    if blank:
        pieces, at = [], 0
        for start, end in sorted(blank):
            pieces.append(xml[at:start])
            at = end
        pieces.append(xml[at:])
        scan.reader_xml = b"".join(pieces)


def _position(attrs: bytes) -> Pos | None:
    r = _ATTR_R.search(b" " + attrs)
    return parse_ref(r.group(1).decode("ascii", "replace")) if r else None


def _start_tag_attrs(xml: bytes, content_start: int) -> bytes:
    tag_start = xml.rfind(b"<", 0, content_start)
    return xml[tag_start:content_start].split(None, 1)[-1] if tag_start >= 0 else b""


def _text(raw: bytes) -> str:
    return html.unescape(raw.decode("utf-8", "replace"))


def _value(kind: bytes, content: bytes, sheet: str, pos: Pos, shared_strings: Callable[[], list[str]]) -> Any:
    """The value of a cell's content as python-calamine gives it (numbers as float;
    dates of date-formatted cells stay serial numbers, which the normaliser reads)."""
    if kind == b"inlineStr":
        text = "".join(_text(t) for t in _T.findall(_PHONETIC.sub(b"", content)))
        return text or None
    v = _V.search(content)
    if v is None:
        return None
    raw = _text(v.group(1))
    if kind == b"e":
        return CellError(raw.strip()) if raw.strip() else None
    if kind == b"s":
        strings = shared_strings()
        try:
            return strings[int(raw)]
        except (ValueError, IndexError):
            raise _damaged(sheet, f"cell {a1(*pos)}: no shared string {raw[:20]!r}",
                           f"セル {a1(*pos)}：共有文字列 {raw[:20]!r} がありません") from None
    if kind in (b"str", b"d"):
        return raw or None
    if kind == b"b":
        return raw.strip() in ("1", "true")
    try:
        return float(raw)
    except ValueError:
        raise _damaged(sheet, f"cell {a1(*pos)}: not a number {raw[:20]!r}",
                       f"セル {a1(*pos)}：数値ではありません {raw[:20]!r}") from None
