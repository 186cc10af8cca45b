"""Data validations (dropdowns, numeric and date checks, input messages) and conditional
formats (tones, overdue dates, values the workbook cannot count, the tables' input fill)."""
from __future__ import annotations

from xltools.cells import col_letter
from xltools.spec.spec import Field
from xltools.workbook.generate.formulas import _CHOICE_REF, _excel_string
from xltools.workbook.generate.styles import INPUT_FILL, NOT_COUNTED_FILL, TONES
from xltools.workbook.generate.texts import (
    ERROR_MAX,
    LIST_NAME_PREFIX,
    PROMPT_MAX,
    PROMPT_TITLE_MAX,
    SOURCE_NAME_PREFIX,
)
from xltools.workbook.layout import TablePos

#: numeric checks (warning style, so a rep can still override): type -> (kind, low, high)
NUMERIC_CHECKS = {"rating": ("whole", 1, 5), "month": ("whole", 1, 12), "percent": ("decimal", 0, 100)}
#: type checks for the other numbers and dates (warning style): type -> (kind, low, high, message)
TYPE_CHECKS = {"amount": ("decimal", "-1E+15", "1E+15", "dv_number"),
               "integer": ("whole", "-2147483647", "2147483647", "dv_number"),
               "number": ("decimal", "-1E+15", "1E+15", "dv_number"),
               "date": ("date", "1", "2958465", "dv_date")}



class _Rules:
    """The builder's validations and conditional formats (a part of :class:`~xltools.workbook.generate.builder._Builder`)."""

    def _validation(self, ws, f: Field, sqref: str) -> None:
        from openpyxl.worksheet.datavalidation import DataValidation

        dv = None
        if f.choices:
            dv = DataValidation(type="list", formula1=f"{LIST_NAME_PREFIX}{f.choices}", allow_blank=True)
            if f.open:
                dv.showErrorMessage = False
            else:
                dv.showErrorMessage, dv.errorStyle = True, "stop"
                dv.error, dv.errorTitle = self.t("dv_choice")[:ERROR_MAX], self.t("dv_title")
        elif f.source:
            tname, _, ckey = f.source.partition(".")
            dv = DataValidation(type="list", formula1=f"{SOURCE_NAME_PREFIX}{tname}_{ckey}", allow_blank=True)
            dv.showErrorMessage, dv.errorStyle = True, "warning"
            dv.error, dv.errorTitle = self.t("dv_source")[:ERROR_MAX], self.t("dv_title")
        elif f.type in NUMERIC_CHECKS:
            kind, low, high = NUMERIC_CHECKS[f.type]
            dv = DataValidation(type=kind, operator="between", formula1=str(low), formula2=str(high),
                                allow_blank=True)
            dv.showErrorMessage, dv.errorStyle = True, "warning"
            dv.error, dv.errorTitle = self.t("dv_range", low=low, high=high)[:ERROR_MAX], self.t("dv_title")
        elif f.type in TYPE_CHECKS:
            kind, low, high, message = TYPE_CHECKS[f.type]
            dv = DataValidation(type=kind, operator="between", formula1=low, formula2=high, allow_blank=True)
            dv.showErrorMessage, dv.errorStyle = True, "warning"
            dv.error, dv.errorTitle = self.t(message)[:ERROR_MAX], self.t("dv_title")
        elif f.help:
            dv = DataValidation(allow_blank=True)
        if dv is None:
            return
        if f.help:
            dv.showInputMessage = True
            dv.promptTitle = f.label(self.lang)[:PROMPT_TITLE_MAX]
            dv.prompt = f.help(self.lang)[:PROMPT_MAX]
            self.static.add(dv.prompt)
        dv.add(sqref)
        ws.add_data_validation(dv)

    def _tone_rules(self, ws, f: Field, sqref: str) -> None:
        """Colour the labels of choices that carry a tone (stance, verdict...)."""
        from openpyxl.formatting.rule import CellIsRule
        from openpyxl.styles import Font, PatternFill

        lists = [f.choices] if f.choices else []
        if f.formula:
            lists += _CHOICE_REF.findall(f.formula)
        for name in dict.fromkeys(lists):
            for ch in self.spec.choices(name).choices:
                if ch.tone is None:
                    continue
                fill, font = TONES[ch.tone]
                ws.conditional_formatting.add(sqref, CellIsRule(
                    operator="equal", formula=[_excel_string(ch.label(self.lang))],
                    fill=PatternFill(bgColor=fill, fill_type="solid"), font=Font(color=font)))

    def _not_counted_rule(self, ws, f: Field, sqref: str) -> None:
        """Highlight a value the workbook's formulas cannot count: a number or date typed as
        text, or (closed lists) a value that is not one of the list's labels."""
        from openpyxl.formatting.rule import FormulaRule
        from openpyxl.styles import PatternFill

        first = sqref.split()[0].split(":")[0].replace("$", "")
        if f.type in NUMERIC_CHECKS or f.type in TYPE_CHECKS:
            cond = f"AND(LEN({first})>0,NOT(ISNUMBER({first})))"
        elif f.choices and not f.open:
            cond = f"AND(LEN({first})>0,ISNA(MATCH({first},{LIST_NAME_PREFIX}{f.choices},0)))"
        else:
            return
        ws.conditional_formatting.add(sqref, FormulaRule(
            formula=[cond], stopIfTrue=True, fill=PatternFill(bgColor=NOT_COUNTED_FILL, fill_type="solid")))

    def _input_fill(self, ws) -> None:
        """Yellow for the tables' input cells, added last so that it has the lowest priority
        (a stance or overdue colour wins)."""
        from openpyxl.formatting.rule import FormulaRule
        from openpyxl.styles import PatternFill

        ranges = self.input_ranges.get(ws.title)
        if ranges:
            ws.conditional_formatting.add(" ".join(ranges), FormulaRule(
                formula=["TRUE"], fill=PatternFill(bgColor=INPUT_FILL, fill_type="solid")))

    def _overdue_rule(self, ws, tp: TablePos, c: Field) -> None:
        from openpyxl.formatting.rule import FormulaRule
        from openpyxl.styles import Font, PatternFill

        other, keys = c.overdue_unless
        other_f = tp.table.column(other)
        me = f"${col_letter(tp.col(c.key))}{tp.first_row}"
        them = f"${col_letter(tp.col(other))}{tp.first_row}"
        labels = [self.spec.choices(other_f.choices).get(k).label(self.lang) for k in keys]
        conds = [f"ISNUMBER({me})", f"{me}<TODAY()"] + [f"{them}<>{_excel_string(x)}" for x in labels]
        fill, font = TONES["bad"]
        ws.conditional_formatting.add(tp.column_range(c.key), FormulaRule(
            formula=[f"AND({','.join(conds)})"], fill=PatternFill(bgColor=fill, fill_type="solid"),
            font=Font(color=font, b=True)))
