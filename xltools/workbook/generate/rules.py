"""Data validations (dropdowns, numeric and date checks, input messages) and conditional
formats (tones, overdue dates, values the workbook cannot count, the tables' input fill)."""
from __future__ import annotations

from typing import Any

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



#: the differential styles (fill, font) of the rules, made once per process and shared by
#: every workbook: openpyxl never changes one, and the writer (:func:`xltools.workbook.outfile.write_xlsx`)
#: then looks each up once per save instead of comparing it with every other
_DXFS: dict[tuple[str, str | None, bool], Any] = {}


def rule_dxf(fill: str, font: str | None = None, bold: bool = False) -> Any:
    """The differential style of a rule: a solid ``fill``, and a ``font`` colour (bold) if given."""
    dxf = _DXFS.get((fill, font, bold))
    if dxf is None:
        from openpyxl.styles import Font, PatternFill
        from openpyxl.styles.differential import DifferentialStyle

        dxf = _DXFS[(fill, font, bold)] = DifferentialStyle(
            font=None if font is None else Font(color=font, b=True) if bold else Font(color=font),
            fill=PatternFill(bgColor=fill, fill_type="solid"))
    return dxf


def equal_rule(formula: str, fill: str, font: str) -> Any:
    """A ``cellIs`` ``equal`` rule in ``fill`` and ``font`` (what openpyxl's helper makes, with a shared style)."""
    from openpyxl.formatting.rule import Rule

    rule = Rule(type="cellIs", operator="equal", formula=[formula])
    rule.dxf = rule_dxf(fill, font)
    return rule


def formula_rule(formula: str, fill: str, font: str | None = None, *, bold: bool = False,
                 stop: bool | None = None) -> Any:
    """An ``expression`` rule in ``fill`` (and ``font``), with a shared style."""
    from openpyxl.formatting.rule import Rule

    rule = Rule(type="expression", formula=[formula], stopIfTrue=stop)
    rule.dxf = rule_dxf(fill, font, bold)
    return rule


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
        lists = [f.choices] if f.choices else []
        if f.formula:
            lists += _CHOICE_REF.findall(f.formula)
        for name in dict.fromkeys(lists):
            for ch in self.spec.choices(name).choices:
                if ch.tone is None:
                    continue
                fill, font = TONES[ch.tone]
                ws.conditional_formatting.add(sqref, equal_rule(_excel_string(ch.label(self.lang)), fill, font))

    def _not_counted_rule(self, ws, f: Field, sqref: str) -> None:
        """Highlight a value the workbook's formulas cannot count: a number or date typed as
        text, or (closed lists) a value that is not one of the list's labels."""
        first = sqref.split()[0].split(":")[0].replace("$", "")
        if f.type in NUMERIC_CHECKS or f.type in TYPE_CHECKS:
            cond = f"AND(LEN({first})>0,NOT(ISNUMBER({first})))"
        elif f.choices and not f.open:
            cond = f"AND(LEN({first})>0,ISNA(MATCH({first},{LIST_NAME_PREFIX}{f.choices},0)))"
        else:
            return
        ws.conditional_formatting.add(sqref, formula_rule(cond, NOT_COUNTED_FILL, stop=True))

    def _input_fill(self, ws) -> None:
        """Yellow for the tables' input cells, added last so that it has the lowest priority
        (a stance or overdue colour wins)."""
        ranges = self.input_ranges.get(ws.title)
        if ranges:
            ws.conditional_formatting.add(" ".join(ranges), formula_rule("TRUE", INPUT_FILL))

    def _overdue_rule(self, ws, tp: TablePos, c: Field) -> None:
        other, keys = c.overdue_unless
        other_f = tp.table.column(other)
        me = f"${col_letter(tp.col(c.key))}{tp.first_row}"
        them = f"${col_letter(tp.col(other))}{tp.first_row}"
        labels = [self.spec.choices(other_f.choices).get(k).label(self.lang) for k in keys]
        conds = [f"ISNUMBER({me})", f"{me}<TODAY()"] + [f"{them}<>{_excel_string(x)}" for x in labels]
        fill, font = TONES["bad"]
        ws.conditional_formatting.add(tp.column_range(c.key), formula_rule(f"AND({','.join(conds)})", fill, font,
                                                                            bold=True))
