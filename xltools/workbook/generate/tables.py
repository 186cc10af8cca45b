"""A list section's Excel table: header, pre-sized rows, prefilled values, and the names
other columns take their dropdown from."""
from __future__ import annotations

from copy import copy

from xltools.cells import col_letter
from xltools.spec.spec import Section, Table
from xltools.workbook.generate.formulas import translate_formula
from xltools.workbook.generate.styles import _calc_style, _column_style, _input_style
from xltools.workbook.generate.texts import SOURCE_NAME_PREFIX, TABLE_STYLE
from xltools.workbook.layout import TablePos
from xltools.workbook.xlwrite import write_value


class _Tables:
    """The builder's tables (a part of :class:`~xltools.workbook.generate.builder._Builder`)."""

    def _table(self, ws, s: Section, tp: TablePos) -> None:
        """Header, pre-sized rows and everything a rep needs to fill a table.

        Input columns get no cell records: the column's own style (unlocked, number
        format) covers the table rows and the rows below, and one conditional format per
        sheet paints the table's input cells yellow (see :meth:`_input_fill`).  That keeps a
        workbook at a few hundred cells instead of thousands (generation speed).  Formula
        and locked columns get real cells in every pre-sized row."""
        from openpyxl.cell.cell import Cell
        from openpyxl.worksheet.table import Table as XlTable
        from openpyxl.worksheet.table import TableStyleInfo

        t = tp.table
        self._heading(ws, tp.title_row, tp.first_col, t.label(self.lang), t.columns)
        fixed = {}  # column -> (style array, formula or None)
        for i, c in enumerate(t.columns):
            col = tp.first_col + i
            self.put_static(ws, tp.header_row, col, c.label(self.lang),
                            "xl Header required" if c.required else "xl Header")
            if c.is_input:
                dim = ws.column_dimensions[col_letter(col)]
                dim._style = copy(self.styles.array(_column_style(c, self.lang)))
                self.input_ranges.setdefault(ws.title, []).append(tp.column_range(c.key, spare=False))
            else:
                formula = translate_formula(self.spec, self.settings, c, self.lang, self.period) if c.formula else None
                fixed[col] = (self.styles.array(_calc_style(c, self.lang)), formula)
        cells = ws._cells
        for r in range(tp.first_row, tp.last_row + 1):
            for col, (arr, formula) in fixed.items():
                cell = Cell(ws, row=r, column=col)
                cell._style = copy(arr)
                if formula:
                    cell.value = formula
                cells[(r, col)] = cell
        self._table_values(ws, tp)
        xt = XlTable(displayName=t.name, ref=tp.ref)
        xt.tableStyleInfo = TableStyleInfo(name=TABLE_STYLE, showRowStripes=False)
        # column names exactly equal to the header cells (openpyxl would otherwise read them
        # back from the sheet, materialising every cell of the table)
        xt._initialise_columns()
        for tc, c in zip(xt.tableColumns, t.columns):
            tc.name = c.label(self.lang)
        ws.add_table(xt)
        for c in t.columns:
            if c.formula:
                self._tone_rules(ws, c, tp.column_range(c.key, spare=False))
                continue
            rng = tp.column_range(c.key)
            if c.is_input:
                self._validation(ws, c, rng)
                self._not_counted_rule(ws, c, rng)
            self._tone_rules(ws, c, rng)
            if c.overdue_unless:
                self._overdue_rule(ws, tp, c)
        self._sources(s, tp)

    def _sources(self, s: Section, tp: TablePos) -> None:
        """Defined names for columns other columns take their dropdown from."""
        for f in self.spec.iter_all_fields():
            if not f.source:
                continue
            tname, _, ckey = f.source.partition(".")
            if tname != tp.table.name:
                continue
            name = f"{SOURCE_NAME_PREFIX}{tname}_{ckey}"
            if name not in self.wb.defined_names:
                self.define(name, f"{self.sheet_ref(s.key)}!{tp.column_range(ckey, absolute=True)}")

    def _table_values(self, ws, tp: TablePos) -> None:
        t = tp.table
        rows = self.prefill.rows(t.name) if self.prefill else []
        choice_rows = None
        if t.prefill:
            prefill_col = t.column(t.prefill["column"])
            choice_rows = list(self.spec.choices(prefill_col.choices).choices)
        if rows:
            for i, row in enumerate(rows):
                values = dict(row.values)
                if choice_rows is not None:
                    self._choice_row_values(t, values)
                self._write_row(ws, tp, i, values)
        elif choice_rows is not None:
            for i, choice in enumerate(choice_rows):
                values = {prefill_col.key: choice.key}
                self._choice_row_values(t, values)
                self._write_row(ws, tp, i, values)

    def _choice_row_values(self, t: Table, values: dict) -> None:
        """A prefilled row (selection criterion, KPI): columns named like an attribute of
        the choice (``weight``) take that attribute from the company settings."""
        prefill_col = t.column(t.prefill["column"])
        try:
            choice = self.spec.choices(prefill_col.choices).get(values.get(prefill_col.key))
        except KeyError:
            return
        for c in t.columns:
            attr = getattr(choice, c.key, None) if c.key not in ("key", "label", "aliases", "tone") else None
            if attr is not None:
                values[c.key] = attr

    def _write_row(self, ws, tp: TablePos, i: int, values: dict) -> None:
        r = tp.first_row + i
        for c in tp.table.columns:
            if c.formula:
                continue
            v = values.get(c.key)
            if v is None:
                continue
            cell = ws.cell(row=r, column=tp.col(c.key))
            if c.is_input:  # a cell record overrides the column style: give it the input style
                self.styles.apply(cell, _input_style(c, self.lang))
            write_value(cell, self._display(c, v))
