"""Validation: a :class:`~xltools.spec.model.RawPlan` (values as typed) becomes a
:class:`~xltools.spec.model.PlanData` (clean values) plus the issues found on the way.

Everything is driven by the template spec: for every field and table column of the
spec the raw value is normalised (``xltools.checking.normalize``) with the workbook's
``amount_unit`` and the plan period, and every problem becomes an
:class:`~xltools.spec.issues.Issue` with its sheet, cell, field key and raw value.
Nothing is lost: each non-blank cell the reader saw ends up in the plan data or in
an issue (stray cells, overwritten formulas and values that cannot be read are
all reported with the raw value).

Derived figures are recomputed from the clean values by :mod:`xltools.spec.derive`
(cached formula results in the file are never trusted): plan-level ones in
``PlanData.derived`` under the spec's field keys (``period_pipeline``,
``coverage_ratio``, ``close_q1``..``close_q8``, ...) plus ``close_quarters`` (amount
per fiscal quarter of ``expected_close``), ``period`` (the resolved plan period) and
``probability_defaulted``; per-row formula columns (``weighted``, ``ltv``,
``growth_rate``, ``achievement``) are written into the rows under their column keys.

A value typed so that the workbook's own formulas cannot count it (an amount or a
date typed as text, a stage typed as an alias) is read all the same and reported as
``W-NOT-COUNTED``, so the rep knows why the workbook's totals differ from xltools'.
"""
from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any, Callable

from xltools.cells import a1, col_letter, parse_a1, parse_range
from xltools.checking.normalize import SLOW, NormContext, fast_normalizer, normalize_value
from xltools.spec.config import Settings
from xltools.spec.contract import T
from xltools.spec.derive import Deriver
from xltools.spec.issues import Issue
from xltools.spec.model import PlanData, RawCell, RawPlan, RawRow, RawTable, Row
from xltools.spec.periods import Period, PeriodError, parse_period
from xltools.spec.spec import Field, Label, Section, Spec, Table

#: Contacts references checked by name: "Table.column" -> issue code.  The columns
#: themselves (and which table they point at) come from the spec's ``source``.
REFERENCE_CODES = {
    "Activities.contact": "E-UNKNOWN-CONTACT",
    "Contacts.reports_to": "E-UNKNOWN-MANAGER",
    "Opportunities.key_person": "W-UNKNOWN-KEY-PERSON",
}

#: the sheet ``xltools check --annotate`` adds to a copy of a workbook (machine-written:
#: a rep who fills in the annotated copy and sends it back is not warned about it)
ANNOTATION_SHEET = Label("指摘一覧", "Issues")


# -- small helpers shared with rules ---------------------------------------------------

def is_blank(value: Any) -> bool:
    """Empty cell: None, or text of only whitespace (full-width spaces included) and
    invisible format characters (zero-width space, BOM)."""
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    if value[:1].isalnum():  # the usual case: a letter or digit is neither a space nor a format character
        return False
    if value and not value[0].isspace() and unicodedata.category(value[0]) != "Cf":
        return False  # decided by the first character all the same
    return all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in value)



def name_key(value: Any) -> str:
    """Comparison key for names typed by people: NFKC, no spaces, case-folded
    (``山田　太郎`` == ``山田太郎``, ``ＡＢＣ`` == ``abc``)."""
    return "".join(unicodedata.normalize("NFKC", str(value)).split()).casefold()


def plan_period(plan: PlanData, start_month: int = 4) -> Period | None:
    """The plan period validate resolved (``period`` field, else ``_meta``)."""
    for cand in (plan.derived.get("period"), plan.fields.get("period"), plan.meta.get("period")):
        if cand:
            try:
                return parse_period(str(cand), start_month)
            except PeriodError:
                continue
    return None


#: input types the workbook's formulas count only as numbers (a text cell is left out)
NOT_COUNTED_TYPES = frozenset({"amount", "integer", "number", "percent", "rating", "month", "date"})
_EXPECTED = {"number": {"ja": "数値", "en": "a number"}, "date": {"ja": "日付（yyyy/mm/dd）", "en": "a date (yyyy/mm/dd)"},
             "period": {"ja": "FY2026 や FY2026Q3 の形", "en": "FY2026 or FY2026Q3"}}


def _shown(fld: Field, value: Any) -> Any:
    """A clean value as the message shows it."""
    if fld.type == "amount":
        return {"ja": f"{value:,}円", "en": f"JPY {value:,}"}
    if fld.type == "percent":
        return f"{value:g}%"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# -- what validation needs of a spec, built once per spec and language ------------------

class _Column:
    """A field or column as validation reads it: ``fast`` reads its usual values directly
    (:func:`~xltools.checking.normalize.fast_normalizer`) when that reading needs no issue,
    ``W-NOT-COUNTED`` included; it returns ``SLOW`` for the values :meth:`_Validation.normalize`
    must look at."""

    __slots__ = ("field", "key", "required", "fast")

    def __init__(self, fld: Field, spec: Spec, language: str):
        self.field, self.key, self.required = fld, fld.key, fld.required
        # as not_counted decides: text in a NOT_COUNTED_TYPES field is never read directly
        # (fast_normalizer leaves it), a period field has no direct reading
        fast = fast_normalizer(fld, spec)
        if (fast is not None and fld.type not in NOT_COUNTED_TYPES and fld.choices and not fld.open
                and spec.formula_uses(fld)):
            fast = _as_labelled(fast, fld, spec, language) if fld.type == "choice" else None
        self.fast = fast


def _as_labelled(fast: Callable[[Any, NormContext], Any], fld: Field, spec: Spec,
                 language: str) -> Callable[[Any, NormContext], Any]:
    """``fast`` for a choice the workbook's formulas look up by its label: a value typed as
    anything else (an alias, the other language) is left to W-NOT-COUNTED."""
    labels = {c.key: c.label(language).casefold() for c in spec.choices(fld.choices or "").choices}

    def labelled(raw: Any, ctx: NormContext) -> Any:
        value = fast(raw, ctx)
        if value is SLOW or raw.casefold() != labels[value]:  # read directly only from text
            return SLOW
        return value

    return labelled


class _SpecColumns:
    """Every input field and table column of a spec as :class:`_Column`, for one language."""

    def __init__(self, spec: Spec, language: str):
        self.spec = spec
        self.fields = tuple(_Column(f, spec, language) for f in spec.fields if not f.computed)
        #: table name -> (its columns a rep types, the keys of all its columns)
        self.tables = {t.name: (tuple(_Column(c, spec, language) for c in t.columns if not c.computed),
                                tuple(c.key for c in t.columns)) for t in spec.tables}


_SPEC_COLUMNS: dict[tuple[int, str], _SpecColumns] = {}


def _spec_columns(spec: Spec, language: str) -> _SpecColumns:
    hit = _SPEC_COLUMNS.get((id(spec), language))
    if hit is not None and hit.spec is spec:
        return hit
    if len(_SPEC_COLUMNS) >= 64:
        _SPEC_COLUMNS.clear()
    hit = _SPEC_COLUMNS[(id(spec), language)] = _SpecColumns(spec, language)
    return hit


#: worksheet row numbers of cell addresses seen so far
_ROWS: dict[str, int] = {}


def _row_of(ref: str) -> int:
    row = _ROWS.get(ref)
    if row is None:
        if len(_ROWS) >= 65536:
            _ROWS.clear()
        row = _ROWS[ref] = parse_a1(ref)[0]
    return row


# -- the validator ---------------------------------------------------------------------

class _Validation:
    def __init__(self, raw: RawPlan, spec: Spec, settings: Settings):
        self.raw, self.spec, self.settings = raw, spec, settings
        language = raw.meta.get("language")
        self.language = language if language in ("ja", "en") else "ja"
        self.start_month = settings.fiscal_year_start_month
        self.issues: list[Issue] = []
        self.fields: dict[str, Any] = {}
        self.tables: dict[str, list[Row]] = {}
        self.raw_rows: dict[str, list[tuple[Row, RawRow]]] = {}
        self.derived: dict[str, Any] = {}
        self.columns = _spec_columns(spec, self.language)
        self._letters: dict[tuple[str, str], str] = {}  # (table, column key) -> the column's letters
        self._name_keys: dict[str, str] = {}  # text -> name_key(text)

    # issues ----------------------------------------------------------------------
    def add(self, code: str, *, cell: RawCell | None = None, sheet: str | None = None,
            at: str | None = None, raw: Any = None, **kw: Any) -> Issue:
        if cell is not None:
            sheet, at, raw = cell.sheet, cell.cell, cell.value if raw is None else raw
        iss = Issue(code, sheet=sheet, cell=at, raw=raw, file=self.raw.file, **kw)
        self.issues.append(iss)
        return iss

    def normalize(self, fld: Field, cell: RawCell | None, ctx: NormContext, *,
                  table: str | None = None, row: int | None = None) -> tuple[Any, bool]:
        """(clean value, True when the value was reported as an error)."""
        if cell is None or is_blank(cell.value):
            return None, False
        res = normalize_value(fld, cell.value, ctx, self.spec)
        if res.code:
            params = dict(res.params or {})
            params.setdefault("label", fld.label)
            self.add(res.code, cell=cell, field=fld.key, table=table, row=row, params=params)
            if res.code.startswith("E-"):
                return res.value, True
        if res.value is not None:
            self.not_counted(fld, cell, res.value, table=table, row=row)
        return res.value, False

    def clean(self, col: _Column, cell: RawCell, ctx: NormContext, *,
              table: str | None = None, row: int | None = None) -> tuple[Any, bool]:
        """:meth:`normalize` of a cell that holds a value: its usual values are read directly."""
        value = SLOW if col.fast is None else col.fast(cell.value, ctx)
        if value is SLOW:
            return self.normalize(col.field, cell, ctx, table=table, row=row)
        return value, False

    def not_counted(self, fld: Field, cell: RawCell, value: Any, *, table: str | None, row: int | None) -> None:
        """``W-NOT-COUNTED``: xltools read the value, but the workbook's formulas cannot count
        it as typed (a number or date typed as text, a period not written FY2026Q3, a
        choice typed as an alias) -- the cell the workbook highlights."""
        raw = cell.value
        if fld.type in NOT_COUNTED_TYPES:
            if not isinstance(raw, str):
                return
            expected = _EXPECTED["date" if fld.type == "date" else "number"]
        elif fld.type == "period":
            if unicodedata.normalize("NFC", str(raw)).strip().upper() == value:
                return
            expected = _EXPECTED["period"]
        elif fld.choices and not fld.open and self.spec.formula_uses(fld):
            label = self.spec.choices(fld.choices).get(value).label(self.language)
            if str(raw).casefold() == label.casefold():  # as the workbook's MATCH compares
                return
            expected = {"ja": f"「{label}」（リストから選択）", "en": f"'{label}' (pick it from the list)"}
        else:
            return
        self.add("W-NOT-COUNTED", cell=cell, field=fld.key, table=table, row=row,
                 params={"label": fld.label, "value": str(raw), "detail": _shown(fld, value),
                         "expected": expected})

    # structure -------------------------------------------------------------------
    def structure(self) -> None:
        raw, spec = self.raw, self.spec
        for key in raw.missing_fields:
            fld = _find_field(spec, key)
            self.add("E-NAME-MISSING", field=key, params={"label": fld.label if fld else key})
        for name in raw.missing_tables:
            tbl = _find_table(spec, name)
            self.add("E-TABLE-MISSING", table=name, params={"label": tbl.label if tbl else name})
        for t in spec.tables:
            rt = raw.tables.get(t.name)
            if rt is None:
                continue
            top, left, _, _ = parse_range(rt.ref)
            for c in t.columns:
                if c.key not in rt.columns:
                    self.add("E-COLUMN-MISSING", sheet=rt.sheet, at=a1(top, left), field=c.key,
                             table=t.name, params={"label": c.label})
            for header, ref in rt.unknown_columns.items():
                self.add("W-COLUMN-UNKNOWN", sheet=rt.sheet, at=ref, raw=header, table=t.name)
        for cell in raw.stray:
            if cell.sheet not in ANNOTATION_SHEET.all():  # xltools' own list in an annotated copy
                self.add("W-STRAY-VALUE", cell=cell)
        for key, cell in raw.overwritten:
            self.add("W-FORMULA-OVERWRITTEN", cell=cell, field=key)

    # single fields ---------------------------------------------------------------
    def single_fields(self) -> NormContext:
        spec, raw = self.spec, self.raw
        base = NormContext(amount_factor=1, period=None, start_month=self.start_month)
        unit_field, period_field = spec.field("amount_unit"), spec.field("period")
        done: dict[str, tuple[Any, bool]] = {}
        for fld in (unit_field, period_field):
            done[fld.key] = self.normalize(fld, raw.fields.get(fld.key), base)
        unit = done["amount_unit"][0] or unit_field.default
        try:
            if unit_field.choices is None:  # not a choice field: no unit to look up
                raise KeyError("amount_unit")
            factor = spec.choices(unit_field.choices).get(unit).factor or 1
        except KeyError:  # an unreadable unit was reported; read amounts as yen
            factor = 1
        period = self.resolve_period(done["period"][0])
        ctx = NormContext(amount_factor=factor, period=period, start_month=self.start_month)
        for col in self.columns.fields:
            fld, key = col.field, col.key
            cell = raw.fields.get(key)
            if key in done:
                value, failed = done[key]
            elif cell is None or is_blank(cell.value):
                value, failed = None, False
            else:
                value, failed = self.clean(col, cell, ctx)
            self.fields[fld.key] = value
            if value is None and fld.required and not failed and fld.key not in raw.missing_fields:
                self.add("E-REQUIRED", cell=cell, field=fld.key, params={"label": fld.label})
        self.meta_mismatch()
        return ctx

    def resolve_period(self, value: Any) -> Period | None:
        sheet = _period_or_none(value, self.start_month)
        meta = _period_or_none(self.raw.meta.get("period"), self.start_month)
        if sheet and meta and sheet != meta:
            self.add("W-PERIOD-MISMATCH", cell=self.raw.fields.get("period"), field="period",
                     params={"value": str(sheet), "detail": str(meta)})
        period = sheet or meta
        self.derived["period"] = str(period) if period else None
        return period

    def meta_mismatch(self) -> None:
        """Fields that are also ``_meta`` keys (except the period) must agree with _meta."""
        for key in self.spec.meta_keys:
            if key == "period" or key not in self.fields:
                continue
            sheet_value, meta_value = self.fields[key], self.raw.meta.get(key)
            if sheet_value is None or is_blank(meta_value):
                continue
            if self.name_key(sheet_value) != self.name_key(meta_value):
                fld = self.spec.field(key)
                self.add("I-META-MISMATCH", cell=self.raw.fields.get(key), field=key,
                         params={"label": fld.label, "detail": f"{sheet_value} ≠ _meta: {meta_value}"})

    # tables ----------------------------------------------------------------------
    def table_rows(self, ctx: NormContext) -> None:
        for t in self.spec.tables:
            rt = self.raw.tables.get(t.name)
            rows: list[Row] = []
            pairs: list[tuple[Row, RawRow]] = []
            if rt is not None:
                for rr in rt.rows:
                    row = self.table_row(t, rt, rr, ctx)
                    if row is not None:
                        rows.append(row)
                        pairs.append((row, rr))
            self.tables[t.name] = rows
            self.raw_rows[t.name] = pairs

    def table_row(self, t: Table, rt: RawTable, rr: RawRow, ctx: NormContext) -> Row | None:
        inputs, keys = self.columns.tables[t.name]
        rcells, index = rr.cells, rr.index
        if rr.below_table:
            written = [c for col in inputs if (c := rcells.get(col.key)) is not None and not is_blank(c.value)]
            if not written:
                return None
            leftmost = min(written, key=lambda rc: parse_a1(rc.cell)[1])
            self.add("I-ROW-BELOW-TABLE", cell=leftmost, table=t.name, row=index)
        values: dict[str, Any] = {}
        cells: dict[str, str] | None = None  # known from the first cell that holds a value
        ws_row = 0
        blank_required: list[_Column] = []  # required and blank before that cell
        for col in inputs:
            key = col.key
            cell = rcells.get(key)
            if (cell is None or (value := cell.value) is None
                    or (isinstance(value, str) and not value[:1].isalnum() and is_blank(value))):
                values[key] = None
                if col.required and key in rt.columns:
                    if cells is None:
                        blank_required.append(col)
                    else:
                        self.required(col, t.name, rt, cells, index)
                continue
            if cells is None:
                ws_row = _row_of(cell.cell)
                cells = self.row_cells(t.name, rt, rcells, keys, ws_row)
                for blank in blank_required:
                    self.required(blank, t.name, rt, cells, index)
            fast = col.fast
            value = SLOW if fast is None else fast(value, ctx)
            if value is SLOW:
                value, failed = self.normalize(col.field, cell, ctx, table=t.name, row=index)
                if failed:
                    values[key] = value
                    continue
            values[key] = value
            if value is None and col.required and key in rt.columns:
                self.required(col, t.name, rt, cells, index)
        if cells is None:
            return None  # a blank row inside the table
        return Row(values=values, sheet=rt.sheet, row=ws_row, index=index, cells=cells)

    def row_cells(self, table: str, rt: RawTable, rcells: dict[str, RawCell], keys: tuple[str, ...],
                  ws_row: int) -> dict[str, str]:
        """Column key -> A1 of a table row: its cells, and the table's columns it has no cell in."""
        try:
            return {key: rcells[key].cell for key in keys}
        except KeyError:  # a column without a cell in this row
            cells = {}
            for key in keys:
                found = rcells.get(key)
                if found is not None:
                    cells[key] = found.cell
                elif key in rt.columns:
                    cells[key] = f"{self._column_letters(table, rt, key)}{ws_row}"
            return cells

    def required(self, col: _Column, table: str, rt: RawTable, cells: dict[str, str], index: int) -> None:
        self.add("E-REQUIRED", sheet=rt.sheet, at=cells.get(col.key), field=col.key, table=table,
                 row=index, params={"label": col.field.label})

    def _column_letters(self, table: str, rt: RawTable, key: str) -> str:
        letters = self._letters.get((table, key))
        if letters is None:
            letters = self._letters[(table, key)] = col_letter(parse_a1(rt.columns[key])[1])
        return letters

    def name_key(self, value: Any) -> str:
        """:func:`name_key`, once per text of the plan."""
        if type(value) is not str:
            return name_key(value)
        key = self._name_keys.get(value)
        if key is None:
            key = self._name_keys[value] = name_key(value)
        return key

    def stage_probabilities(self) -> None:
        """A blank probability takes the stage's default probability (no issue)."""
        t = self.spec.table(T.OPPORTUNITIES)
        stage_list = t.column("stage").choices
        assert stage_list is not None  # contract.CHOICE_COLUMNS: stage is a choice column
        stages = self.spec.choices(stage_list)
        defaulted = []
        for r in self.tables.get(t.name, []):
            if r.values.get("probability") is None and r.values.get("stage") is not None:
                try:
                    probability = stages.get(r.values.get("stage")).probability
                    if probability is None:  # the stage has no default probability
                        continue
                    r.values["probability"] = float(probability)
                except (KeyError, TypeError):
                    continue
                defaulted.append(r.index)
        self.derived["probability_defaulted"] = defaulted

    # sections, ids, references -----------------------------------------------------
    def empty_sections(self) -> None:
        for s in self.spec.sections:
            if not s.required:
                continue
            if any(self._entered(f) for f in s.fields if f.is_input):
                continue
            if any(self.tables.get(t.name) for t in s.tables):
                continue
            sheet, at = self._section_anchor(s)
            self.add("E-SECTION-EMPTY", sheet=sheet, at=at, params={"label": s.title})

    def _entered(self, fld: Field) -> bool:
        """A field holds input beyond what generation wrote (its default, its _meta value)."""
        value = self.fields.get(fld.key)
        if value is None:
            return False
        if fld.default is not None and value == fld.default:
            return False
        if fld.key in self.spec.meta_keys and not is_blank(self.raw.meta.get(fld.key)):
            return self.name_key(value) != self.name_key(self.raw.meta[fld.key])
        return True

    def _section_anchor(self, s: Section) -> tuple[str | None, str | None]:
        for f in s.fields:
            if f.is_input and f.key in self.raw.fields:
                c = self.raw.fields[f.key]
                return c.sheet, c.cell
        for t in s.tables:
            rt = self.raw.tables.get(t.name)
            if rt is not None:
                top, left, _, _ = parse_range(rt.ref)
                return rt.sheet, a1(top + 1, left)
        return None, None

    def duplicate_ids(self) -> None:
        for t in self.spec.tables:
            if not t.id_column:
                continue
            seen: set[str] = set()
            for row, rr in self.raw_rows[t.name]:
                value = row.values.get(t.id_column)
                if value is None:
                    continue
                key = self.name_key(value)
                if key in seen:
                    self.add("E-DUPLICATE-ID", cell=rr.cells[t.id_column], field=t.id_column, table=t.name,
                             row=row.index, params={"value": str(value)})
                seen.add(key)

    def references(self) -> None:
        for t in self.spec.tables:
            for c in t.columns:
                code = REFERENCE_CODES.get(f"{t.name}.{c.key}")
                if not code or not c.source:
                    continue
                src_table, _, src_col = c.source.partition(".")
                if src_table not in self.raw.tables:
                    continue  # reported as E-TABLE-MISSING
                known = {self.name_key(v) for r in self.tables[src_table] if (v := r.values.get(src_col))}
                for row, rr in self.raw_rows[t.name]:
                    value = row.values.get(c.key)
                    if value is not None and self.name_key(value) not in known:
                        self.add(code, cell=rr.cells[c.key], field=c.key, table=t.name, row=row.index,
                                 params={"value": str(value)})

    # derived figures ---------------------------------------------------------------
    def derive(self) -> None:
        """The plan's figures, computed as the workbook's formulas do (:mod:`xltools.spec.derive`)."""
        self.derived.update(Deriver(self.spec, self.settings).plan(self.fields, self.tables,
                                                                   self.derived.get("period")))

    # ----------------------------------------------------------------------------
    def run(self) -> tuple[PlanData, list[Issue]]:
        self.structure()
        ctx = self.single_fields()
        self.table_rows(ctx)
        self.stage_probabilities()
        self.empty_sections()
        self.duplicate_ids()
        self.references()
        self.derive()
        field_cells = {k: (c.sheet, c.cell) for k, c in self.raw.fields.items()}
        plan = PlanData(meta=dict(self.raw.meta), fields=self.fields, tables=self.tables, file=self.raw.file,
                        field_cells=field_cells, derived=self.derived)
        return plan, self.issues


def _find_field(spec: Spec, key: str) -> Field | None:
    try:
        return spec.field(key)
    except KeyError:
        return None


def _find_table(spec: Spec, name: str) -> Table | None:
    try:
        return spec.table(name)
    except KeyError:
        return None


def _period_or_none(value: Any, start_month: int) -> Period | None:
    if is_blank(value):
        return None
    try:
        return parse_period(str(value), start_month)
    except PeriodError:
        return None


def validate(raw: RawPlan, spec: Spec, settings: Settings) -> tuple[PlanData, list[Issue]]:
    """Normalise and check ``raw`` against ``spec``: (clean plan, issues).

    ``spec`` should be ``settings.apply(load_spec())`` so company lists (industries,
    stage probabilities, selection weights) are in effect."""
    return _Validation(raw, spec, settings).run()


def plan_stats(plan: PlanData, spec: Spec) -> dict[str, Any]:
    """Counts for ``FileReport.stats``: rows per table and input fields filled."""
    inputs = [f for f in spec.fields if f.is_input]
    return {"rows": {t.name: len(plan.rows(t.name)) for t in spec.tables},
            "fields_filled": sum(1 for f in inputs if plan.fields.get(f.key) is not None),
            "fields_total": len(inputs)}
