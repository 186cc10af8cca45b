"""``xltools live``: check and redraw the plan that is open in Excel, through xlwings.

Imported only by the ``live`` commands (xlwings is the ``excel`` extra, for Windows and
macOS).  Three steps, each on the open workbook and never saving it:

* :func:`snapshot` reads the book through xlwings into a
  :class:`~xltools.workbook.view.MemoryView` -- every worksheet's used range (values with cell
  errors as text, formulas), its defined names (``book.names``) and its tables
  (``sheet.tables``) -- the same contract :mod:`xltools.workbook.reader` reads from a file.
  :func:`live_check` hands it to :func:`xltools.checking.check.check_file`, so the reader core,
  the normaliser, the checks and the rules are those of ``xltools check``, and the
  issues are those of the same workbook saved to disk.
* :func:`mark` puts each problem cell's fill colour (by the most severe issue, the
  colours of ``check --annotate``) and a note with its issues on the cell (the top-left
  cell of a merged area), and a results sheet (:data:`xltools.checking.validate.ANNOTATION_SHEET`,
  which the checks never report as stray) listing every issue with a link to its cell.
  What each mark replaced (the cell's fill colour, its note) is written first to the
  very hidden sheet :data:`STATE_SHEET`, so :func:`clear` -- in this Excel session or a
  later one, after the book was saved and reopened -- restores exactly that and removes
  the results sheet and the state sheet.  A cell the rep changed after it was marked
  (another colour, an edited note) is left as the rep left it and named.
* :func:`live_map` redraws the relationship-map pictures from the current Contacts
  table (rendered by ``xltools.workbook.relmap.render_relmap_png``).

Limits of the live read: a sheet whose used range exceeds the reader's sheet limits is
``E-SHEET-TOO-LARGE`` (a file with a few far-away cells is read, the open book is
not); a formula cell is one whose formula starts with ``=`` and differs from its value
(text typed as ``'=...`` is text); fill colours are restored as solid RGB colours.
"""
from __future__ import annotations

import os
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Callable

from xltools import clock
from xltools.cells import a1, parse_range
from xltools.checking.annotate import FILLS, ISSUE_HEADERS, ISSUE_WIDTHS, issue_rows, results_heading
from xltools.checking.relmap import SHEET
from xltools.checking.validate import ANNOTATION_SHEET
from xltools.errors import EXIT_FAILED, EXIT_USAGE, XltoolsError
from xltools.spec.contract import T
from xltools.spec.issues import SEVERITIES, FileReport, Issue, sort_issues
from xltools.spec.model import CellError
from xltools.spec.spec import Label, Spec
from xltools.workbook.safety import FileProblem, Limits, file_problem
from xltools.workbook.view import MemoryView, NameRef, SheetView, TableRef

__all__ = ["LiveError", "LiveUnavailable", "STATE_SHEET", "MAP_SHEET", "connect", "snapshot", "live_check",
           "mark", "clear", "live_map", "LiveResult", "ClearResult"]

#: the very hidden sheet that remembers what the marks replaced
STATE_SHEET = "_xltools_live"
_STATE_TITLE = "xltools live marks"
_STATE_VERSION = "1"
_STATE_HEADERS = ("sheet", "cell", "old_color", "old_note", "old_note_text", "color", "note")
#: the relationship-map sheet and its pictures (one per printed page)
MAP_SHEET = SHEET  # the sheet of xltools.checking.relmap
MAP_PICTURE = "xltools_relmap_{n}"
_MAP_GAP = 18.0  # points between two pages of the map

_RANK = {s: i for i, s in enumerate(SEVERITIES)}
#: Excel's error values (xlwings reads them as text with err_to_str=True)
_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA",
                     "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!",
                     "#PYTHON!", "#EXTERNAL!"})
#: sheet-scoped names Excel shows without their _xlnm. prefix
_BUILTIN_NAMES = frozenset({"print_area", "print_titles", "_filterdatabase", "criteria", "extract", "database",
                            "consolidate_area", "sheet_title"})
_XL_SHEET_VERY_HIDDEN = 2
_EPOCH = date(1899, 12, 30)  # what Excel's serial 0 is as a date  # XlSheetVisibility.xlSheetVeryHidden

_MSG = {
    "needs_excel": Label(
        "xltools live は Windows または macOS の Excel で開いているブックに使います。"
        "Excel と xlwings が必要です：pip install 'xltools[excel]'",
        "xltools live works on a workbook open in Excel on Windows or macOS: it needs Excel and "
        "xlwings (pip install 'xltools[excel]')."),
    "no_xlwings": Label(
        "xlwings がインストールされていません。pip install 'xltools[excel]' を実行してください"
        "（Windows または macOS の Excel が必要です）。",
        "xlwings is not installed: run pip install 'xltools[excel]' (needs Excel on Windows or macOS)."),
    "no_excel": Label("Excel が起動していないか、応答しません（{detail}）。ブックを Excel で開いてから実行してください。",
                      "Excel is not running or does not answer ({detail}). Open the workbook in Excel, then run "
                      "again."),
    "no_book": Label("Excel で開いているブックがありません。", "No workbook is open in Excel."),
    "no_such_book": Label("ブック「{name}」は Excel で開かれていません。開いているブック：{books}",
                          "Workbook '{name}' is not open in Excel. Open workbooks: {books}"),
    "excel_failed": Label("Excel とのやりとりに失敗しました（{detail}）。セルの編集中でないか確認して、もう一度実行してください。",
                          "Excel did not do what was asked ({detail}). Make sure no cell is being edited, then run "
                          "again."),
    "sheet_taken": Label("シート「{sheet}」が既にあります（xltools live が作ったものではありません）。"
                         "名前を変えるか削除してから実行してください。",
                         "There is already a sheet '{sheet}' that xltools live did not make. Rename or delete it, "
                         "then run again."),
    "used_range": Label("シート {sheet} の使用範囲 {ref} が大きすぎます（{rows} 行・{cells} セル、上限 {max_rows} 行・"
                        "{max_cells} セル）。計画から離れたセルを削除してください",
                        "sheet {sheet}: its used range {ref} is too large ({rows} rows, {cells} cells; limits "
                        "{max_rows} rows, {max_cells} cells); delete the cells far from the plan"),
    "marked": Label("{cells} セルに色とメモを付け、シート「{sheet}」に {issues} 件の指摘を一覧にしました"
                    "（ブックは保存していません。消すには xltools live clear）。",
                    "Marked {cells} cell(s) with a colour and a note and listed {issues} issue(s) on sheet "
                    "'{sheet}' (the workbook was not saved; xltools live clear removes the marks)."),
    "cleared": Label("{cells} セルの印を消し、元の色とメモに戻しました。", "Removed the marks from {cells} cell(s) and "
                     "restored their colours and notes."),
    "kept": Label("印を付けた後に変更されていた {n} セルはそのままにしました：{cells}",
                  "{n} cell(s) changed after they were marked were left as they are: {cells}"),
    "nothing": Label("消す印はありません。", "There are no marks to remove."),
    "no_contacts": Label("ブックに表 {table} がありません。", "The workbook has no table {table}."),
    "no_renderer": Label("このインストールには関係図の描画機能（xltools.workbook.relmap）がありません。",
                         "This installation cannot draw the relationship map (no xltools.workbook.relmap)."),
    "map_done": Label("シート「{sheet}」の関係図を描き直しました（{pages} 枚、連絡先 {rows} 行）。",
                      "Redrew the relationship map on sheet '{sheet}' ({pages} page(s), {rows} contact row(s))."),
}


def message(key: str, lang: str, **params: Any) -> str:
    return _MSG[key](lang).format(**params)


class LiveError(XltoolsError):
    """Excel could not do what ``xltools live`` asked (exit 3); ``key`` names its message
    (rendered in the command's language, like every error)."""

    code = "live"
    exit_code = EXIT_FAILED

    def __init__(self, key: str, **params: Any):
        self.key = key
        super().__init__(_MSG[key], **params)


class LiveUnavailable(LiveError):
    """No Excel to talk to (Linux, no xlwings, Excel not running, no such book): exit 2."""

    code = "live-unavailable"
    exit_code = EXIT_USAGE


# -- connecting ------------------------------------------------------------------------------

def _xlwings(platform: str | None = None):
    platform = platform or sys.platform
    if platform not in ("win32", "darwin"):
        raise LiveUnavailable("needs_excel")
    try:
        import xlwings
    except ImportError:
        raise LiveUnavailable("no_xlwings") from None
    return xlwings


def connect(book: str | None = None, *, xw: Any = None, platform: str | None = None):
    """The workbook open in Excel: ``book`` by its name (``plan.xlsx``, with or without
    the extension, or its full path), else the active one.  ``xw``: the xlwings module
    (default: imported here; on Linux, or without xlwings, :class:`LiveUnavailable`)."""
    xw = xw or _xlwings(platform)
    try:
        collection = xw.books
        books = list(collection)
    except Exception as e:  # noqa: BLE001 - no Excel running, or one that does not answer
        raise LiveUnavailable("no_excel", detail=f"{type(e).__name__}: {e}") from None
    if not books:
        raise LiveUnavailable("no_book")
    if book is None:
        return _excel(lambda: collection.active)
    want = book.casefold()
    for b in books:
        names = {b.name.casefold(), os.path.splitext(b.name)[0].casefold(), str(b.fullname).casefold()}
        if want in names:
            return b
    raise LiveUnavailable("no_such_book", name=book, books=", ".join(b.name for b in books))


def _excel(call: Callable[[], Any]) -> Any:
    """Run an xlwings call; Excel's refusal (a COM or AppleScript error) is a LiveError."""
    try:
        return call()
    except (XltoolsError, KeyboardInterrupt):
        raise
    except Exception as e:  # noqa: BLE001 - pywintypes.com_error, appscript's CommandError...
        raise LiveError("excel_failed", detail=f"{type(e).__name__}: {e}") from None


# -- reading ------------------------------------------------------------------------------

def snapshot(book, limits: Limits | None = None) -> MemoryView:
    """The open workbook as the reader sees a file: every worksheet (values and formula
    cells of its used range), then the defined names, then the tables.  A used range
    beyond ``limits`` is :class:`~xltools.workbook.safety.FileProblem` ``E-SHEET-TOO-LARGE``;
    Excel failing is :class:`LiveError`."""
    limits = limits or Limits()

    def read() -> MemoryView:
        xl_sheets = list(book.sheets)
        sheets = [_read_sheet(sh, limits) for sh in xl_sheets]
        names = _read_names(book, [s.name for s in sheets])
        return MemoryView(book.name, sheets, names, _read_tables(xl_sheets))

    return _excel(read)


def _read_sheet(sh, limits: Limits) -> SheetView:
    used = sh.used_range
    top, left = used.row, used.column
    rows, cols = used.shape
    if rows > limits.max_sheet_rows or rows * cols > limits.max_sheet_cells:
        ref = f"{a1(top, left)}:{a1(top + rows - 1, left + cols - 1)}"
        params = dict(sheet=sh.name, ref=ref, rows=rows, cells=rows * cols, max_rows=limits.max_sheet_rows,
                      max_cells=limits.max_sheet_cells)
        raise file_problem("E-SHEET-TOO-LARGE", message("used_range", "en", **params),
                       message("used_range", "ja", **params), value=rows)
    values = used.options(ndim=2, err_to_str=True).value
    formulas = _grid2d(used.formula, rows, cols)
    grid: dict[tuple[int, int], Any] = {}
    fcells: set[tuple[int, int]] = set()
    error_like: list[tuple[int, int]] = []
    for i, row in enumerate(values):
        frow = formulas[i]
        for j, v in enumerate(row):
            f = frow[j]
            if isinstance(f, str) and f.startswith("=") and f != v:
                fcells.add((top + i, left + j))
            if v is None or v == "":
                continue
            if isinstance(v, str) and v in _ERRORS:
                error_like.append((i, j))
            grid[(top + i, left + j)] = _value(v)
    if error_like:
        # an error value and the text "#N/A" look alike with err_to_str: without it an
        # error is None and the text stays text
        plain = used.options(ndim=2).value
        for i, j in error_like:
            if plain[i][j] is None:
                grid[(top + i, left + j)] = CellError(values[i][j])
    return SheetView(sh.name, "visible" if sh.visible else "hidden", grid, fcells)


def _grid2d(v: Any, rows: int, cols: int) -> list[list[Any]]:
    """``Range.formula`` as rows of cells: Excel gives one cell as a plain value."""
    if rows == 1 and cols == 1 and not isinstance(v, (list, tuple)):
        return [[v]]
    v = list(v)
    if v and not isinstance(v[0], (list, tuple)):  # a single row or column as a flat list
        return [v] if rows == 1 else [[x] for x in v]
    return [list(r) for r in v]


def _value(v: Any) -> Any:
    """A value as python-calamine reads it from the saved file: empty text is empty, a
    date without a time is a date, a time of day a time."""
    if v is None or v == "":
        return None
    if isinstance(v, datetime):
        v = v.replace(tzinfo=None)
        if v.date() == _EPOCH:  # serial 0 to 1: a time of day
            return v.time()
        return v.date() if v.time() == time(0) else v
    return v


def _read_names(book, sheet_names: list[str]) -> dict[str, NameRef]:
    """Lower-cased name -> first cell, as the file reader resolves ``definedName``:
    workbook-scoped names win over sheet-scoped ones."""
    from xltools.workbook.reader import split_ref

    wb_scoped: dict[str, NameRef] = {}
    sheet_scoped: dict[str, NameRef] = {}
    by_lower = {n.casefold(): n for n in sheet_names}
    for nm in book.names:
        full = nm.name or ""
        scoped = "!" in full
        bare = full.rsplit("!", 1)[-1].casefold()
        if not bare or bare.startswith("_xlnm.") or (scoped and bare in _BUILTIN_NAMES):
            continue
        split = split_ref(nm.refers_to or "")
        if split is None:
            continue
        sheet = by_lower.get(split[0].casefold())
        if sheet is None:
            continue
        try:
            r1, c1, _, _ = parse_range(split[1])
        except ValueError:
            continue
        (sheet_scoped if scoped else wb_scoped).setdefault(bare, NameRef(sheet, r1, c1))
    return {**sheet_scoped, **wb_scoped}


def _read_tables(xl_sheets: list) -> dict[str, TableRef]:
    out: dict[str, TableRef] = {}
    for sh in xl_sheets:
        for t in sh.tables:
            rng = t.range
            top, left = rng.row, rng.column
            rows, cols = rng.shape
            headers, totals = bool(t.show_headers), bool(t.show_totals)
            if headers:
                names = ["" if v is None else _header_text(v)
                         for v in t.header_row_range.options(ndim=1).value]
            else:
                names = _column_names(t)
            bottom, right = top + rows - 1, left + cols - 1
            tref = TableRef(name=t.name, sheet=sh.name, ref=f"{a1(top, left)}:{a1(bottom, right)}", top=top,
                            left=left, bottom=bottom, right=right, header_rows=int(headers),
                            totals_rows=int(totals), column_names=names)
            for alias in (t.name, t.display_name):
                if alias:
                    out.setdefault(alias.casefold(), tref)
    return out


def _header_text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _column_names(t) -> list[str]:
    """A table without its header row: Excel's own column names (Windows:
    ``ListObject.ListColumns``); elsewhere none, and the columns are reported missing."""
    try:
        return [str(c.Name) for c in t.api.ListColumns]
    except Exception:  # noqa: BLE001 - macOS (appscript) has no ListColumns
        return []


# -- checking ------------------------------------------------------------------------------

@dataclass
class LiveResult:
    """What ``live check`` did: the report (as ``xltools check`` gives it for the saved
    file) and the marks."""

    book: str
    report: FileReport
    marked_cells: list[str] = field(default_factory=list)
    results_sheet: str | None = None

    def to_dict(self, lang: str = "ja") -> dict:
        return {"files": [self.report.to_dict(lang)],
                "live": {"book": self.book, "marked_cells": self.marked_cells, "results_sheet": self.results_sheet}}

    def summary(self, lang: str) -> str:
        return message("marked", lang, cells=len(self.marked_cells), sheet=self.results_sheet,
                       issues=len(self.report.issues))


def live_check(book, spec: Spec, settings, *, lang: str = "ja", now: datetime | None = None,
               platform: str | None = None) -> LiveResult:
    """Check the open workbook as ``xltools check`` checks a file, then mark it.

    The marks of an earlier run are cleared first (they are never read as the rep's
    input).  ``now`` (default: :func:`xltools.clock.now`): the rules' today and the
    "checked at" time of the results sheet."""
    now = clock.resolve(now)
    clear(book, platform=platform)
    _results_name_free(book, lang)
    report = check_view(book, spec, settings, lang=lang, now=now)
    return mark(book, report, spec, lang=lang, now=now, platform=platform)


def check_view(book, spec: Spec, settings, *, lang: str = "ja", now: datetime | None = None) -> FileReport:
    """The report of ``xltools check`` for the open workbook (its file name is the book's
    name): the snapshot goes through :func:`xltools.checking.check.check_file`."""
    from xltools.checking.check import check_file, workbook_texts

    name = _excel(lambda: book.name)
    try:
        view = snapshot(book, Limits.from_settings(settings))
    except FileProblem as problem:
        report = FileReport(file=name)
        report.issues = [problem.to_issue(name)]
        return report
    return check_file(view, spec, settings, lang=lang, now=now, static_texts=workbook_texts(spec, settings))


def _results_name_free(book, lang: str) -> None:
    name = ANNOTATION_SHEET(lang)
    if any(s.name == name for s in _excel(lambda: list(book.sheets))):
        raise LiveError("sheet_taken", sheet=name)


# -- marking --------------------------------------------------------------------------------

def _rgb(hex6: str | None) -> tuple[int, int, int] | None:
    if not hex6:
        return None
    hex6 = hex6.lstrip("#")
    return int(hex6[0:2], 16), int(hex6[2:4], 16), int(hex6[4:6], 16)


def _hex(rgb: Any) -> str | None:
    if rgb is None:
        return None
    if isinstance(rgb, str):
        return rgb.lstrip("#").upper()
    r, g, b = rgb
    return f"{int(r):02X}{int(g):02X}{int(b):02X}"


def _text(v: Any) -> Any:
    """A value to write into a cell as it is: text gets Excel's text prefix ``'`` (so
    ``=...``, ``1/2`` or ``0012`` stay text), nothing else is touched."""
    from xltools.workbook.xlwrite import clean_text

    if v is None or isinstance(v, (bool, int, float)):
        return v
    return "'" + clean_text(str(v))


def _same_text(a: Any, b: Any) -> bool:
    def norm(x):
        return ("" if x is None else str(x)).replace("\r\n", "\n").replace("\r", "\n").strip()

    return norm(a) == norm(b)


def _add_note(rng, text: str, platform: str) -> None:
    """A new note on a cell (xlwings can only edit an existing one)."""
    if platform == "darwin":
        rng.api.add_comment(comment_text=text)
    else:
        rng.api.AddComment(text)


def _hide(sheet, platform: str) -> None:
    if platform == "darwin":
        sheet.visible = False
    else:
        sheet.api.Visible = _XL_SHEET_VERY_HIDDEN


def mark(book, report: FileReport, spec: Spec | None = None, *, lang: str = "ja", now: datetime | None = None,
         platform: str | None = None) -> LiveResult:
    """Mark ``report``'s issues in the open book (see the module docs); never saves."""
    from xltools.workbook.xlwrite import clean_text

    platform = platform or sys.platform
    checked_at = clock.resolve(now).astimezone()
    issues = sort_issues(report.issues)

    def run() -> LiveResult:
        sheets = {s.name: s for s in book.sheets}
        targets: dict[tuple[str, str], list[Issue]] = defaultdict(list)
        for i in issues:
            if i.sheet in sheets and i.cell:
                area = sheets[i.sheet].range(i.cell).merge_area  # a merged area: its top-left cell
                targets[(i.sheet, a1(area.row, area.column))].append(i)
        plan = []
        for (sheet, ref), found in targets.items():
            rng = sheets[sheet].range(ref)
            note = rng.note
            old_text = note.text if note is not None else None
            worst = min(found, key=lambda i: _RANK[i.severity]).severity
            ours = "\n".join(f"[{i.code}] {i.message(lang)}" for i in found)
            text = clean_text(f"{old_text}\n---\n{ours}" if old_text else ours)
            plan.append((rng, note, sheet, ref, _hex(rng.color), note is not None, old_text, FILLS[worst], text))
        results = ANNOTATION_SHEET(lang)
        # what the marks replace is written before any mark is made
        state = book.sheets.add(STATE_SHEET, after=book.sheets[len(book.sheets) - 1])
        rows = [[_text(_STATE_TITLE), _text(_STATE_VERSION), _text(results), _text(f"{checked_at:%Y-%m-%d %H:%M}"),
                 None, None, None], [_text(h) for h in _STATE_HEADERS]]
        rows += [[_text(sheet), _text(ref), _text(old), True if had else None, _text(old_text), _text(color),
                  _text(text)]
                 for _, _, sheet, ref, old, had, old_text, color, text in plan]
        state.range("A1").value = rows
        _hide(state, platform)
        for rng, note, _, _, _, _, _, color, text in plan:
            rng.color = _rgb(color)
            if note is not None:
                note.text = text
            else:
                _add_note(rng, text, platform)
        _results_sheet(book, results, issues, set(sheets), spec, lang, checked_at)
        return LiveResult(book=book.name, report=report, marked_cells=[f"{s}!{r}" for s, r in targets],
                          results_sheet=results)

    return _excel(run)


def _results_sheet(book, name: str, issues: list[Issue], sheet_names: set[str], spec: Spec | None, lang: str,
                   checked_at: datetime) -> None:
    ws = book.sheets.add(name, before=book.sheets[0])
    ws.range("A1").value = [[_text(line)] for line in results_heading(book.name, checked_at, lang)]
    ws.range("A1").font.bold = True
    rows = [[_text(h(lang)) for h in ISSUE_HEADERS]]
    rows += [[n, *(_text(v) for v in rest)] for n, *rest in issue_rows(issues, spec, lang)]
    ws.range("A4").value = rows
    ws.range((4, 1), (4, len(ISSUE_HEADERS))).font.bold = True
    for k, width in enumerate(ISSUE_WIDTHS, 1):
        ws.range((4, k)).column_width = width
    for n, i in enumerate(issues, 1):
        ws.range((4 + n, 2)).color = _rgb(FILLS[i.severity])
        if i.sheet in sheet_names and i.cell:
            quoted = i.sheet.replace("'", "''")
            ws.range((4 + n, 5)).add_hyperlink(f"#'{quoted}'!{i.cell}", i.cell, f"{i.sheet}!{i.cell}")
    ws.activate()


# -- clearing --------------------------------------------------------------------------------

@dataclass
class ClearResult:
    restored: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    found: bool = False

    def to_dict(self) -> dict:
        return {"restored": self.restored, "kept": self.kept}

    def summary(self, lang: str) -> str:
        if not self.found:
            return message("nothing", lang)
        out = message("cleared", lang, cells=len(self.restored))
        if self.kept:
            out += "\n" + message("kept", lang, n=len(self.kept), cells=", ".join(self.kept))
        return out


def clear(book, *, platform: str | None = None) -> ClearResult:
    """Remove the marks :func:`mark` made and restore what they replaced (see the module
    docs); a book without marks is left untouched.  Never saves."""

    def run() -> ClearResult:
        sheets = {s.name: s for s in book.sheets}
        state = sheets.get(STATE_SHEET)
        if state is None:
            return ClearResult()
        rows = state.used_range.options(ndim=2).value
        results = rows[0][2] if rows and len(rows[0]) > 2 else None
        out = ClearResult(found=True)
        for row in rows[2:]:
            sheet, ref, old_color, had_note, old_text, color, text = (list(row) + [None] * 7)[:7]
            where = f"{sheet}!{ref}"
            sh = sheets.get(sheet)
            if sh is None or not ref:
                out.kept.append(where)
                continue
            rng = sh.range(ref)
            note = rng.note
            color_ours = _hex(rng.color) == _hex(color)
            note_ours = note is not None and _same_text(note.text, text)
            if color_ours:
                rng.color = _rgb(old_color)
            if note_ours:
                if had_note:
                    note.text = "" if old_text is None else str(old_text)
                else:
                    note.delete()
            (out.restored if color_ours and note_ours else out.kept).append(where)
        if results and results in sheets:
            sheets[results].delete()
        state.visible = True  # Excel deletes no very hidden sheet
        state.delete()
        return out

    return _excel(run)


# -- the relationship map ---------------------------------------------------------------------

def _renderer() -> Callable[..., Any]:
    try:
        from xltools.checking.relmap import render_relmap_png
    except ImportError:
        raise LiveError("no_renderer") from None
    return render_relmap_png


def live_map(book, spec: Spec, settings, *, lang: str = "ja", now: datetime | None = None,
             render: Callable[..., Any] | None = None) -> tuple[FileReport, str | None]:
    """Redraw the relationship map in the open book from its current Contacts table:
    ``render(spec, plan, lang, now)`` (default ``xltools.workbook.relmap.render_relmap_png``)
    gives the PNG (bytes) or one PNG per page (a list); each page is the picture
    :data:`MAP_PICTURE` on the sheet :data:`MAP_SHEET` (made after the Contacts sheet
    when missing); the pictures already there (the generator's pages, or an earlier
    run's) are replaced in place, top to bottom, and the pages beyond the new map go.  Returns the check report of the book and the
    message, or None when the plan could not be read (the report says why)."""
    now = clock.resolve(now)
    render = render or _renderer()
    report = check_view(book, spec, settings, lang=lang, now=now)
    if report.plan is None:
        return report, None
    rows = report.plan.tables.get(T.CONTACTS)
    if rows is None:
        raise LiveError("no_contacts", table=T.CONTACTS)
    pages = render(spec, report.plan, lang, now)
    pages = [pages] if isinstance(pages, (bytes, bytearray)) else list(pages)

    def run() -> str:
        sheets = {s.name: s for s in book.sheets}
        ws = next((sheets[n] for n in MAP_SHEET.all() if n in sheets), None)
        if ws is None:
            contacts = next((t.parent for s in sheets.values() for t in s.tables if t.name == T.CONTACTS), None)
            ws = book.sheets.add(MAP_SHEET(lang), after=contacts) if contacts is not None else \
                book.sheets.add(MAP_SHEET(lang))
        # the map sheet is the map's own: its pictures (the generator's or an earlier run's)
        # are the old pages, replaced in place, top to bottom
        old = sorted(ws.pictures, key=lambda p: (p.top, p.left))
        top = 0.0
        with tempfile.TemporaryDirectory(prefix="xltools-map-") as tmp:
            for n, png in enumerate(pages, 1):
                path = os.path.join(tmp, f"map_{n}.png")
                with open(path, "wb") as fh:
                    fh.write(bytes(png))
                left = 0.0
                if n <= len(old):
                    left, top = old[n - 1].left, old[n - 1].top
                    old[n - 1].delete()
                pic = ws.pictures.add(path, name=MAP_PICTURE.format(n=n), left=left, top=top)
                top = pic.top + pic.height + _MAP_GAP
        for pic in old[len(pages):]:  # pages the map no longer has
            pic.delete()
        return message("map_done", lang, sheet=ws.name, pages=len(pages), rows=len(rows))

    return report, _excel(run)
