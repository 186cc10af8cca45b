"""Read a filled account-plan workbook into a :class:`~xltools.spec.model.RawPlan`.

The workbook is addressed only through its contract, never by sheet name or cell
position (reps rename sheets, move columns, insert rows, move tables):

* the hidden sheet ``_meta`` (key/value pairs in columns A/B) says which template
  and version the file is; anything else is refused as a :class:`FileProblem`
  (``E-NOT-A-PLAN``, ``E-TEMPLATE-VERSION``);
* every single-value field is the workbook-scoped defined name equal to its key;
* every list section is the Excel table (ListObject) with the spec's name; its
  columns are found by header label in either language (NFKC, spaces and case
  ignored), in any order.

Values come from python-calamine (cell values as typed: ``str``, ``float``,
``int``, ``bool``, ``datetime``/``date``/``time``; empty cells are ``None``).
Defined names, sheets and tables come from the package XML (parsed once
:mod:`xltools.workbook.safety` has checked every part: no DTD, no entity).  Which cells hold formulas is
found by scanning each worksheet's XML for ``<f>`` elements: formula fields and
formula columns never carry a value in the RawPlan (derived figures are
recomputed; cached results are never trusted), and a formula field or column
whose cell holds a plain value instead is listed in ``RawPlan.overwritten``.

Nothing is lost: every other non-empty cell of every sheet (except ``_meta`` and
the generator's hidden helper sheets) that is not a field cell, inside a table,
a formula or one of the generator's own texts (``static_texts``) is listed in
``RawPlan.stray``; rows typed directly under a table that did not expand are read
as rows with ``below_table=True``.

The reader core (``_Reader``) reads a neutral :class:`~xltools.workbook.view.WorkbookView`
(sheets -> cells, names, tables); a file is one adapter of it (``_PackageView``:
everything above), a workbook open in Excel another (:mod:`xltools.live`).
"""
from __future__ import annotations

import bisect
import functools
import io
import os
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable

from xltools.cells import a1, col_letter, parse_range
from xltools.spec.model import RawCell, RawPlan, RawRow, RawTable
from xltools.spec.spec import Spec, Table
from xltools.workbook.cellscan import ATTR_T, formula_cells, patterns
from xltools.workbook.safety import (
    REL_TABLE,
    FileProblem,
    Limits,
    Package,
    SheetPart,
    attr,
    file_problem,
    local,
    open_package,
)
from xltools.workbook.sheetscan import valid_range
from xltools.workbook.view import NameRef, SheetView, TableRef, WorkbookView

__all__ = ["FileProblem", "Limits", "read_workbook", "spec_texts", "header_key",
           "formula_cells"]

META_SHEET = "_meta"
TEMPLATE_KEY = "template"
VERSION_KEY = "template_version"


# -- header labels ------------------------------------------------------------------------

def header_key(text: Any) -> str:
    """Comparison key of a header label: NFKC, no whitespace, case-folded."""
    return _header_key(text if isinstance(text, str) else str(text))


@functools.lru_cache(maxsize=4096)
def _header_key(text: str) -> str:
    # every plan has the same labels and headers: each is normalised once
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


def spec_texts(spec: Spec) -> set[str]:
    """Every sheet name, title, label and help text of the spec, in both languages.

    The default ``static_texts`` when the caller has none: pass
    ``xltools.workbook.generate.static_texts(spec, settings, lang)`` for the generator's
    complete set (guide texts, legends).  Choice labels are not in it: the workbook
    shows them only inside fields and tables, and a rep types them anywhere."""
    out: set[str] = set()
    for s in spec.sections:
        out.update(s.label.all() + s.title.all())
        for g in s.groups:
            out.update(g.title.all())
        for t in s.tables:
            out.update(t.label.all())
    for f in spec.iter_all_fields():
        out.update(f.label.all())
        if f.help:
            out.update(f.help.all())
    return out


# -- the workbook structure (package XML) --------------------------------------------------

@dataclass
class _Name:
    sheet: str
    row: int
    col: int


#: a table as the package defines it: the view's table record
_TableDef = TableRef


def split_ref(text: str) -> tuple[str, str] | None:
    """``'Sheet ''x'''!$C$5`` -> ``("Sheet 'x'", "$C$5")``; None when it is not a sheet
    reference.  A name over several areas gives its first area."""
    text = text.strip().lstrip("=")
    if text.startswith("'"):
        i, buf = 1, []
        while i < len(text):
            if text[i] == "'":
                if text[i + 1:i + 2] != "'":
                    break
                i += 1
            buf.append(text[i])
            i += 1
        sheet, rest = "".join(buf), text[i + 1:]
    else:
        sheet, bang, cell = text.partition("!")
        rest = bang + cell
    if not sheet or not rest.startswith("!"):
        return None
    return sheet, rest[1:].split(",", 1)[0]


def _defined_names(pkg: Package, sheet_names: list[str]) -> dict[str, _Name]:
    """Lower-cased name -> first cell.  Workbook-scoped names win over sheet-scoped ones."""
    wb_scoped: dict[str, _Name] = {}
    sheet_scoped: dict[str, _Name] = {}
    by_lower = {n.casefold(): n for n in sheet_names}
    for el in pkg.workbook.iter():
        if local(el.tag) != "definedName":
            continue
        name = (attr(el, "name") or "").casefold()
        if not name or name.startswith("_xlnm."):
            continue
        split = split_ref(el.text or "")
        if split is None:
            continue
        sheet, cell = split
        sheet = by_lower.get(sheet.casefold())
        if sheet is None:
            continue
        try:
            r1, c1, _, _ = parse_range(cell)
        except ValueError:
            continue  # #REF! and the like
        target = sheet_scoped if attr(el, "localSheetId") is not None else wb_scoped
        target.setdefault(name, _Name(sheet, r1, c1))
    return {**sheet_scoped, **wb_scoped}


def _table_defs(pkg: Package) -> dict[str, _TableDef]:
    """Case-folded table name -> definition, for the tables of every worksheet."""
    out: dict[str, _TableDef] = {}
    for sheet in pkg.sheets:
        if sheet.part is None:
            continue
        for _, kind, target in pkg.rels(sheet.part):
            if kind != REL_TABLE or target not in pkg.parts:
                continue
            t = _table_part(pkg, target)
            tdef = _TableDef(name=t.display_name, sheet=sheet.name, ref=t.ref, top=t.top, left=t.left,
                             bottom=t.bottom, right=t.right, header_rows=t.header_rows,
                             totals_rows=t.totals_rows, column_names=list(t.column_names))
            for alias in {tdef.name, t.name}:
                if alias:
                    out.setdefault(alias.casefold(), tdef)
    return out


@dataclass(frozen=True)
class _TablePart:
    """What a table part says (``name``: its ``name`` attribute, ``display_name`` the name
    the reader goes by)."""

    name: str
    display_name: str
    ref: str
    top: int
    left: int
    bottom: int
    right: int
    header_rows: int
    totals_rows: int
    column_names: tuple[str, ...]


_TABLES_SEEN: dict[tuple[str, bytes], _TablePart] = {}


def _table_part(pkg: Package, target: str) -> _TablePart:
    """A table part, read once for every workbook that holds it as it is."""
    key = (target, pkg.parts[target])
    found = _TABLES_SEEN.get(key)
    if found is not None:
        return found
    el = pkg.xml(target)
    ref = attr(el, "ref") or ""
    if not valid_range(ref):
        raise file_problem("E-FILE-UNREADABLE", f"{target}: table range {ref[:40]!r} is not in Excel's grid",
                       f"{target}：テーブルの範囲 {ref[:40]!r} が Excel のシートの範囲外です")
    top, left, bottom, right = parse_range(ref)
    names = tuple(attr(c, "name") or "" for c in el.iter() if local(c.tag) == "tableColumn")
    name = attr(el, "name") or ""
    found = _TablePart(name=name, display_name=attr(el, "displayName") or name, ref=ref, top=top, left=left,
                       bottom=bottom, right=right, header_rows=_int(attr(el, "headerRowCount"), 1),
                       totals_rows=_int(attr(el, "totalsRowCount"), 0), column_names=names)
    if len(_TABLES_SEEN) >= 256:
        _TABLES_SEEN.clear()
    _TABLES_SEEN[key] = found
    return found


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


# -- cell values (python-calamine) ----------------------------------------------------------

Grid = dict[tuple[int, int], Any]


def _calamine(call, where: str = ""):
    """Run a python-calamine call; any failure (a Rust panic included) is a FileProblem."""
    from python_calamine import CalamineError, PasswordError

    prefix = f"{where}: " if where else ""
    try:
        return call()
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except PasswordError as e:
        raise file_problem("E-FILE-ENCRYPTED", str(e), str(e)) from None
    except BaseException as e:  # CalamineError, XmlError, ZipError, pyo3's PanicException, ...
        kind = "" if isinstance(e, CalamineError) and str(e) else f"{type(e).__name__}: "
        raise file_problem("E-FILE-UNREADABLE", f"{prefix}{kind}{e}", f"{prefix}{kind}{e}") from None


def _open_calamine(data: bytes):
    from python_calamine import CalamineWorkbook

    return _calamine(lambda: CalamineWorkbook.from_filelike(io.BytesIO(data), load_tables=False))


_NUMFMTS = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?numFmts\b(?:[^>]*/>|.*?</(?:[A-Za-z_][\w.-]*:)?numFmts\s*>)", re.S)
_NUMFMT_ID = re.compile(rb'\bnumFmtId\s*=\s*"\d+"')


_DATE_BUILTIN_FORMATS = set(range(14, 23)) | set(range(27, 37)) | {45, 46, 47} | set(range(50, 59))
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\\.|_.|\*.|\[(?![hms]+\])[^\]]*\]', re.IGNORECASE)
_ATTR_S = re.compile(rb'\ss\s*=\s*"(\d+)"')


def _date_styles(pkg: Package) -> set[int]:
    """Indices of the cell formats (cellXfs) whose number format may be a date or time:
    a superset of what python-calamine converts to dates."""
    styles = [t for _, kind, t in pkg.rels(pkg.workbook_part) if kind == "styles" and t in pkg.parts]
    if not styles:
        return set()
    data = pkg.parts[styles[0]]
    known = _DATE_STYLES_SEEN.get(data)
    if known is None:
        # workbooks made from one template share their styles part: parse each once
        if len(_DATE_STYLES_SEEN) >= 64:
            _DATE_STYLES_SEEN.clear()
        known = _DATE_STYLES_SEEN[data] = frozenset(_parse_date_styles(pkg.xml(styles[0])))
    return set(known)


_DATE_STYLES_SEEN: dict[bytes, frozenset[int]] = {}
_NAMES_SEEN: dict[tuple[bytes, tuple[str, ...]], dict[str, NameRef]] = {}


def _parse_date_styles(root) -> set[int]:
    codes = {_int(attr(el, "numFmtId"), -1): attr(el, "formatCode") or ""
             for el in root.iter() if local(el.tag) == "numFmt"}
    out: set[int] = set()
    for xfs in root.iter():
        if local(xfs.tag) != "cellXfs":
            continue
        for i, xf in enumerate(x for x in xfs if local(x.tag) == "xf"):
            fid = _int(attr(xf, "numFmtId"), 0)
            code = _FORMAT_LITERALS.sub("", codes.get(fid, "")).lower()
            if fid in _DATE_BUILTIN_FORMATS or any(ch in code for ch in "dmhys"):
                out.add(i)
    return out


def _impossible_dates(xml: bytes, date_styles: set[int]) -> bool:
    """Whether a date-formatted cell holds a negative number, which is no date:
    python-calamine turns it into 00:00 (losing it) or panics (a large one)."""
    if not date_styles:
        return False
    pat = patterns(xml)
    if not pat.negative_v.search(xml):
        return False
    for m in pat.value_cell.finditer(xml):
        attrs = m.group(1)
        s = _ATTR_S.search(attrs)
        if not s or int(s.group(1)) not in date_styles:
            continue
        t = ATTR_T.search(attrs)
        if t and t.group(1) != b"n":
            continue
        v = pat.v.search(m.group(2))
        try:
            number = float(v.group(1)) if v else None
        except ValueError:
            continue
        if number is not None and number < 0:
            return True
    return False


def _without_number_formats(pkg: Package) -> bytes:
    """The workbook's XML parts with every number format set to General.

    python-calamine turns a number in a date-formatted cell into a date and panics when
    the number is far outside the date range (a rep typing 99999999999 into a date
    column); on this copy it returns the plain numbers (dates as Excel serials, which
    the normaliser reads) instead of failing the whole file."""
    styles = {target for _, kind, target in pkg.rels(pkg.workbook_part) if kind == "styles"}
    return pkg.reader_data({name: _NUMFMT_ID.sub(b'numFmtId="0"', _NUMFMTS.sub(b"", pkg.parts[name]))
                            for name in styles if name in pkg.parts})


def _grid(wb, name: str) -> Grid:
    """Non-empty cells of a sheet: (row, col) 1-based -> value."""
    sheet = _calamine(lambda: wb.get_sheet_by_name(name), name)
    start = sheet.start
    if start is None:
        return {}
    rows = _calamine(lambda: sheet.to_python(skip_empty_area=True), name)
    r0, c0 = start[0] + 1, start[1] + 1
    grid: Grid = {}
    for i, values in enumerate(rows):
        if values.count("") == len(values):  # C speed for the blank rows of a sparse sheet
            continue
        for j, v in enumerate(values):
            if v is not None and v != "":
                grid[(r0 + i, c0 + j)] = v
    return grid


def _meta_value(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v).strip()


def _read_meta(grid: Grid) -> dict[str, str]:
    meta: dict[str, str] = {}
    for (r, c), v in sorted(grid.items()):
        if c != 1 or not isinstance(v, str) or not v.strip():
            continue
        value = grid.get((r, 2))
        meta.setdefault(v.strip(), "" if value is None else _meta_value(value))
    return meta


def _same_version(a: str, b: str) -> bool:
    a, b = a.strip(), b.strip()
    if a == b:
        return True
    try:
        return float(a) == float(b)
    except ValueError:
        return False


def _check_meta(meta: dict[str, str] | None, spec: Spec) -> None:
    if meta is None:
        raise file_problem("E-NOT-A-PLAN", f"no {META_SHEET} sheet", f"{META_SHEET} シートがありません")
    template = meta.get(TEMPLATE_KEY, "")
    if template != spec.template:
        shown = template or "-"
        raise file_problem("E-NOT-A-PLAN", f"{META_SHEET}.{TEMPLATE_KEY} = {shown}",
                       f"{META_SHEET}.{TEMPLATE_KEY} = {shown}", value=template or None)
    version = meta.get(VERSION_KEY, "")
    supported = supported_versions(spec)
    if not any(_same_version(version, v) for v in supported):
        shown = ", ".join(supported)
        raise file_problem("E-TEMPLATE-VERSION", shown, shown, value=version or "-")


def supported_versions(spec: Spec) -> tuple[str, ...]:
    """Template versions this build reads (the spec's own; no older layout exists yet)."""
    return (spec.version,)


# -- the reader -------------------------------------------------------------------------------

@dataclass
class _Sheet:
    name: str
    state: str  # visible | hidden | veryHidden
    grid: Grid
    formulas: set[tuple[int, int]]
    consumed: set[tuple[int, int]] = field(default_factory=set)  # fields, below-table cells
    tables: list[TableRef] = field(default_factory=list)
    _rows: list[int] | None = None
    _cols: dict[int, list[int]] | None = None

    @classmethod
    def of(cls, sv: SheetView) -> "_Sheet":
        return cls(sv.name, sv.state, sv.grid, sv.formulas)

    def rows_between(self, top: int, bottom: int) -> list[int]:
        """Row numbers from ``top`` to ``bottom`` that hold a cell: a table is read by the
        cells that exist, whatever its ``ref`` claims."""
        if self._rows is None:
            self._rows = sorted({r for r, _ in self.grid} | {r for r, _ in self.formulas})
        return self._rows[bisect.bisect_left(self._rows, top):bisect.bisect_right(self._rows, bottom)]

    def cols_between(self, row: int, left: int, right: int) -> list[int]:
        """Columns from ``left`` to ``right`` of ``row`` that hold a value."""
        if self._cols is None:
            self._cols = {}
            for r, c in sorted(self.grid):
                self._cols.setdefault(r, []).append(c)
        cols = self._cols.get(row, [])
        return cols[bisect.bisect_left(cols, left):bisect.bisect_right(cols, right)]

    def value(self, r: int, c: int) -> Any:
        return self.grid.get((r, c))

    def raw(self, r: int, c: int, value: Any = None) -> RawCell:
        return RawCell(sheet=self.name, cell=a1(r, c), value=value)


class _PackageView:
    """A checked workbook file as a :class:`~xltools.workbook.view.WorkbookView`: values from
    python-calamine, formula cells, names and tables from the package XML."""

    def __init__(self, pkg: Package):
        self.pkg = pkg
        self.wb = _open_calamine(pkg.reader_data())
        self.plain_wb = None  # opened on demand, see _without_number_formats
        self.date_styles = _date_styles(pkg)

    def __str__(self) -> str:
        return self.pkg.path

    def plain(self):
        if self.plain_wb is None:
            self.plain_wb = _open_calamine(_without_number_formats(self.pkg))
        return self.plain_wb

    def grid(self, sp: SheetPart) -> Grid:
        """A sheet's values; a sheet with impossible dates (or that python-calamine fails
        on) is read without number formats: its dates come back as Excel serials.  The
        cells the safety checks decoded themselves (far-away cells, error values) are
        added."""
        xml = self.pkg.reader_parts.get(sp.part) or self.pkg.parts.get(sp.part, b"")
        if _impossible_dates(xml, self.date_styles):
            grid = _grid(self.plain(), sp.name)
        else:
            try:
                grid = _grid(self.wb, sp.name)
            except FileProblem:
                grid = _grid(self.plain(), sp.name)
        grid.update(self.pkg.cells.get(sp.part, {}))
        return grid

    def sheets(self) -> Iterable[SheetView]:
        for sp in self.pkg.sheets:
            if sp.part is None:
                continue
            grid = self.grid(sp)
            formulas = self.pkg.formulas.get(sp.part)
            if formulas is None:
                formulas = formula_cells(self.pkg.parts.get(sp.part, b""))
            yield SheetView(sp.name, sp.state, grid, formulas)

    def defined_names(self, sheet_names: list[str]) -> dict[str, NameRef]:
        # plans made from one template share their names: the workbook part is read once
        key = (self.pkg.parts.get(self.pkg.workbook_part, b""), tuple(sheet_names))
        names = _NAMES_SEEN.get(key)
        if names is None:
            if len(_NAMES_SEEN) >= 64:
                _NAMES_SEEN.clear()
            names = _NAMES_SEEN[key] = {k: NameRef(n.sheet, n.row, n.col)
                                        for k, n in _defined_names(self.pkg, sheet_names).items()}
        return dict(names)

    def tables(self) -> dict[str, TableRef]:
        copies: dict[int, TableRef] = {}
        return {k: copies.setdefault(id(t), TableRef.of(t)) for k, t in _table_defs(self.pkg).items()}


#: column letters of the columns plans use, looked up instead of computed per cell
_COL_LETTERS = {c: col_letter(c) for c in range(1, 703)}


class _Reader:
    """The reader core: a plan from any :class:`~xltools.workbook.view.WorkbookView`."""

    def __init__(self, view: WorkbookView, spec: Spec, static_texts: set[str]):
        self.view, self.spec, self.static = view, spec, static_texts
        self.sheets: dict[str, _Sheet] = {}

    def load(self) -> dict[str, str]:
        meta = None
        for sv in self.view.sheets():
            if sv.name.casefold() == META_SHEET and meta is None:
                meta = _read_meta(sv.grid)
            self.sheets[sv.name] = _Sheet.of(sv)
        _check_meta(meta, self.spec)
        return meta

    def read(self, path: str) -> RawPlan:
        meta = self.load()
        plan = RawPlan(file=path, meta=meta, fields={}, tables={})
        self.read_fields(plan)
        tdefs = self.view.tables()
        found = {}
        for t in self.spec.tables:
            tdef = tdefs.get(t.name.casefold())
            if tdef is None or tdef.sheet not in self.sheets:
                plan.missing_tables.append(t.name)
            else:
                found[t.name] = tdef
                # only the spec's tables hold input; cells of a table a rep added are stray
                self.sheets[tdef.sheet].tables.append(tdef)
        for name, tdef in found.items():
            plan.tables[name] = self.read_table(self.spec.table(name), tdef, plan)
        self.collect_stray(plan)
        return plan

    # fields ---------------------------------------------------------------------------
    def read_fields(self, plan: RawPlan) -> None:
        names = self.view.defined_names(list(self.sheets))
        for f in self.spec.fields:
            loc = names.get(f.key.casefold())
            sheet = self.sheets.get(loc.sheet) if loc else None
            if sheet is None:
                plan.missing_fields.append(f.key)
                continue
            sheet.consumed.add((loc.row, loc.col))
            value = sheet.value(loc.row, loc.col)
            if f.computed:
                if (loc.row, loc.col) not in sheet.formulas and value is not None:
                    plan.overwritten.append((f.key, sheet.raw(loc.row, loc.col, value)))
                value = None
            plan.fields[f.key] = sheet.raw(loc.row, loc.col, value)

    # tables ---------------------------------------------------------------------------
    def read_table(self, t: Table, tdef: TableRef, plan: RawPlan) -> RawTable:
        sheet = self.sheets[tdef.sheet]
        labels: dict[str, str] = {}
        for c in t.columns:
            for text in c.label.all():
                labels.setdefault(header_key(text), c.key)
        col_of: dict[int, str] = {}  # worksheet column -> column key
        found: dict[str, str] = {}
        unknown: dict[str, str] = {}
        unknown_cols: list[int] = []
        header_row = tdef.top if tdef.header_rows else None
        for i, col in enumerate(range(tdef.left, tdef.right + 1)):
            text = sheet.value(header_row, col) if header_row else None
            if text is None or str(text).strip() == "":
                text = tdef.column_names[i] if i < len(tdef.column_names) else ""
            key = labels.get(header_key(text)) if str(text).strip() else None
            at = a1(header_row or tdef.top, col)
            if key is None or key in found:
                if str(text) in unknown and header_row and sheet.value(header_row, col) is not None:
                    plan.stray.append(sheet.raw(header_row, col, sheet.value(header_row, col)))
                unknown.setdefault(str(text), at)
                unknown_cols.append(col)
                continue
            found[key] = at
            col_of[col] = key
        rt = RawTable(name=t.name, sheet=sheet.name, ref=tdef.ref, rows=[], columns=found,
                      unknown_columns=unknown,
                      missing_columns=[c.key for c in t.columns if c.key not in found])
        formula_keys = {c.key for c in t.columns if c.computed}
        first = tdef.data_top
        unknown_set = set(unknown_cols)

        def unknown_values(r: int) -> None:
            if not unknown_set:
                return
            for col in sheet.cols_between(r, tdef.left, tdef.right):
                if col in unknown_set:
                    self.stray_if_value(sheet, r, col, plan)

        for r in sheet.rows_between(first, tdef.data_bottom):
            row = self.table_row(sheet, t.name, r, r - first + 1, col_of, formula_keys, plan,
                                 span=(tdef.left, tdef.right))
            if row is not None:
                rt.rows.append(row)
            unknown_values(r)
        # rows typed just under a table that did not expand
        r = tdef.bottom + 1
        while True:
            span = [c for c in sheet.cols_between(r, tdef.left, tdef.right)
                    if self.is_loose_value(sheet, r, c, static=False)]
            if not span:
                break
            sheet.consumed.update((r, c) for c in span)
            row = self.table_row(sheet, t.name, r, r - first + 1, col_of, formula_keys, plan,
                                 below=True, span=(tdef.left, tdef.right))
            if row is not None:
                rt.rows.append(row)
            unknown_values(r)
            r += 1
        return rt

    def table_row(self, sheet: _Sheet, table: str, r: int, index: int, col_of: dict[int, str],
                  formula_keys: set[str], plan: RawPlan, below: bool = False,
                  span: tuple[int, int] | None = None) -> RawRow | None:
        """The row ``r`` of a table whose worksheet columns ``col_of`` are known (``span``: the
        table's first and last column, else those of ``col_of``); None without any input.
        A value in a formula column that holds no formula is listed as overwritten."""
        grid, formulas = sheet.grid, sheet.formulas
        if not col_of:
            return None
        left, right = span or (min(col_of), max(col_of))
        has_input = False
        # only the columns that hold something in this row, left to right (as col_of is)
        for col in sheet.cols_between(r, left, right):
            key = col_of.get(col)
            if key is None:
                continue
            value = grid[(r, col)]
            if value is None:
                continue
            if key in formula_keys:
                if (r, col) not in formulas:
                    plan.overwritten.append((key, sheet.raw(r, col, value)))
            else:
                has_input = True
        if not has_input:  # most rows of a template's table are still empty: no cells made
            return None
        name, row_text, letters, get = sheet.name, str(r), _COL_LETTERS, grid.get
        cells = {}
        for col, key in col_of.items():
            cells[key] = RawCell(name, (letters.get(col) or col_letter(col)) + row_text,
                                 None if key in formula_keys else get((r, col)))
        return RawRow(index=index, cells=cells, below_table=below)

    def is_loose_value(self, sheet: _Sheet, r: int, c: int, *, static: bool = True) -> bool:
        """A value the rep typed that no field, table, formula or (with ``static``)
        generator text explains.  Under a table a generator text counts as typed: a
        rep picks 社内公開 or 円 there as anywhere else."""
        v = sheet.value(r, c)
        if v is None or (r, c) in sheet.consumed or (r, c) in sheet.formulas:
            return False
        if static and isinstance(v, str) and v in self.static:
            return False
        return not any(t.contains(r, c) for t in sheet.tables)

    def stray_if_value(self, sheet: _Sheet, r: int, c: int, plan: RawPlan) -> None:
        v = sheet.value(r, c)
        if v is not None and (r, c) not in sheet.formulas:
            plan.stray.append(sheet.raw(r, c, v))
            sheet.consumed.add((r, c))

    # everything else ------------------------------------------------------------------
    def collect_stray(self, plan: RawPlan) -> None:
        static = self.static
        for sheet in self.sheets.values():
            if sheet.name.casefold() == META_SHEET or self.is_helper(sheet):
                continue
            grid, name, stray = sheet.grid, sheet.name, plan.stray
            areas = [(t.top, t.bottom, t.left, t.right) for t in sheet.tables]
            # what is_loose_value asks of each cell, the set lookups done at once
            for pos in sorted(grid.keys() - sheet.consumed - sheet.formulas):
                v = grid[pos]
                if v is None or (isinstance(v, str) and v in static):
                    continue
                r, c = pos
                for top, bottom, left, right in areas:
                    if top <= r <= bottom and left <= c <= right:
                        break
                else:
                    stray.append(RawCell(name, a1(r, c), v))

    @staticmethod
    def is_helper(sheet: _Sheet) -> bool:
        """A hidden sheet without any field or spec table: the generator's list sheet."""
        return sheet.state != "visible" and not sheet.consumed and not sheet.tables


def read_workbook(path: str | os.PathLike | WorkbookView, spec: Spec, *, limits: Limits | None = None,
                  static_texts: Iterable[str] | None = None) -> RawPlan:
    """Read an account-plan workbook.

    ``path``: a workbook file (checked by :mod:`xltools.workbook.safety` before python-calamine
    reads it), or any other :class:`~xltools.workbook.view.WorkbookView` (an open workbook,
    :mod:`xltools.live`; ``limits`` then do not apply).  ``RawPlan.file`` is
    ``str(path)``.
    Raises :class:`FileProblem` for a file that cannot be read as a plan (one
    file-level issue); everything else (missing names, tables, columns, stray and
    overwritten cells) is recorded in the returned :class:`RawPlan`.
    ``static_texts``: the generator's own texts (labels, guide), never reported as
    stray; defaults to :func:`spec_texts`.  The file is never modified.
    """
    view = _PackageView(open_package(path, limits)) if isinstance(path, (str, os.PathLike)) else path
    texts = set(static_texts) if static_texts is not None else spec_texts(spec)
    return _Reader(view, spec, texts).read(str(path))
