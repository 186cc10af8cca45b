"""The streaming workbook writer of the roll-up (:class:`_Book`)."""
from __future__ import annotations

import math
import os
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable, Iterable, Iterator

from xltools.reports.rollup.common import (
    DATE_FORMAT,
    DATETIME_FORMAT,
    MAX_WIDTH,
    SHEETS,
    TABLE_STYLE,
    Col,
    _ChoiceLabel,
    _ChoiceTone,
    _Columns,
    _Key,
    _KeyLabel,
    _KeyTone,
    _t,
    amount_unit,
)
from xltools.spec.config import Settings
from xltools.spec.spec import Spec
from xltools.workbook.cellxml import bool_cell, date_serial, number_cell, row, stored_inline, text_cell
from xltools.workbook.xlwrite import FORMULA_TRIGGERS, stored_text

# -- writing -----------------------------------------------------------------------------------

@dataclass
class _Block:
    """Rows of one sheet the streaming writer emits: a title cell, or a table (header row
    and one row per record)."""

    top: int
    text: str | None = None  # a title
    size: int = 12
    left: int = 1  # first column (blocks side by side on the dashboard)
    wrap: bool = False  # header cells wrap (narrow dashboard columns)
    headers: list[str] | None = None  # a table
    cols: list[Col] | None = None
    records: list[dict] | None = None


class _Book:
    """The workbook being written, with the helpers every sheet uses.

    openpyxl holds the structure -- sheets, column widths, frozen panes, Excel tables,
    charts and the styles -- but no cells; :meth:`save` writes it with
    :func:`~xltools.workbook.outfile.write_xlsx`, every sheet's rows streamed into the
    package as they are made (cells of :mod:`xltools.workbook.cellxml`: text as inline
    strings, never a formula), which keeps a roll-up of thousands of plans fast and its
    memory small."""

    def __init__(self, spec: Spec, settings: Settings, lang: str):
        from openpyxl import Workbook

        self.spec, self.settings, self.lang = spec, settings, lang
        self.unit = amount_unit(spec, settings)
        self.cols = _Columns(spec, lang, self.unit)
        self.wb = Workbook()
        self.wb.remove(self.wb.active)
        self.sheets: dict[str, Any] = {}
        self.blocks: dict[str, list[_Block]] = {}
        self._styles: dict[tuple, int] = {}
        self._sealed = False
        #: processes that write the package: 2 writes :data:`WORKER_SHEETS` in a forked one
        #: (where the process can fork) while this one writes the rest; 1 writes all here.
        #: The file is the same byte for byte.
        self.processes = 2
        #: the read snapshot the streamed records come from (a forked worker reads its own)
        self.snapshot: Any = None

    def t(self, key: str, **params: Any) -> str:
        return _t(key, self.lang, **params)

    def money_label(self, field_key: str) -> str:
        """A spec amount field's label with the display unit."""
        return self.unit.header(self.spec.field(field_key).label)(self.lang)

    def sheet(self, key: str):
        ws = self.wb.create_sheet(SHEETS[key](self.lang))
        self.sheets[key] = ws
        self.blocks[ws.title] = []
        return ws

    def title(self, ws, row: int, text: str, size: int = 12, left: int = 1) -> None:
        self.blocks[ws.title].append(_Block(top=row, text=text, size=size, left=left))

    def table(self, ws, name: str, title: str, cols: list[Col], records: list[dict], top: int,
              left: int = 1, max_width: float = MAX_WIDTH) -> tuple[Any, int]:
        """A title row at ``top`` and an Excel table below it, from column ``left``;
        returns (table, next free row)."""
        from openpyxl.utils import get_column_letter
        from openpyxl.worksheet.filters import AutoFilter
        from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

        from xltools.workbook.xlwrite import display_width, table_name, unique_headers

        self.title(ws, top, title, left=left)
        headers = unique_headers(c.header(self.lang) for c in cols)
        last = top + 1 + max(len(records), 1)  # a table needs a data row, even a blank one
        ref = f"{get_column_letter(left)}{top + 1}:{get_column_letter(left + len(cols) - 1)}{last}"
        taken = [t for sheet in self.wb.worksheets for t in sheet.tables]
        table = Table(displayName=table_name(name, taken), ref=ref)
        table.tableColumns = [TableColumn(id=i + 1, name=h) for i, h in enumerate(headers)]
        table.autoFilter = AutoFilter(ref=ref)
        table.tableStyleInfo = TableStyleInfo(name=TABLE_STYLE, showRowStripes=True)
        ws.add_table(table)
        self.blocks[ws.title].append(_Block(top=top + 1, headers=headers, cols=cols, records=records, left=left,
                                            wrap=max_width < MAX_WIDTH))
        sample = records.head(WIDTH_SAMPLE) if hasattr(records, "head") else records[:WIDTH_SAMPLE]
        for i, c in enumerate(cols):
            letter = get_column_letter(left + i)
            longest = max([display_width(headers[i])] + [_shown_width(c.get(r)) for r in sample])
            want = min(max(10.0, min(float(MAX_WIDTH), longest + 2.0), float(c.width or 0)), max_width)
            dim = ws.column_dimensions[letter]
            if dim.width is None or dim.width < want:
                dim.width = want
        return table, last + 3

    @staticmethod
    def freeze(ws, row: int) -> None:
        ws.freeze_panes = f"A{row}"

    # -- styles ----------------------------------------------------------------------------
    def style(self, fmt: str | None = None, tone: str | None = None, quote: bool = False,
              bold_size: int | None = None, wrap: bool = False) -> int:
        """The cell-format index (``s=``) of a number format, tone, quote prefix and title font,
        registered in the workbook's stylesheet on first use."""
        key = (fmt, tone, quote, bold_size) + ((True,) if wrap else ())
        sid = self._styles.get(key)
        if sid is None:
            if self._sealed:  # the stylesheet is already written: a new style would point nowhere
                raise AssertionError(f"roll-up style {key} was not prepared")
            from openpyxl.cell.cell import Cell
            from openpyxl.styles import Font, PatternFill

            from xltools.workbook.generate import TONES

            cell = Cell(self.wb.worksheets[0])
            if fmt:
                cell.number_format = fmt
            if tone in TONES:
                fill, font = TONES[tone]
                cell.fill = PatternFill("solid", fgColor=fill)
                cell.font = Font(color=font)
            if bold_size:
                cell.font = Font(bold=True, size=bold_size)
            if quote:
                cell.quotePrefix = True
            if wrap:
                from openpyxl.styles import Alignment

                cell.alignment = Alignment(wrap_text=True, vertical="top")
            sid = self._styles[key] = cell.style_id
        return sid

    # -- writing ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the workbook through :func:`xltools.workbook.outfile.write_xlsx`, each sheet's
        rows streamed into it (:func:`~xltools.workbook.outfile.stream_rows`)."""
        from xltools.workbook.outfile import deflated_sheet, stream_deflated, stream_rows, write_xlsx

        for block_list in self.blocks.values():  # register every style before any row is written
            for b in block_list:
                if b.text is not None:
                    self.style(bold_size=b.size)
                if b.wrap:
                    self.style(wrap=True)
        self._prepare_styles()
        self._sealed = True
        order = []
        for ws in self.wb.worksheets:
            blocks = sorted(self.blocks.get(ws.title, []), key=lambda b: b.top)
            order.append((ws, blocks, _dimension(blocks)))
        far = {self.sheets[k].title for k in WORKER_SHEETS if k in self.sheets}
        with tempfile.TemporaryFile() as far_file, tempfile.TemporaryFile() as near_file:
            worker = self._fork(order, far, far_file) if far else None
            # with a worker every sheet is compressed ahead (there or here meanwhile); else
            # those before the first worker sheet are small and streamed as the package is written
            first = 0 if worker is not None else min(
                (i for i, (ws, _, _) in enumerate(order) if ws.title in far), default=len(order))
            members: dict[str, Any] = {}
            try:
                for ws, blocks, dim in order[first:]:
                    if ws.title not in far:
                        stream_rows(ws, self._sheet_rows(blocks), dim)
                        members[ws.title] = deflated_sheet(ws, ZIP_LEVEL, near_file)
                if worker is not None:
                    members.update(self._far_members(worker, far, far_file))
                    worker.close()  # it ends when its pipe closes
            finally:
                if worker is not None:
                    worker.kill()  # a no-op once it has answered and ended
            for ws, blocks, dim in order[first:]:
                if ws.title not in members:  # no worker (or the database changed under it): here
                    stream_rows(ws, self._sheet_rows(blocks), dim)
                    members[ws.title] = deflated_sheet(ws, ZIP_LEVEL, far_file)
            for ws, blocks, dim in order:
                if ws.title in members:
                    stream_deflated(ws, (lambda m=members[ws.title]: m), dim)
                else:
                    stream_rows(ws, self._sheet_rows(blocks), dim)
            write_xlsx(self.wb, path, compresslevel=ZIP_LEVEL)

    def _fork(self, order: list, far: set[str], out: Any) -> Any:
        """A forked worker writing the sheets ``far`` into ``out`` (:func:`_far_sheets`), or
        None where this process writes them itself (:func:`~.common.can_fork`)."""
        from xltools.reports.rollup.common import can_fork
        from xltools.workbook.workers import ForkedWorker

        snapshot = self.snapshot
        if not can_fork(self.processes, snapshot):
            return None
        fingerprint = snapshot.fingerprint() if snapshot is not None else None
        _FORKED[:] = [(self, order, fingerprint, out)]
        try:
            worker = ForkedWorker(_far_sheets)
            worker.submit(sorted(far))
        finally:
            _FORKED.clear()  # the worker has its copy
        return worker

    def _far_members(self, worker: Any, far: set[str], out: Any) -> dict[str, Any]:
        """The members the worker wrote (none when the database changed since this process
        read it: they are then written here, from this snapshot)."""
        from xltools.reports.rollup.common import worker_value
        from xltools.workbook.outfile import DeflatedFile

        sheets = "、".join(ws.title for ws in self.wb.worksheets if ws.title in far)
        value = worker_value(worker.result(), sheets)
        if value is None:
            return {}
        return {title: DeflatedFile(name, size, crc, out, offset, length)
                for title, (name, size, crc, offset, length) in value.items()}

    def _prepare_styles(self) -> None:
        """Every style a data cell can need (formats x tones x quote prefix), so that the
        stylesheet is complete before the skeleton is written.  They are made in a fixed
        order (style ids go by first use), so the same data gives the same file under any
        hash seed."""
        from xltools.workbook.generate import TONES

        def ordered(values: set[str | None]) -> list[str | None]:
            return sorted(values, key=lambda v: (v is not None, v or ""))

        for block_list in self.blocks.values():
            for b in block_list:
                if b.cols is None:
                    continue
                for c in b.cols:
                    fmts = {c.fmt} if not callable(c.fmt) else {c.fmt(r) for r in b.records}  # small tables only
                    tones = ordered({None} if c.tone is None else {None, *TONES})
                    for fmt in ordered(fmts | {None, DATE_FORMAT, DATETIME_FORMAT}):
                        for tone in tones:
                            for quote in (False, True):
                                self.style(fmt, tone, quote)

    def _sheet_rows(self, blocks: list[_Block]) -> Iterable[str]:
        """``<row>`` elements of a sheet, in order, in chunks."""
        if any(b.left > 1 for b in blocks):  # blocks side by side (small sheets): rows merged
            yield "".join(self._merged_rows(blocks))
            return
        buf: list[str] = []
        for b in blocks:
            if b.text is not None:
                buf.append(_row(b.top, [_cell("A", b.top, b.text, self.style(bold_size=b.size))]))
                continue
            letters = [_letter(i + 1) for i in range(len(b.cols))]
            r = b.top
            buf.append(_row(r, [_cell(letters[i], r, h, 0) for i, h in enumerate(b.headers)]))
            for r, cells in self._record_cells(b.records, b.cols, letters, r + 1):
                buf.append(_row(r, cells))
                if len(buf) >= 2000:
                    yield "".join(buf)
                    buf.clear()
        yield "".join(buf)


    def _record_cells(self, records: Iterable[dict], cols: list[Col], letters: list[str],
                      first: int) -> Iterator[tuple[int, list[str]]]:
        """(row number, ``<c>`` elements) of each record from row ``first``: what
        :func:`_encode` writes.  The bulk of a big roll-up's cells -- a record's value or
        its choice label, with a fixed number format and no tone or the tone of a choice --
        are written here without a call per cell: a text's cell tail (style, inline string:
        :mod:`xltools.workbook.cellxml`'s encoding) is cached per column, numbers are
        written as :func:`~xltools.workbook.cellxml.number` writes them, a date's cell tail
        (what :func:`_encode` writes after the reference) is cached per column, tone and
        date; every other value, and every other column, through :func:`_encode`."""
        plan = [self._column_plan(letters[i], c) for i, c in enumerate(cols)]
        generic = _GENERIC
        r = first - 1
        for rec in records:
            r += 1
            rs = str(r)
            cells = []
            append = cells.append
            for mode, pre, key, labels, get, fmt, tone_key, tones, tone_of, text_tails, num_tails, day_tails in plan:
                if mode is generic:
                    cell = self._generic_cell(pre, r, rec, get, fmt, tone_of)
                    if cell is not None:
                        append(cell)
                    continue
                v = rec.get(key)
                if v is None:
                    continue
                if labels is not None:
                    label = labels.get(v)
                    if label is None:
                        v = get(rec)  # not a key of the list: the column's own rule
                        if v is None:
                            continue
                    else:
                        v = label
                if tones is None:
                    tone = None
                else:
                    tone = tones.get(rec.get(tone_key), _MISSING)
                    if tone is _MISSING:
                        tone = tone_of(rec)
                kind = type(v)
                if kind is str:
                    if tones is None:
                        tails = text_tails  # no tone: one cache
                    else:
                        tails = text_tails.get(tone)
                        if tails is None:
                            tails = text_tails[tone] = {}
                    tail = tails.get(v)
                    if tail is None:
                        tail = (f'" s="{self._style_id(None, tone, v.startswith(FORMULA_TRIGGERS))}" '
                                f't="inlineStr">{stored_inline(v)}</c>')
                        if len(tails) < TEXT_CACHE:
                            tails[v] = tail
                    append(pre + rs + tail)
                elif kind is int or (kind is float and math.isfinite(v)):
                    head = num_tails.get(tone)
                    if head is None:
                        head = num_tails[tone] = f'" s="{self._style_id(fmt, tone, False)}"><v>'
                    append(f"{pre}{rs}{head}{v!r}</v></c>")
                elif kind is date or kind is datetime:  # dates repeat: the cell's tail cached per value
                    tail = day_tails.get((tone, v))
                    if tail is None:
                        tail = _encode(pre[6:], r, v, fmt, tone, self)[len(pre) + len(rs):]
                        if len(day_tails) < TEXT_CACHE:
                            day_tails[(tone, v)] = tail
                    append(pre + rs + tail)
                else:
                    append(_encode(pre[6:], r, v, fmt, tone, self))
            yield r, cells

    def _style_id(self, fmt: str | None, tone: str | None, quote: bool) -> int:
        sid = self._styles.get((fmt, tone, quote, None))
        return sid if sid is not None else self.style(fmt, tone, quote)

    def _column_plan(self, letter: str, c: Col) -> tuple:
        """How :meth:`_record_cells` writes column ``c``: directly (a record key or a choice
        label, a fixed format, no tone or a choice's tone) or through :meth:`_generic_cell`."""
        pre = f'<c r="{letter}'
        get, fmt, tone = c.get, c.fmt, c.tone
        direct = (type(get) in (_Key, _ChoiceLabel, _KeyLabel) and not callable(fmt)
                  and (tone is None or type(tone) in (_ChoiceTone, _KeyTone)))
        if not direct:
            return (_GENERIC, pre, None, None, get, fmt, None, None, tone, None, None, None)
        labels = get.labels if type(get) is not _Key else None
        tones = tone.tones if tone is not None else None
        tone_key = tone.key if tone is not None else None
        return (_DIRECT, pre, get.key, labels, get, fmt, tone_key, tones, tone, {}, {}, {})

    def _generic_cell(self, pre: str, r: int, rec: dict, get: Callable[[dict], Any], fmt: Any,
                      tone_of: Callable[[dict], str | None] | None) -> str | None:
        """One cell of a column :meth:`_column_plan` does not write directly."""
        v = get(rec)
        if v is None:
            return None
        if callable(fmt):
            fmt = fmt(rec)
        tone = tone_of(rec) if tone_of is not None else None
        kind = type(v)
        if kind is str:
            return f'{pre}{r}" s="{self._style_id(None, tone, v.startswith(FORMULA_TRIGGERS))}" t="inlineStr">{stored_inline(v)}</c>'
        if kind is int or (kind is float and math.isfinite(v)):
            return f'{pre}{r}" s="{self._style_id(fmt, tone, False)}"><v>{v!r}</v></c>'
        return _encode(pre[6:], r, v, fmt, tone, self)

    def _merged_rows(self, blocks: list[_Block]) -> list[str]:
        """The rows of blocks that share rows (the dashboard), cells in column order."""
        cells: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for b in blocks:
            if b.text is not None:
                cells[b.top].append((b.left, _cell(_letter(b.left), b.top, b.text, self.style(bold_size=b.size))))
                continue
            r = b.top
            hs = self.style(wrap=True) if b.wrap else 0
            for i, h in enumerate(b.headers):
                cells[r].append((b.left + i, _cell(_letter(b.left + i), r, h, hs)))
            for rec in b.records:
                r += 1
                for i, c in enumerate(b.cols):
                    v = c.get(rec)
                    if v is None:
                        continue
                    fmt = c.fmt(rec) if callable(c.fmt) else c.fmt
                    tone = c.tone(rec) if c.tone is not None else None
                    cells[r].append((b.left + i, _encode(_letter(b.left + i), r, v, fmt, tone, self)))
        return [_row(r, [x for _, x in sorted(cells[r])]) for r in sorted(cells)]


#: the sheets :meth:`_Book.save` writes in a forked process while it writes the rest (about
#: half the work of the sheets: the opportunities, the contacts read by ID and the portfolio)
WORKER_SHEETS = ("portfolio", "pipeline", "relationships")
#: what a forked worker needs, set just before the fork: (book, sheet order, the
#: snapshot's fingerprint, the file for the members)
_FORKED: list = []


def _far_sheets(titles: list[str]) -> dict[str, tuple] | None:
    """In the forked worker: compress the sheets ``titles`` of the book being saved into
    the file given, reading through a database connection of its own; returns per sheet
    (member name, size, CRC-32, offset, length), or None when the database has changed
    since the parent read it (the parent then writes them from its snapshot)."""
    from xltools.workbook.outfile import deflated_sheet, stream_rows

    book, order, fingerprint, out = _FORKED[0]
    if book.snapshot is not None:
        book.snapshot.reopen_in_child()
        if book.snapshot.fingerprint() != fingerprint:
            return None
    done = {}
    for ws, blocks, dim in order:
        if ws.title in titles:
            stream_rows(ws, book._sheet_rows(blocks), dim)
            m = deflated_sheet(ws, ZIP_LEVEL, out)
            done[ws.title] = (m.name, m.size, m.crc, m.offset, m.length)
    return done


#: how :meth:`_Book._record_cells` writes a column
_DIRECT, _GENERIC = "direct", "generic"
_MISSING = object()
#: distinct texts whose cell tail is cached per column and tone (names, stages, labels repeat)
TEXT_CACHE = 2048
#: records used to size a column (the first ones; a roll-up can have 100,000s of rows)
WIDTH_SAMPLE = 300
#: deflate level of the roll-up package (speed over size: the XML compresses well anyway;
#: level 1 takes less than half the CPU of level 5 for a package about a quarter bigger)
ZIP_LEVEL = 1


def _letter(col: int) -> str:
    from xltools.cells import col_letter

    return col_letter(col)


def _dimension(blocks: list[_Block]) -> str:
    if not blocks:
        return "A1"
    rows = max(b.top if b.text is not None else b.top + max(len(b.records), 1) for b in blocks)
    width = max((b.left + len(b.cols) - 1 for b in blocks if b.cols), default=1)
    return f"A1:{_letter(width)}{rows}"


def _row(r: int, cells: list[str]) -> str:
    return row(r, cells)


def _clean(text: str) -> str:
    """The text-safety rules of :func:`xltools.workbook.xlwrite.stored_text` (one place)."""
    return stored_text(text)


def _cell(letter: str, r: int, text: str, sid: int) -> str:
    """A text cell (inline string: never a formula, whatever it begins with)."""
    return text_cell(f"{letter}{r}", sid, text)


def _encode(letter: str, r: int, v: Any, fmt: str | None, tone: str | None, book: _Book) -> str:
    """One cell the way :func:`xltools.workbook.xlwrite.write_value` writes it: text as text (quote
    prefix on ``= + - @``), numbers as numbers, dates as date serials with a date format."""
    ref = f"{letter}{r}"
    if isinstance(v, str):
        return text_cell(ref, book.style(None, tone, v.startswith(FORMULA_TRIGGERS)), v)
    if isinstance(v, bool):
        return bool_cell(ref, book.style(None, tone), v)
    if isinstance(v, Decimal):
        v = float(v)
    if isinstance(v, (int, float)):
        if isinstance(v, float) and not math.isfinite(v):
            return text_cell(ref, book.style(None, tone), str(v))
        return number_cell(ref, book.style(fmt, tone), v)
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            v = v.astimezone().replace(tzinfo=None)
        dfmt = fmt if fmt and fmt != DATE_FORMAT else (DATETIME_FORMAT if v.time() != datetime.min.time() else DATE_FORMAT)
        return number_cell(ref, book.style(dfmt, tone), date_serial(v))
    if isinstance(v, date):
        return number_cell(ref, book.style(fmt or DATE_FORMAT, tone), date_serial(v))
    return text_cell(ref, book.style(None, tone, str(v).startswith(FORMULA_TRIGGERS)), str(v))


@lru_cache(maxsize=1 << 12)
def _text_width(text: str) -> int:
    from xltools.workbook.xlwrite import display_width

    return display_width(text)


def _shown_width(value: Any) -> int:
    """About how many columns a value takes once formatted (yen, dates, text)."""
    if type(value) is str:
        return _text_width(value)
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    if isinstance(value, bool):
        return 5
    if isinstance(value, (int, float)):
        return len(f"{value:,.0f}") + 3
    return _text_width(str(value))


def _severity(lang: str) -> Callable[[dict], str]:
    """An issue's severity in ``lang`` (a value the roll-up does not know as it is)."""
    return _KeyLabel("severity", {k: _t(k, lang) for k in ("error", "warning", "info")})


def _label_of(spec: Spec, table: str | None, key: str | None, lang: str) -> str | None:
    """The localised label of a field or column key (the key itself when unknown)."""
    if not key:
        return None
    try:
        f = spec.table(table).column(key) if table else spec.field(key)
        return f.label(lang)
    except KeyError:
        return key
