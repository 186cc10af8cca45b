"""The Guide sheet: this plan, purpose, how to fill it in, the colour legend and the
completion checklist."""
from __future__ import annotations

from xltools.cells import col_letter
from xltools.spec.spec import Field, Table
from xltools.workbook.generate.formulas import _excel_string, _number, escape_header
from xltools.workbook.generate.rules import equal_rule
from xltools.workbook.generate.styles import FORMULA_FILL, INPUT_FILL, NOT_COUNTED_FILL, REQUIRED_FONT, TONES, _merge
from xltools.workbook.xlwrite import display_width, write_formula


class _Guide:
    """The builder's Guide sheet (a part of :class:`~xltools.workbook.generate.builder._Builder`)."""

    def _guide(self, ws) -> None:
        widths = {1: 2.5, 2: 30, 3: 12, 4: 16, 5: 16, 6: 18, 7: 14, 8: 12}
        for c, w in widths.items():
            ws.column_dimensions[col_letter(c)].width = w
        total_width = sum(w for c, w in widths.items() if c >= 2)
        row = 1
        self.put_static(ws, row, 2, self.t("guide_title"), "xl Title")
        row = 3
        # this plan: account, rep, period (formulas: the Overview is the single place to edit)
        self.put_static(ws, row, 2, self.t("plan_title"), "xl Heading")
        row += 1
        for key in ("account_name", "rep", "period"):
            f = self.spec.field(key)
            self.put_static(ws, row, 2, f.label(self.lang), "xl Label")
            cell = ws.cell(row=row, column=3)
            self.styles.apply(cell, "xl Calculated | General")
            write_formula(cell, f'=IF({key}="","",{key})')
            _merge(ws, row, 3, row, 5)
            row += 1
        row += 1

        def paragraph(text: str) -> None:
            nonlocal row
            self.put_static(ws, row, 2, text, "xl Paragraph")
            _merge(ws, row, 2, row, 8)
            lines = -(-display_width(text) // int(total_width * 0.9)) + text.count("\n")
            ws.row_dimensions[row].height = max(1, lines) * 16
            row += 1

        th = self.settings.thresholds
        self.put_static(ws, row, 2, self.t("purpose_title"), "xl Heading")
        row += 1
        for key in ("purpose_1", "purpose_2", "purpose_3"):
            paragraph(self.t(key, low=_number(th.coverage_low), high=_number(th.coverage_high)))
        row += 1
        self.put_static(ws, row, 2, self.t("howto_title"), "xl Heading")
        row += 1
        sep = "、" if self.lang == "ja" else ", "
        required = sep.join(s.label(self.lang) for s in self.spec.sections if s.required)
        unit_field = self.spec.field("amount_unit")
        units = "／".join(self.spec.choices(unit_field.choices).labels(self.lang)) if self.lang == "ja" else \
            " / ".join(self.spec.choices(unit_field.choices).labels(self.lang))
        steps = [self.t("howto_1", sheets=required), self.t("howto_2"),
                 self.t("howto_3", unit_label=unit_field.label(self.lang), units=units),
                 self.t("howto_4"), self.t("howto_5"), self.t("howto_6")]
        for i, text in enumerate(steps, 1):
            paragraph(f"{i}. {text}")
        row += 1
        row = self._legend(ws, row)
        row += 1
        self._checklist(ws, row)
        self._page_setup(ws)
        ws.page_setup.fitToHeight = 1  # the guide is one page
        self._protect(ws)

    def _table_complete(self, t: Table) -> str:
        """TRUE when the table has a row and every row with input has all required columns,
        as the checker counts it (a required column left empty is E-REQUIRED, not done)."""
        def col(c: Field) -> str:
            return f"{t.name}[[{escape_header(c.label(self.lang))}]]"

        written = f"(LEN({'&'.join(col(c) for c in t.columns if c.is_input)})>0)"
        missing = "+".join(f"SUMPRODUCT({written}*(LEN({col(c)})=0))" for c in t.required_columns)
        return f"AND(SUMPRODUCT(--{written})>0,{missing}=0)"

    def _legend(self, ws, row: int) -> int:
        self.put_static(ws, row, 2, self.t("legend_title"), "xl Heading")
        row += 1
        samples = [
            (f"xl Sample | {INPUT_FILL}", "legend_input"),
            (f"xl Sample | {FORMULA_FILL}", "legend_formula"),
            (f"xl Sample font | {REQUIRED_FONT}", "legend_required"),
            (f"xl Sample | {TONES['bad'][0]}", "legend_overdue"),
            (f"xl Sample | {NOT_COUNTED_FILL}", "legend_not_counted"),
        ]
        for style, key in samples:
            self.styles.apply(ws.cell(row=row, column=2), style)
            self.put_static(ws, row, 3, self.t(key), "xl Text")
            row += 1
        sep = "、" if self.lang == "ja" else ", "
        for tone, (fill, _font) in TONES.items():
            labels = [ch.label(self.lang) for cl in self.spec.choice_lists.values() for ch in cl.choices
                      if ch.tone == tone]
            if not labels:
                continue
            cell = ws.cell(row=row, column=2)
            self.styles.apply(cell, f"xl Sample | {fill}")
            self.put_static(ws, row, 3, f"{self.t('tone_' + tone)}：{sep.join(labels)}" if self.lang == "ja"
                            else f"{self.t('tone_' + tone)}: {sep.join(labels)}", "xl Text")
            row += 1
        return row

    def _checklist(self, ws, row: int) -> None:
        self.put_static(ws, row, 2, self.t("checklist_title"), "xl Heading")
        row += 1
        heads = ["col_sheet", "col_kind", "col_fields_done", "col_fields_total", "col_tables_done",
                 "col_tables_total", "col_status"]
        for i, key in enumerate(heads):
            self.put_static(ws, row, 2 + i, self.t(key), "xl Header")
        ws.row_dimensions[row].height = 32
        self.checklist_rows: dict[str, int] = {}
        done, todo = _excel_string(self.t("complete")), _excel_string(self.t("incomplete"))
        self.static.update({self.t("complete"), self.t("incomplete")})
        for s in self.spec.sections:
            row += 1
            self.checklist_rows[s.key] = row
            self.put_static(ws, row, 2, s.label(self.lang), "xl Label")
            self.put_static(ws, row, 3, self.t("required" if s.required else "optional"), "xl Label")
            req_fields = [f.key for f in s.fields if f.required]
            # an optional section never needs a row; its checklist shows done when nothing is required
            req_tables = [t for t in s.tables if t.required_columns] if s.required else []
            cells = {}
            for col, parts, total in (
                    (4, [f"(LEN({k})>0)" for k in req_fields], len(req_fields)),
                    (6, [self._table_complete(t) for t in req_tables], len(req_tables))):
                c_done = ws.cell(row=row, column=col)
                self.styles.apply(c_done, "xl Calculated | 0")
                # formulas even for constants: the reader treats formula cells as the
                # generator's own, while a plain number would read as a rep's stray value
                write_formula(c_done, "=" + "+".join(parts) if parts else "=0")
                c_total = ws.cell(row=row, column=col + 1)
                self.styles.apply(c_total, "xl Calculated | 0")
                write_formula(c_total, f"={total}")
                cells[col] = (c_done.coordinate, c_total.coordinate)
            status = ws.cell(row=row, column=8)
            self.styles.apply(status, "xl Calculated | General")
            (fd, ft), (td, tt) = cells[4], cells[6]
            write_formula(status, f"=IF(AND({fd}={ft},{td}={tt}),{done},{todo})")
        first = min(self.checklist_rows.values())
        for label, tone in ((done, "good"), (todo, "bad")):
            fill, font = TONES[tone]
            ws.conditional_formatting.add(f"H{first}:H{row}", equal_rule(label, fill, font))
