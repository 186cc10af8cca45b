"""The builder of one workbook: the sheets in order, the section sheets of fields, the hidden
``_lists`` and ``_meta`` sheets, properties, page setup and protection.  Tables, rules and the
Guide are its parts in :mod:`.tables`, :mod:`.rules` and :mod:`.guide`."""
from __future__ import annotations

import uuid
from datetime import timezone
from typing import Any, Callable, Iterable

from xltools import __version__
from xltools.cells import col_letter
from xltools.spec.config import Settings
from xltools.spec.derive import breakdown_quarters
from xltools.spec.model import PlanData
from xltools.spec.spec import Field, Label, Section, Spec, SpecError
from xltools.workbook import charts, printing, summary, whitespace
from xltools.workbook.generate.formulas import _excel_string, translate_formula
from xltools.workbook.generate.guide import _Guide
from xltools.workbook.generate.plan import PlanInfo, _check_info, _generated_at, plan_period
from xltools.workbook.generate.rules import _Rules
from xltools.workbook.generate.styles import _calc_style, _input_style, _Styles
from xltools.workbook.generate.tables import _Tables
from xltools.workbook.generate.texts import LIST_NAME_PREFIX, LISTS_SHEET, META_SHEET, TEXTS
from xltools.workbook.layout import HINT_ROW, TITLE_ROW, SheetLayout, TablePos, sheet_layout
from xltools.workbook.xlwrite import clean_text, write_formula, write_text, write_value

#: the fields whose value comes from the plan's :class:`PlanInfo`
INFO_FIELDS = ("account_name", "rep", "period", "account_id", "team_members", "sales_target")


def _check_names(spec: Spec, lang: str) -> None:
    """Names Excel compares case-insensitively must be unique, or Excel repairs the file
    (and openpyxl renames or refuses): field keys against table names, and sheet names
    (``History`` is reserved by Excel)."""
    seen: dict[str, str] = {}
    for n in [f.key for f in spec.fields] + [t.name for t in spec.tables]:
        other = seen.setdefault(n.casefold(), n)
        if other != n:  # keys are lower case, table names CamelCase: a clash differs in case
            raise SpecError(f"the name {n!r} clashes with {other!r}: field keys and table names must differ "
                            f"ignoring case")
    sheets = [summary.TEXTS["sheet"](lang), whitespace.TEXTS["sheet"](lang), TEXTS["guide_sheet"](lang),
              *(s.label(lang) for s in spec.sections), summary.HELPER_SHEET, LISTS_SHEET, META_SHEET]
    folded = [n.casefold() for n in sheets]
    if len(set(folded)) != len(folded) or "history" in folded:
        raise SpecError(f"sheet names must be unique ignoring case and not 'History': {sheets}")


class _Builder(_Tables, _Rules, _Guide):
    """Builds one workbook in memory.  ``static`` collects every text it writes itself."""

    def __init__(self, spec: Spec, settings: Settings, info: PlanInfo, prefill: PlanData | None = None):
        from openpyxl import Workbook

        _check_info(info)
        self.spec = settings.apply(spec)
        self.settings = settings
        self.info = info
        self.lang = info.lang
        self.period = plan_period(info.period, settings)
        self.prefill = prefill
        self.finish: Callable[[Any], None] | None = None
        self.static: set[str] = set()
        self.wb = Workbook()
        self.styles = _Styles(self.wb, self.lang)
        self.layouts: dict[str, SheetLayout] = {}
        self.sheet_names: dict[str, str] = {}
        self.table_pos: dict[str, TablePos] = {}
        self.input_ranges: dict[str, list[str]] = {}  # sheet -> table input ranges (yellow)
        #: per section sheet, the row heights before the fit to wrapped text (what a re-stamp starts from)
        self.prefit_heights: dict[str, dict[int, float | None]] = {}
        self.hf_sheets: list[Any] = []  # the sheets whose print header names the account
        self.unit_factor = self._unit_factor()

    # -- small helpers -----------------------------------------------------------------------
    def t(self, key: str, **params: Any) -> str:
        text = TEXTS[key](self.lang)
        return text.format(**params) if params else text

    def tr(self, label: Label) -> str:
        return label(self.lang)

    def put_static(self, ws, row: int, col: int, text: str, style: str):
        cell = ws.cell(row=row, column=col)
        write_text(cell, text)
        self.styles.apply(cell, style)
        self.static.add(text)
        return cell

    def sheet_ref(self, section_key: str) -> str:
        return "'" + self.sheet_names[section_key].replace("'", "''") + "'"

    def define(self, name: str, ref: str) -> None:
        from openpyxl.workbook.defined_name import DefinedName

        self.wb.defined_names[name] = DefinedName(name, attr_text=ref)

    def _unit_factor(self) -> int:
        unit = (self.prefill.fields.get("amount_unit") if self.prefill else None) or \
            self.spec.field("amount_unit").default
        try:
            return int(self.spec.choices("amount_unit").get(unit).factor or 1)
        except KeyError:
            return 1

    # -- workbook ----------------------------------------------------------------------------
    def build(self) -> Any:
        _check_names(self.spec, self.lang)
        wb = self.wb
        first = wb.active
        first.title = summary.TEXTS["sheet"](self.lang)
        space = wb.create_sheet(whitespace.TEXTS["sheet"](self.lang))
        guide = wb.create_sheet(self.t("guide_sheet"))
        self.static.update((first.title, space.title, guide.title))
        rows = self.table_rows = self._table_rows()
        chart_kinds = charts.chart_sections(self.spec)
        for s in self.spec.sections:
            self.sheet_names[s.key] = s.label(self.lang)
            layout = sheet_layout(s, self.lang, rows, charts.min_header_row(chart_kinds.get(s.key)))
            self.layouts[s.key] = layout
            self.table_pos.update(layout.tables)
        self._properties()
        for s in self.spec.sections:
            self._section(s, wb.create_sheet(self.sheet_names[s.key]))
        self._guide(guide)
        summary.add_summary(self, first)
        whitespace.add_whitespace(self, space, self.summary_helper)
        self._lists()
        self._meta()
        if self.finish is not None:
            self.finish(wb)
        wb.active = 0
        return wb

    def _table_rows(self) -> dict[str, int]:
        rows = {}
        for t in self.spec.tables:
            n = len(self.prefill.rows(t.name)) if self.prefill else 0
            if t.prefill and not n:
                n = len(self.spec.choices(t.column(t.prefill["column"]).choices).choices)
            rows[t.name] = max(t.rows, n)
        return rows

    def _properties(self) -> None:
        p = self.wb.properties
        iso, dt = _generated_at(self.info.generated_at)
        self.generated_at = iso
        p.creator = "xltools"
        p.lastModifiedBy = "xltools"
        p.title = self.doc_title()
        p.subject = self.spec.template
        p.created = dt.astimezone(timezone.utc).replace(tzinfo=None) if dt.tzinfo else dt  # core.xml is UTC

    def doc_title(self) -> str:
        """The title in the document properties: account and period."""
        return clean_text(f"{self.info.account_name} {self.period}")[:255]

    # -- hidden sheets -----------------------------------------------------------------------
    def _lists(self) -> None:
        ws = self.wb.create_sheet(LISTS_SHEET)
        ws.sheet_state = "veryHidden"
        used = sorted({f.choices for f in self.spec.iter_all_fields() if f.choices and not f.formula},
                      key=list(self.spec.choice_lists).index)
        for i, name in enumerate(used, 1):
            labels = self.spec.choices(name).labels(self.lang)
            write_text(ws.cell(row=1, column=i), name)
            for r, label in enumerate(labels, 2):
                write_text(ws.cell(row=r, column=i), label)
            letter = col_letter(i)
            self.define(f"{LIST_NAME_PREFIX}{name}", f"'{LISTS_SHEET}'!${letter}$2:${letter}${len(labels) + 1}")
        ws.protection.sheet = True

    def meta_values(self) -> dict[str, Any]:
        """The ``_meta`` values of this plan, by key (a new plan id unless ``info.plan_id``)."""
        info = self.info
        return {
            "template": self.spec.template, "template_version": self.spec.version,
            "plan_id": info.plan_id or str(uuid.uuid4()), "account_id": info.account_id,
            "account_name": info.account_name, "rep": info.rep, "period": str(self.period),
            "language": self.lang, "generated_at": self.generated_at,
            "generator_version": __version__,
            # a hand-over names the plan it continues (single plan via PlanInfo, roster via the prefill)
            "predecessor_plan_id": info.predecessor_plan_id
            or (self.prefill.meta.get("predecessor_plan_id") if self.prefill is not None else None),
        }

    def _meta(self) -> None:
        ws = self.wb.create_sheet(META_SHEET)
        ws.sheet_state = "veryHidden"
        values = self.meta_values()
        self.meta = values
        for r, key in enumerate(self.spec.meta_keys, 1):
            write_text(ws.cell(row=r, column=1), key)
            v = values.get(key)
            if v not in (None, ""):
                write_text(ws.cell(row=r, column=2), str(v))
        ws.column_dimensions["A"].width = 22
        ws.column_dimensions["B"].width = 40
        ws.protection.sheet = True

    # -- section sheets ----------------------------------------------------------------------
    def _section(self, s: Section, ws) -> None:
        layout = self.layouts[s.key]
        self.put_static(ws, TITLE_ROW, 2, s.title(self.lang), "xl Title")
        self.put_static(ws, HINT_ROW, 2, self.t("hint"), "xl Hint")
        for g, row, col in layout.group_titles:
            self._heading(ws, row, col, g.title(self.lang), g.fields)
        for pos in layout.fields.values():
            self._field(ws, s, pos)
        for tp in layout.tables.values():
            self._table(ws, s, tp)
        charts.add_charts(self, ws, s.key, layout)
        for col, w in layout.widths.items():
            ws.column_dimensions[col_letter(col)].width = w
        for row, h in layout.heights.items():
            ws.row_dimensions[row].height = h
        self.prefit_heights[ws.title] = {r: d.height for r, d in ws.row_dimensions.items()}
        printing.fit_row_heights(ws)  # prefilled long text is never cut
        self._input_fill(ws)
        ws.freeze_panes = layout.freeze
        ws.print_title_rows = layout.print_title_rows
        self._page_setup(ws)
        self._print_area(ws, layout)
        self._protect(ws)

    def _heading(self, ws, row: int, col: int, text: str, fields: Iterable[Field]) -> None:
        """A group or table title; over amounts it names the workbook's amount unit (a
        formula on ``amount_unit``, so it follows the rep's choice)."""
        if not any(f.type == "amount" for f in fields):
            self.put_static(ws, row, col, text, "xl Heading")
            return
        cell = ws.cell(row=row, column=col)
        self.styles.apply(cell, "xl Heading")
        unit = self.spec.field("amount_unit").key
        write_formula(cell, "=" + _excel_string(text) + "&" + _excel_string(self.t("unit_open")) + "&" + unit
                      + "&" + _excel_string(self.t("unit_close")))

    def _field(self, ws, s: Section, pos) -> None:
        f = pos.field
        label_style = "xl Label required" if f.required else "xl Label"
        if f.quarter:  # a real fiscal quarter (FY2026Q3); a formula, so never read as a rep's text
            label = ws.cell(row=pos.row, column=pos.label_col)
            self.styles.apply(label, label_style)
            write_formula(label, "=" + _excel_string(str(breakdown_quarters(self.period)[f.quarter - 1])))
        else:
            self.put_static(ws, pos.row, pos.label_col, f.label(self.lang), label_style)
        cell = ws.cell(row=pos.row, column=pos.col)
        if f.formula:
            self.styles.apply(cell, _calc_style(f, self.lang))
            write_formula(cell, translate_formula(self.spec, self.settings, f, self.lang, self.period))
        else:
            self.styles.apply(cell, _input_style(f, self.lang) if f.is_input else _calc_style(f, self.lang))
            value = self._field_value(f)
            if value is not None:
                write_value(cell, self._display(f, value))
            self._validation(ws, f, pos.ref)
            self._not_counted_rule(ws, f, pos.ref)
        self.define(f.key, f"{self.sheet_ref(s.key)}!{pos.abs_ref}")
        self._tone_rules(ws, f, pos.ref)

    def _field_value(self, f: Field) -> Any:
        info = self.info
        from_info = dict(zip(INFO_FIELDS, (info.account_name, info.rep, str(self.period), info.account_id,
                                           info.team_members, info.target)))
        if from_info.get(f.key) is not None:
            return from_info[f.key]
        if self.prefill is not None and self.prefill.fields.get(f.key) is not None:
            return self.prefill.fields[f.key]
        return f.default

    def _display(self, f: Field, value: Any) -> Any:
        """A PlanData value as the workbook shows it: choice keys as labels in the workbook
        language, yen as the amount unit; anything else (text a rep typed) as it is."""
        if f.choices and isinstance(value, str):
            try:
                return self.spec.choices(f.choices).get(value).label(self.lang)
            except KeyError:
                return value
        if f.type == "amount" and isinstance(value, (int, float)) and not isinstance(value, bool):
            if self.unit_factor != 1:
                q, r = divmod(value, self.unit_factor)
                return int(q) if r == 0 else value / self.unit_factor
        return value

    # -- sheet setup ------------------------------------------------------------------------
    def _page_setup(self, ws, portrait: bool = False) -> None:
        self.hf_sheets.append(ws)
        printing.page_setup(ws, lang=self.lang, account=clean_text(self.info.account_name), period=str(self.period),
                            portrait=portrait)

    def header_left(self) -> str:
        """The left part of every print header: account and period (as :func:`printing.page_setup` writes it)."""
        return printing.HF_FONT[self.lang] + printing.hf_text(f"{clean_text(self.info.account_name)}　{self.period}")

    def _print_area(self, ws, layout: SheetLayout) -> None:
        """Print only the used rows (a formula print area, see :mod:`xltools.workbook.printing`)."""
        tables = [printing.TableRows(tp.first_row, tp.input_last_row,
                                     tuple(tp.col(c.key) for c in tp.table.columns if c.is_input))
                  for tp in layout.tables.values()]
        fixed = max([layout.header_row or 0] + [p.row for p in layout.fields.values()] + [HINT_ROW])
        printing.set_print_area(self.wb, ws, printing.print_area_formula(ws.title, layout.last_col, fixed, tables))

    @staticmethod
    def _protect(ws) -> None:
        p = ws.protection
        p.sheet = True
        # allowed under protection: resizing, filtering and sorting, selecting
        p.formatColumns = p.formatRows = p.autoFilter = p.sort = False
        p.selectLockedCells = p.selectUnlockedCells = False
