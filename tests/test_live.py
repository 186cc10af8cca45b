"""xltools live on Linux: an in-memory Excel built from real workbook files.

:class:`FakeXw` implements the part of xlwings' API that xltools.live uses -- only
names that xlwings documents (checked against the xlwings source: ``xw.books``,
``Book.sheets/names/name/fullname``, ``Sheets.add(name, before, after)``,
``Sheet.used_range/range/tables/pictures/visible/delete/activate/api``,
``Range.row/column/shape/options/value/formula/merge_area/color/note/font/
column_width/add_hyperlink/api``, ``Note.text/delete``, ``Name.name/refers_to``,
``Table.name/display_name/range/show_headers/show_totals/header_row_range/parent/api``,
``Pictures.add(image, name=, update=, left=, top=)``, ``Picture.name/top/height/delete``)
and the native calls of Excel's object model the module makes through ``.api``
(``Range.AddComment``, ``Worksheet.Visible``).  Anything else raises AttributeError.
Every call is logged, and Excel's own behaviour is imitated where it matters: a
value written as text is parsed the way Excel parses typing (``=`` makes a formula,
a number-like text a number) unless it has the ``'`` prefix.
"""
from __future__ import annotations

import sys
from datetime import date, datetime, time
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from test_check import NOW, SETTINGS, SPEC, TEXTS, check, edit, make_plan, name_cell, table_cell

from xltools import live
from xltools.cells import parse_a1, parse_range
from xltools.checking.annotate import FILLS
from xltools.checking.validate import ANNOTATION_SHEET
from xltools.cli import cli
from xltools.testing.folders import write_corpus
from xltools.workbook.reader import _PackageView, read_workbook
from xltools.workbook.safety import open_package
from xltools.workbook.view import MemoryView, WorkbookView
from xltools.workbook.xlwrite import write_value

# -- a fake Excel ------------------------------------------------------------------------------

class Log(list):
    def add(self, what: str) -> None:
        self.append(what)


def _xl_value(v):
    """openpyxl's value as xlwings gives it: numbers as float, dates as datetime."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, datetime):
        return v
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day)
    if isinstance(v, time):
        return datetime(1899, 12, 30, v.hour, v.minute, v.second)
    return v


def _typed(text):
    """What Excel stores when a value is written: '-prefixed text stays text."""
    if isinstance(text, str):
        if text.startswith("'"):
            return ("v", text[1:])
        if text.startswith("="):
            return ("f", text)
        try:
            return ("v", float(text))
        except ValueError:
            return ("v", text)
    return ("v", text)


class FakeNote:
    def __init__(self, sheet, pos):
        self._s, self._p = sheet, pos

    @property
    def text(self):
        self._s.log.add("Note.text")
        return self._s.notes[self._p]

    @text.setter
    def text(self, value):
        self._s.log.add("Note.text=")
        self._s.notes[self._p] = value

    def delete(self):
        self._s.log.add("Note.delete")
        del self._s.notes[self._p]


class FakeFont:
    def __init__(self, rng):
        self._r = rng

    @property
    def bold(self):
        return False

    @bold.setter
    def bold(self, value):
        self._r.sheet.log.add("Font.bold=")


class FakeRangeApi:
    def __init__(self, rng):
        self._r = rng

    def AddComment(self, text):  # noqa: N802 - Excel's object model
        s = self._r.sheet
        s.log.add("Range.api.AddComment")
        assert (self._r.r1, self._r.c1) not in s.notes, "AddComment on a cell that has a note fails in Excel"
        s.notes[(self._r.r1, self._r.c1)] = text


class FakeRange:
    def __init__(self, sheet, r1, c1, r2=None, c2=None, options=None):
        self.sheet, self.r1, self.c1 = sheet, r1, c1
        self.r2, self.c2 = (r1 if r2 is None else r2), (c1 if c2 is None else c2)
        self.opts = options or {}

    @property
    def row(self):
        return self.r1

    @property
    def column(self):
        return self.c1

    @property
    def shape(self):
        return (self.r2 - self.r1 + 1, self.c2 - self.c1 + 1)

    def options(self, **kw):
        self.sheet.log.add("Range.options(" + ",".join(f"{k}={v}" for k, v in sorted(kw.items())) + ")")
        return FakeRange(self.sheet, self.r1, self.c1, self.r2, self.c2, kw)

    def _shaped(self, rows):
        ndim = self.opts.get("ndim")
        if ndim == 2:
            return rows
        if len(rows) == 1 and len(rows[0]) == 1 and ndim is None:
            return rows[0][0]
        if len(rows) == 1:
            return rows[0]
        if all(len(r) == 1 for r in rows):
            return [r[0] for r in rows]
        return rows

    @property
    def value(self):
        self.sheet.log.add("Range.value")
        s = self.sheet
        rows = []
        for r in range(self.r1, self.r2 + 1):
            out = []
            for c in range(self.c1, self.c2 + 1):
                v = s.values.get((r, c))
                if (r, c) in s.errors:
                    v = s.errors[(r, c)] if self.opts.get("err_to_str") else None  # as xlwings does
                out.append(v)
            rows.append(out)
        return self._shaped(rows)

    @value.setter
    def value(self, data):
        s = self.sheet
        s.log.add("Range.value=")
        rows = data if isinstance(data, list) and data and isinstance(data[0], list) else [[data]]
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                pos = (self.r1 + i, self.c1 + j)
                s.values.pop(pos, None)
                s.formulas.pop(pos, None)
                if v is None:
                    continue
                kind, stored = _typed(v)
                (s.formulas if kind == "f" else s.values)[pos] = stored

    @property
    def formula(self):
        self.sheet.log.add("Range.formula")
        s = self.sheet
        rows = []
        for r in range(self.r1, self.r2 + 1):
            out = []
            for c in range(self.c1, self.c2 + 1):
                if (r, c) in s.formulas:
                    out.append(s.formulas[(r, c)])
                elif (r, c) in s.errors:
                    out.append(s.errors[(r, c)])
                else:
                    v = s.values.get((r, c))
                    out.append("" if v is None else (v if isinstance(v, str) else str(v)))
            rows.append(tuple(out))
        if len(rows) == 1 and len(rows[0]) == 1:
            return rows[0][0]
        return tuple(rows)

    @property
    def merge_area(self):
        self.sheet.log.add("Range.merge_area")
        for (r1, c1, r2, c2) in self.sheet.merged:
            if r1 <= self.r1 <= r2 and c1 <= self.c1 <= c2:
                return FakeRange(self.sheet, r1, c1, r2, c2)
        return FakeRange(self.sheet, self.r1, self.c1)

    @property
    def color(self):
        self.sheet.log.add("Range.color")
        return self.sheet.colors.get((self.r1, self.c1))

    @color.setter
    def color(self, value):
        self.sheet.log.add("Range.color=")
        assert value is None or (isinstance(value, tuple) and len(value) == 3)
        for r in range(self.r1, self.r2 + 1):
            for c in range(self.c1, self.c2 + 1):
                if value is None:
                    self.sheet.colors.pop((r, c), None)
                else:
                    self.sheet.colors[(r, c)] = value

    @property
    def note(self):
        self.sheet.log.add("Range.note")
        return FakeNote(self.sheet, (self.r1, self.c1)) if (self.r1, self.c1) in self.sheet.notes else None

    @property
    def api(self):
        self.sheet.log.add("Range.api")
        return FakeRangeApi(self)

    @property
    def font(self):
        return FakeFont(self)

    @property
    def column_width(self):
        return 8.43

    @column_width.setter
    def column_width(self, value):
        self.sheet.log.add("Range.column_width=")

    def add_hyperlink(self, address, text_to_display=None, screen_tip=None):
        self.sheet.log.add("Range.add_hyperlink")
        self.sheet.links[(self.r1, self.c1)] = address
        self.value = "'" + (text_to_display or address)


class FakeSheetApi:
    def __init__(self, sheet):
        self._s = sheet

    @property
    def Visible(self):  # noqa: N802
        return {"visible": -1, "hidden": 0, "veryHidden": 2}[self._s.state]

    @Visible.setter
    def Visible(self, value):  # noqa: N802
        self._s.log.add(f"Sheet.api.Visible={value}")
        self._s.state = {-1: "visible", 0: "hidden", 2: "veryHidden"}[value]


class FakeTable:
    def __init__(self, sheet, name, ref, header_rows, totals_rows, columns):
        self.sheet, self._name, self.ref = sheet, name, ref
        self.header_rows, self.totals_rows, self.columns = header_rows, totals_rows, columns

    @property
    def name(self):
        self.sheet.log.add("Table.name")
        return self._name

    @property
    def display_name(self):
        self.sheet.log.add("Table.display_name")
        return self._name

    @property
    def parent(self):
        return self.sheet

    @property
    def range(self):
        self.sheet.log.add("Table.range")
        return FakeRange(self.sheet, *parse_range(self.ref))

    @property
    def show_headers(self):
        self.sheet.log.add("Table.show_headers")
        return bool(self.header_rows)

    @property
    def show_totals(self):
        self.sheet.log.add("Table.show_totals")
        return bool(self.totals_rows)

    @property
    def header_row_range(self):
        self.sheet.log.add("Table.header_row_range")
        if not self.header_rows:
            return None
        top, left, _, right = parse_range(self.ref)
        return FakeRange(self.sheet, top, left, top, right)


class FakePicture:
    def __init__(self, pictures, name, path, left, top):
        self._p, self._name = pictures, name
        self.data = Path(path).read_bytes()
        self.left, self.top, self.height = left, top, 300.0

    @property
    def name(self):
        return self._name

    def delete(self):
        self._p.sheet.log.add("Picture.delete")
        del self._p.items[self._name]


class FakePictures:
    def __init__(self, sheet):
        self.sheet, self.items = sheet, {}

    def __iter__(self):
        return iter(list(self.items.values()))

    def add(self, image, name=None, update=False, left=None, top=None, **kw):
        self.sheet.log.add(f"Pictures.add(update={update})")
        if update and name in self.items:
            old = self.items[name]
            left, top = old.left, old.top
        pic = FakePicture(self, name, image, left or 0.0, top or 0.0)
        self.items[name] = pic
        return pic


class FakeSheet:
    def __init__(self, book, name, state="visible"):
        self.book, self._name, self.state = book, name, state
        self.values, self.formulas, self.errors = {}, {}, {}
        self.colors, self.notes, self.links = {}, {}, {}
        self.merged, self._tables = [], []
        self._pictures = FakePictures(self)

    @property
    def log(self):
        return self.book.log

    @property
    def name(self):
        self.log.add("Sheet.name")
        return self._name

    @property
    def visible(self):
        self.log.add("Sheet.visible")
        return self.state == "visible"

    @visible.setter
    def visible(self, value):
        self.log.add("Sheet.visible=")
        self.state = "visible" if value else "hidden"

    @property
    def api(self):
        self.log.add("Sheet.api")
        return FakeSheetApi(self)

    @property
    def used_range(self):
        self.log.add("Sheet.used_range")
        cells = set(self.values) | set(self.formulas) | set(self.errors)
        if not cells:
            return FakeRange(self, 1, 1)
        return FakeRange(self, min(r for r, _ in cells), min(c for _, c in cells),
                         max(r for r, _ in cells), max(c for _, c in cells))

    def range(self, first, second=None):
        self.log.add("Sheet.range")
        if isinstance(first, str):
            r1, c1, r2, c2 = parse_range(first)
            return FakeRange(self, r1, c1, r2, c2)
        if second is None:
            return FakeRange(self, *first)
        return FakeRange(self, first[0], first[1], second[0], second[1])

    @property
    def tables(self):
        self.log.add("Sheet.tables")
        return list(self._tables)

    @property
    def pictures(self):
        self.log.add("Sheet.pictures")
        return self._pictures

    def delete(self):
        self.log.add("Sheet.delete")
        assert self.state != "veryHidden", "Excel cannot delete a very hidden sheet"
        self.book._sheets.remove(self)

    def activate(self):
        self.log.add("Sheet.activate")
        self.book.active_sheet = self._name

    def state_dump(self):
        return (self._name, self.state, dict(self.values), dict(self.formulas), dict(self.errors),
                dict(self.colors), dict(self.notes))


class FakeSheets:
    def __init__(self, book):
        self.book = book

    def __iter__(self):
        self.book.log.add("Sheets.__iter__")
        return iter(list(self.book._sheets))

    def __len__(self):
        return len(self.book._sheets)

    def __getitem__(self, key):
        if isinstance(key, int):
            assert key >= 0, "xlwings' Sheets[int] counts from 0 (Excel's index - 1)"
            return self.book._sheets[key]
        return next(s for s in self.book._sheets if s._name == key)

    def add(self, name=None, before=None, after=None):
        self.book.log.add("Sheets.add")
        assert name not in [s._name for s in self.book._sheets], f"Excel refuses a second sheet {name}"
        sheet = FakeSheet(self.book, name)
        sheets = self.book._sheets
        if before is not None:
            sheets.insert(sheets.index(before), sheet)
        elif after is not None:
            sheets.insert(sheets.index(after) + 1, sheet)
        else:
            sheets.append(sheet)
        return sheet


class FakeName:
    def __init__(self, log, name, refers_to):
        self._log, self._name, self._refers = log, name, refers_to

    @property
    def name(self):
        self._log.add("Name.name")
        return self._name

    @property
    def refers_to(self):
        self._log.add("Name.refers_to")
        return self._refers


class FakeBook:
    def __init__(self, name):
        self._name, self.log, self._sheets, self._names = name, Log(), [], []
        self.active_sheet = None

    @property
    def name(self):
        self.log.add("Book.name")
        return self._name

    @property
    def fullname(self):
        return f"C:\\Users\\rep\\{self._name}"

    @property
    def sheets(self):
        self.log.add("Book.sheets")
        return FakeSheets(self)

    @property
    def names(self):
        self.log.add("Book.names")
        return list(self._names)

    def sheet(self, name):
        return next(s for s in self._sheets if s._name == name)

    def dump(self):
        return [s.state_dump() for s in self._sheets]

    @classmethod
    def from_file(cls, path: Path) -> "FakeBook":
        """The workbook as Excel would show it after opening the file."""
        wb = openpyxl.load_workbook(path)
        book = cls(path.name)
        for ws in wb.worksheets:
            sheet = FakeSheet(book, ws.title, ws.sheet_state)
            for row in ws.iter_rows():
                for cell in row:
                    v = cell.value
                    if v is None:
                        continue
                    pos = (cell.row, cell.column)
                    if cell.data_type == "f":
                        sheet.formulas[pos] = v if isinstance(v, str) else "=" + str(getattr(v, "text", v))
                    elif cell.data_type == "e":
                        sheet.errors[pos] = v
                    else:
                        sheet.values[pos] = _xl_value(v)
                    if cell.comment is not None:
                        sheet.notes[pos] = cell.comment.text
                    if cell.fill is not None and cell.fill.fill_type == "solid" and \
                            isinstance(cell.fill.fgColor.rgb, str):
                        rgb = cell.fill.fgColor.rgb[-6:]
                        sheet.colors[pos] = (int(rgb[0:2], 16), int(rgb[2:4], 16), int(rgb[4:6], 16))
            sheet.merged = [(m.min_row, m.min_col, m.max_row, m.max_col) for m in ws.merged_cells.ranges]
            for t in ws.tables.values():
                sheet._tables.append(FakeTable(sheet, t.displayName, t.ref,
                                               1 if t.headerRowCount is None else t.headerRowCount,
                                               t.totalsRowCount or 0, [c.name for c in t.tableColumns]))
            for n, dn in ws.defined_names.items():
                quoted = "'" + ws.title.replace("'", "''") + "'"
                book._names.append(FakeName(book.log, f"{quoted}!{n}", "=" + dn.attr_text))
            book._sheets.append(sheet)
        for n, dn in wb.defined_names.items():
            book._names.append(FakeName(book.log, n, "=" + dn.attr_text))
        return book


class FakeXw:
    """The xlwings module: ``xw.books`` (the active app's books)."""

    def __init__(self, *books):
        self.log = Log()
        self._books = list(books)

    @property
    def books(self):
        self.log.add("xw.books")
        outer = self

        class Books(list):
            @property
            def active(self):
                outer.log.add("xw.books.active")
                return outer._books[0]

        return Books(self._books)


# -- helpers -----------------------------------------------------------------------------------

def key(i):
    return (i.code, i.severity, i.sheet, i.cell, i.field, i.table, repr(i.raw),
            sorted((k, repr(v)) for k, v in (i.params or {}).items()))


def live_check(book, lang="ja"):
    return live.live_check(book, SPEC, SETTINGS, lang=lang, now=NOW, platform="win32")


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> list[Path]:
    """Realistic plans with many issues (typed amounts, aliases, deliberate mistakes)."""
    return write_corpus(tmp_path_factory.mktemp("live"), 4, seed=3, jobs=1, messy=0.6)


@pytest.fixture
def marked_plan(tmp_path) -> Path:
    """A plan with known problems: a bad amount, a text that looks like a formula, a
    typed error value, a note and a fill of the rep's on a problem cell, a stray value."""
    src = make_plan(tmp_path / "src.xlsx")
    wb = openpyxl.load_workbook(src)
    amount = table_cell(wb, "Opportunities", "amount", 1)
    stage = table_cell(wb, "Opportunities", "stage", 2)
    target = name_cell(wb, "sales_target")
    opp = table_cell(wb, "Opportunities", "opportunity", 3)
    dst = edit(src, tmp_path / "plan.xlsx", {amount: "たくさん", stage: "=cmd|' /C calc'!A0", opp: "#N/A"})
    wb = openpyxl.load_workbook(dst)
    wb[target[0]][target[1]] = "#N/A"  # openpyxl writes this one as the error value
    assert wb[target[0]][target[1]].data_type == "e"
    cell = wb[amount[0]][amount[1]]
    cell.comment = openpyxl.comments.Comment("rep's own note", "rep")
    cell.fill = openpyxl.styles.PatternFill(fill_type="solid", fgColor="FF00B050")
    wb[amount[0]]["Z200"] = "stray"
    wb.save(dst)
    return dst


# -- the reader core on views --------------------------------------------------------------------

def test_a_memory_snapshot_of_a_file_reads_exactly_as_the_file(messy):
    for p in messy:
        view = _PackageView(open_package(p))
        assert isinstance(view, WorkbookView)
        mem = MemoryView.of(view)
        assert read_workbook(mem, SPEC, static_texts=TEXTS) == read_workbook(p, SPEC, static_texts=TEXTS)


def test_the_xlwings_snapshot_reads_as_the_file(messy, marked_plan):
    for p in [*messy, marked_plan]:
        snap = live.snapshot(FakeBook.from_file(p))
        assert snap.name == p.name
        raw_live = read_workbook(snap, SPEC, static_texts=TEXTS)
        raw_file = read_workbook(p, SPEC, static_texts=TEXTS)
        raw_live.file = raw_file.file
        assert raw_live == raw_file


# Left out, as artefacts of building the fake with openpyxl: whitespace-only text (openpyxl
# writes it without xml:space="preserve", so the saved file holds an empty string while
# openpyxl reads the spaces back) and numbers outside Excel's dates (openpyxl reads such a
# number in a date cell as #VALUE!, Excel and python-calamine as the number).
_TYPED = st.one_of(
    st.text(min_size=1, max_size=12).filter(lambda t: t.strip() != ""),
    st.sampled_from(["=1+1", "=cmd|' /C calc'!A0", "#N/A", "0012", "1/2", " x ",
                                                       "１，２００万", "TBD", "令和8年4月1日", "30%"]),
    st.integers(0, 2_958_465), st.floats(0, 2_958_465, allow_nan=False), st.booleans(),
    st.dates(date(1990, 1, 1), date(2040, 12, 31)),
    st.datetimes(datetime(1990, 1, 1), datetime(2040, 12, 31)).map(lambda d: d.replace(microsecond=0)),
    st.sampled_from([("error", "#N/A"), ("error", "#DIV/0!"), ("error", "#REF!")]))


@pytest.fixture(scope="module")
def blank_and_cells(tmp_path_factory):
    p = make_plan(tmp_path_factory.mktemp("prop") / "plan.xlsx")
    wb = openpyxl.load_workbook(p)
    cells = [name_cell(wb, k) for k in ("sales_target", "account_id", "industry", "org_updated")]
    cells += [table_cell(wb, t, c, n) for t, c in (("Opportunities", "amount"), ("Opportunities", "stage"),
                                                  ("Opportunities", "expected_close"), ("Contacts", "name"),
                                                  ("Contacts", "last_contact"), ("Opportunities", "weighted"))
              for n in (1, 2, 40)]
    return p, cells


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # each example saves a workbook: no slow shrinking
@given(data=st.data())
def test_whatever_the_rep_types_live_and_saved_read_alike(blank_and_cells, tmp_path, data):
    src, cells = blank_and_cells
    edits = data.draw(st.dictionaries(st.sampled_from(cells), _TYPED, min_size=1, max_size=8))
    wb = openpyxl.load_workbook(src)
    for (sheet, ref), v in edits.items():
        cell = wb[sheet][ref]
        if isinstance(v, tuple):
            cell.value = v[1]  # an error value
        elif isinstance(v, str):
            write_value(cell, v)  # typed text stays text
        else:
            cell.value = v
    p = tmp_path / f"typed_{abs(hash(tuple(edits))) % 10**8}.xlsx"
    wb.save(p)
    snap = live.snapshot(FakeBook.from_file(p))
    raw_live, raw_file = read_workbook(snap, SPEC, static_texts=TEXTS), read_workbook(p, SPEC, static_texts=TEXTS)
    raw_live.file = raw_file.file
    assert raw_live == raw_file
    assert [key(i) for i in live.check_view(FakeBook.from_file(p), SPEC, SETTINGS, now=NOW).issues] == \
        [key(i) for i in check(p).issues]


# -- live check: the same issues as xltools check, marked in place ------------------------------

def test_live_check_gives_the_issues_of_check_on_the_saved_file(messy, marked_plan):
    for p in [*messy, marked_plan]:
        book = FakeBook.from_file(p)
        result = live_check(book)
        on_disk = check(p)
        assert result.report.file == p.name
        assert [key(i) for i in result.report.issues] == [key(i) for i in on_disk.issues]
        assert len(on_disk.issues) > 3  # plans with problems, not a vacuous comparison
        assert result.report.valid == on_disk.valid


def test_marks_are_at_the_problem_cells_and_clear_restores_everything(marked_plan):
    book = FakeBook.from_file(marked_plan)
    before = book.dump()
    result = live_check(book)
    issues = [i for i in result.report.issues if i.sheet and i.cell]
    wb = openpyxl.load_workbook(marked_plan)
    at = {name: table_cell(wb, "Opportunities", col, n) for name, col, n in
          (("amount", "amount", 1), ("stage", "stage", 2), ("opp", "opportunity", 3))}
    at["target"] = name_cell(wb, "sales_target")
    codes = {(i.sheet, i.cell): i.code for i in issues}
    assert codes[at["target"]] == "E-ERROR-VALUE"  # the error value, not the text "#N/A"
    assert at["opp"] not in codes  # the text "#N/A" is an opportunity's name
    assert at["amount"] in codes and at["stage"] in codes
    assert codes[(at["amount"][0], "Z200")] == "W-STRAY-VALUE"
    by_cell = {}
    for i in issues:
        by_cell.setdefault((i.sheet, i.cell), []).append(i)
    for (sheet, cell), found in by_cell.items():
        s = book.sheet(sheet)
        pos = parse_a1(cell)
        worst = min(found, key=lambda i: ["error", "warning", "info"].index(i.severity)).severity
        rgb = FILLS[worst]
        assert s.colors[pos] == (int(rgb[:2], 16), int(rgb[2:4], 16), int(rgb[4:], 16)), (sheet, cell)
        for i in found:
            assert f"[{i.code}] {i.message('ja')}" in s.notes[pos]
    assert sorted(result.marked_cells) == sorted(f"{s}!{c}" for s, c in by_cell)
    # the rep's own note is kept above the issues
    amount = at["amount"]
    assert book.sheet(amount[0]).notes[parse_a1(amount[1])].startswith("rep's own note\n---\n[")
    # the results sheet: first, active, one row per issue, links to the cells, text stays text
    results = book._sheets[0]
    assert results._name == ANNOTATION_SHEET("ja") and book.active_sheet == results._name
    assert not results.formulas
    assert len([r for (r, c) in results.values if c == 1 and r > 4]) == len(result.report.issues)
    linked = {addr for addr in results.links.values()}
    assert linked == {f"#'{s}'!{c}" for s, c in {(i.sheet, i.cell) for i in issues}}
    assert "=cmd|' /C calc'!A0" in results.values.values()
    # the state sheet is very hidden; what was replaced is in it
    state = book.sheet(live.STATE_SHEET)
    assert state.state == "veryHidden" and not state.formulas
    # the workbook is never saved
    assert not any("save" in c.lower() for c in book.log)
    cleared = live.clear(book, platform="win32")
    assert sorted(cleared.restored) == sorted(result.marked_cells) and not cleared.kept
    assert book.dump() == before


def test_clear_works_in_a_later_session_and_leaves_what_the_rep_changed(marked_plan, tmp_path):
    book = FakeBook.from_file(marked_plan)
    before = book.dump()
    result = live_check(book)
    # a later session: Excel reopened the saved book -- only what is in the cells is left
    later = FakeBook(book._name)
    later._sheets = book._sheets
    for s in later._sheets:
        s.book = later
    changed_sheet, changed_cell = result.marked_cells[0].rsplit("!", 1)
    s = later.sheet(changed_sheet)
    s.colors[parse_a1(changed_cell)] = (1, 2, 3)  # the rep recoloured one marked cell
    cleared = live.clear(later, platform="win32")
    assert cleared.kept == [result.marked_cells[0]]
    assert len(cleared.restored) == len(result.marked_cells) - 1
    after = later.dump()
    assert [d[0] for d in after] == [d[0] for d in before]
    assert s.colors[parse_a1(changed_cell)] == (1, 2, 3)
    assert live.clear(later, platform="win32").found is False  # nothing left to clear


def test_checking_twice_marks_once(marked_plan):
    book = FakeBook.from_file(marked_plan)
    before = book.dump()
    first = live_check(book)
    second = live_check(book)
    assert [key(i) for i in first.report.issues] == [key(i) for i in second.report.issues]
    assert [s._name for s in book._sheets].count(ANNOTATION_SHEET("ja")) == 1
    live.clear(book, platform="win32")
    assert book.dump() == before


def test_a_results_sheet_name_taken_by_the_rep_is_refused_not_replaced(marked_plan):
    book = FakeBook.from_file(marked_plan)
    book.sheets.add(ANNOTATION_SHEET("en"))
    with pytest.raises(live.LiveError) as e:
        live_check(book, lang="en")
    assert "Issues" in str(e.value) and "指摘一覧" not in [s._name for s in book._sheets]
    assert live.STATE_SHEET not in [s._name for s in book._sheets]


def test_a_problem_in_a_merged_area_is_marked_on_its_top_left_cell(marked_plan):
    book = FakeBook.from_file(marked_plan)
    sheet = next(s for s in book._sheets if (200, 26) in s.values)
    sheet.values[(200, 27)] = sheet.values.pop((200, 26))  # the stray value in AA200 ...
    sheet.merged.append((200, 26, 201, 28))  # ... which Excel shows merged into Z200:AB201
    result = live_check(book)
    assert any(i.cell == "AA200" and i.code == "W-STRAY-VALUE" for i in result.report.issues)
    assert (200, 26) in sheet.colors and (200, 27) not in sheet.colors and (200, 26) in sheet.notes
    assert f"{sheet._name}!Z200" in result.marked_cells


# -- how xlwings is called -------------------------------------------------------------------------

#: what xltools.live may call: xlwings' documented API, and Excel's object model through .api
DOCUMENTED = {
    "xw.books", "xw.books.active", "Book.name", "Book.sheets", "Book.names", "Sheets.__iter__", "Sheets.add",
    "Sheet.name", "Sheet.visible", "Sheet.visible=", "Sheet.used_range", "Sheet.range", "Sheet.tables",
    "Sheet.pictures", "Sheet.delete", "Sheet.activate", "Sheet.api", "Sheet.api.Visible=2",
    "Range.options(err_to_str=True,ndim=2)", "Range.options(ndim=2)", "Range.options(ndim=1)", "Range.value",
    "Range.value=", "Range.formula", "Range.merge_area", "Range.color", "Range.color=", "Range.note",
    "Range.api", "Range.api.AddComment", "Range.column_width=", "Range.add_hyperlink", "Font.bold=",
    "Note.text", "Note.text=", "Note.delete", "Name.name", "Name.refers_to", "Table.name",
    "Table.display_name", "Table.range", "Table.show_headers", "Table.show_totals", "Table.header_row_range",
    "Pictures.add(update=False)", "Picture.delete",
}


def test_the_adapter_calls_xlwings_as_documented(marked_plan):
    book = FakeBook.from_file(marked_plan)
    xw = FakeXw(book)
    wb = live.connect(xw=xw)
    assert wb is book and xw.log == ["xw.books", "xw.books.active"]
    live_check(wb)
    live.clear(wb, platform="win32")
    assert set(book.log) <= DOCUMENTED, set(book.log) - DOCUMENTED
    log = book.log
    # every sheet is read in one call for its values (errors as text) and one for formulas
    n_sheets = len(openpyxl.load_workbook(marked_plan).worksheets)
    assert log.count("Range.options(err_to_str=True,ndim=2)") == n_sheets
    assert log.count("Range.formula") == n_sheets
    assert "Book.names" in log and "Name.refers_to" in log and "Table.header_row_range" in log
    # new notes through Excel's Range.AddComment, the rep's note edited through Note.text
    assert "Range.api.AddComment" in log and "Note.text=" in log
    assert "Sheet.api.Visible=2" in log  # xlSheetVeryHidden
    # the book is read completely before the first mark is made
    first_write = min(i for i, c in enumerate(log) if c.endswith("=") or c in ("Sheets.add", "Range.api.AddComment"))
    reads = [i for i, c in enumerate(log) if c in ("Range.formula", "Name.refers_to", "Table.range")]
    assert reads and max(reads) < first_write


def test_connect_finds_a_book_by_name_and_says_which_books_are_open(marked_plan):
    a, b = FakeBook("a.xlsx"), FakeBook.from_file(marked_plan)
    xw = FakeXw(a, b)
    assert live.connect("plan", xw=xw) is b and live.connect("PLAN.XLSX", xw=xw) is b
    with pytest.raises(live.LiveUnavailable) as e:
        live.connect("other.xlsx", xw=xw)
    assert e.value.exit_code == 2 and "a.xlsx, plan.xlsx" in str(e.value) and "開かれていません" in str(e.value)
    with pytest.raises(live.LiveUnavailable) as e:
        live.connect(xw=FakeXw())
    assert "No workbook is open" in str(e.value)


def test_a_used_range_beyond_the_limits_is_one_file_level_issue(marked_plan):
    book = FakeBook.from_file(marked_plan)
    book._sheets[1].values[(1_048_576, 16_384)] = "far"
    report = live.check_view(book, SPEC, SETTINGS, now=NOW)
    assert [i.code for i in report.issues] == ["E-SHEET-TOO-LARGE"]
    assert "XFD1048576" in report.issues[0].message("en")


# -- live map ----------------------------------------------------------------------------------

def test_live_map_redraws_the_pictures_from_the_current_contacts(marked_plan):
    book = FakeBook.from_file(marked_plan)
    seen = []

    def fake_render(spec, plan, lang, now):
        seen.append([r.values.get("name") for r in plan.tables["Contacts"]])
        return [b"\x89PNG page1", b"\x89PNG page2"] if len(seen) == 1 else b"\x89PNG only"

    report, done = live.live_map(book, SPEC, SETTINGS, lang="ja", now=NOW, render=fake_render)
    assert done is not None and "2 枚" in done
    names = [s._name for s in book._sheets]
    contacts_sheet = next(s._name for s in book._sheets for t in s._tables if t._name == "Contacts")
    assert names.index("関係図") == names.index(contacts_sheet) + 1
    pics = book.sheet("関係図")._pictures.items
    assert [p.data for p in pics.values()] == [b"\x89PNG page1", b"\x89PNG page2"]
    assert pics["xltools_relmap_2"].top > pics["xltools_relmap_1"].top
    assert seen[0] and all(seen[0])
    # the rep renames a contact; the map is redrawn in place, the second page goes
    s, ref = table_cell(openpyxl.load_workbook(marked_plan), "Contacts", "name", 1)
    book.sheet(s).values[parse_a1(ref)] = "新しい名前"
    _, done = live.live_map(book, SPEC, SETTINGS, lang="ja", now=NOW, render=fake_render)
    assert seen[1][0] == "新しい名前"
    assert list(pics) == ["xltools_relmap_1"] and pics["xltools_relmap_1"].data == b"\x89PNG only"
    assert set(book.log) <= DOCUMENTED


def test_live_map_replaces_the_generators_pictures_in_place(marked_plan):
    book = FakeBook.from_file(marked_plan)
    sheet = book.sheets.add("関係図")
    for n, top in ((1, 10.0), (2, 420.0), (3, 830.0)):  # the generator's pages: Excel's default names
        img = Path(marked_plan).with_name(f"old{n}.png")
        img.write_bytes(b"old")
        sheet._pictures.add(str(img), name=f"Picture {n}", left=5.0, top=top)
    _, done = live.live_map(book, SPEC, SETTINGS, lang="en", now=NOW, render=lambda *a: [b"new1", b"new2"])
    assert "2 page(s)" in done
    pics = sheet._pictures.items
    assert sorted(pics) == ["xltools_relmap_1", "xltools_relmap_2"]
    assert [(p.left, p.top, p.data) for p in pics.values()] == [(5.0, 10.0, b"new1"), (5.0, 420.0, b"new2")]


# -- without Excel ---------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["check", "clear", "map"])
def test_live_commands_exit_2_with_a_bilingual_message_on_linux(command, monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    r = CliRunner().invoke(cli, ["live", command])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "pip install 'xltools[excel]'" in r.output and "Windows または macOS" in r.output
    assert "on Windows or macOS" in r.output
    r = CliRunner().invoke(cli, ["live", command, "--format", "json"] if command != "map" else ["live", command])
    assert r.exit_code == 2


def test_live_without_xlwings_on_windows_says_how_to_install(monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "xlwings", None)  # import fails
    r = CliRunner().invoke(cli, ["live", "check", "--format", "json"])
    assert r.exit_code == 2
    import json

    err = json.loads(r.output)["error"]
    assert err["code"] == "live-unavailable" and "xlwings" in err["message"] and "インストール" in err["message"]


def test_the_cli_never_imports_xltools_live_outside_the_live_commands():
    import subprocess

    code = ("import sys; from xltools.cli import cli; from click.testing import CliRunner; "
            "CliRunner().invoke(cli, ['--help']); CliRunner().invoke(cli, ['spec']); "
            "print('xltools.live' in sys.modules, 'xlwings' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
