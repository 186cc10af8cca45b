"""Live native charts in the plan, fed by the plan's own formula cells.

* ③ sales plan: the pipeline by fiscal quarter of expected close (``close_q1`` ..
  ``close_q8``, categories labelled with the real quarters, FY2026Q3 ...) as columns, and
  the sales target and the target × the coverage threshold (3× by default) as lines.  The
  two line series read two small columns of formula cells next to the quarters
  (``=N(sales_target)``, ``=N(sales_target)*3``).
* ④ relationship map: key persons by stance, one formula cell per stance
  (``COUNTIFS`` over ``Contacts``, people who are gone left out), bars coloured like the
  stance cells.

Both update as the rep types, in Excel and in LibreOffice.  The chart data cells are
generator cells like the Guide's checklist (formulas, locked, grey): nothing reads them
back; the figures they repeat are defined once in the spec and :mod:`xltools.spec.derive`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from xltools.cells import a1
from xltools.spec.contract import T
from xltools.spec.spec import Label

if TYPE_CHECKING:  # pragma: no cover
    from xltools.workbook.generate.builder import _Builder
    from xltools.workbook.layout import SheetLayout

TEXTS: dict[str, Label] = {
    "pipeline_title": Label("受注予定四半期別の案件と目標", "Pipeline by quarter of expected close against the target"),
    "pipeline": Label("案件（失注を除く）", "Pipeline (not lost)"),
    "target": Label("目標", "Target"),
    "target_x": Label("目標×{x}", "Target × {x}"),
    "stance_title": Label("キーマンのスタンス（在籍者）", "Key persons by stance (still in post)"),
    "stance_people": Label("人数", "People"),
    "stance_head": Label("スタンス", "Stance"),
}
#: rows a chart takes above the tables of its sheet (the table header row moves below)
CHART_ROWS = 15
CHART_WIDTH_CM = 16.0
CHART_HEIGHT_CM = 7.2
#: bar colours of the stance chart by choice tone (untoned choices: a neutral blue-grey)
TONE_BARS = {"good": "70AD47", "bad": "C00000", "warn": "FFC000", "muted": "A6A6A6", None: "8497B0"}


def chart_sections(spec) -> dict[str, str]:
    """section key -> the chart it carries ("pipeline" / "stance")."""
    out = {}
    for s in spec.sections:
        if any(f.quarter for f in s.fields) and any(t.name == T.OPPORTUNITIES for t in s.tables):
            out[s.key] = "pipeline"
        elif any(t.name == T.CONTACTS for t in s.tables):
            out[s.key] = "stance"
    return out


def min_header_row(kind: str | None) -> int:
    from xltools.workbook.layout import FIELDS_TOP

    return FIELDS_TOP + CHART_ROWS + 1 if kind else 0


def _label_cell(b: "_Builder", ws, row: int, col: int, text: str, style: str = "xl Header") -> None:
    """A label as a formula (never read as a rep's text, like the quarter labels)."""
    from xltools.workbook.generate.formulas import _excel_string
    from xltools.workbook.xlwrite import write_formula

    cell = ws.cell(row=row, column=col)
    b.styles.apply(cell, style)
    write_formula(cell, "=" + _excel_string(text))


def _formula_cell(b: "_Builder", ws, row: int, col: int, formula: str, fmt: str) -> None:
    from xltools.workbook.xlwrite import write_formula

    cell = ws.cell(row=row, column=col)
    b.styles.apply(cell, f"xl Calculated | {fmt}")
    write_formula(cell, formula)


def _chart_frame(chart, title: str) -> None:
    chart.title = title
    chart.width, chart.height = CHART_WIDTH_CM, CHART_HEIGHT_CM
    chart.legend.position = "b"


def _text_categories(chart) -> None:
    """Categories are labels (formula cells giving text): a string reference, not numbers."""
    from openpyxl.chart.data_source import AxDataSource, StrRef

    for c in [chart, *getattr(chart, "_charts", [])]:
        for s in c.series:
            if s.cat is not None and s.cat.numRef is not None:
                s.cat = AxDataSource(strRef=StrRef(f=s.cat.numRef.f))


def pipeline_chart(b: "_Builder", ws, layout: "SheetLayout") -> None:
    from openpyxl.chart import BarChart, LineChart, Reference, Series

    quarters = sorted((p for p in layout.fields.values() if p.field.quarter), key=lambda p: p.field.quarter)
    first, last = quarters[0].row, quarters[-1].row
    value_col = quarters[0].col
    # the line data right of everything that prints (the chart shows it; paper does not need it)
    t_col, x_col = layout.last_col + 2, layout.last_col + 3
    x = b.settings.thresholds.coverage_low
    x_text = str(int(x)) if float(x).is_integer() else str(x)
    head = first - 1
    titles = {t_col: b.tr(TEXTS["target"]), x_col: b.tr(TEXTS["target_x"]).format(x=x_text)}
    for col, text in titles.items():
        _label_cell(b, ws, head, col, text)
    target = b.spec.field("sales_target").key
    for p in quarters:
        _formula_cell(b, ws, p.row, t_col, f"=N({target})", "#,##0")
        _formula_cell(b, ws, p.row, x_col, f"=N({target})*{x_text}", "#,##0")
    for col in (t_col, x_col):
        ws.column_dimensions[ws.cell(1, col).column_letter].width = 14
    cats = Reference(ws, min_col=quarters[0].label_col, min_row=first, max_row=last)
    bar = BarChart()
    bar.type = "col"
    bar.series.append(Series(Reference(ws, min_col=value_col, min_row=first, max_row=last),
                             title=b.tr(TEXTS["pipeline"])))
    bar.set_categories(cats)
    bar.series[0].graphicalProperties.solidFill = "1F4E78"
    line = LineChart()
    for col, colour, dash in ((t_col, "C65911", "solid"), (x_col, "70AD47", "dash")):
        s = Series(Reference(ws, min_col=col, min_row=first, max_row=last), title_from_data=False,
                   title=titles[col])
        s.graphicalProperties.line.solidFill = colour
        s.graphicalProperties.line.width = 28575
        s.graphicalProperties.line.dashStyle = dash
        s.smooth = False
        line.series.append(s)
    line.set_categories(cats)
    _chart_frame(bar, b.tr(TEXTS["pipeline_title"]))
    bar.y_axis.numFmt = "#,##0"
    bar.y_axis.majorGridlines = None
    bar.y_axis.delete = False
    bar.x_axis.delete = False
    bar += line
    _text_categories(bar)
    ws.add_chart(bar, a1(layout.header_row - CHART_ROWS, value_col + 2))


def stance_chart(b: "_Builder", ws, layout: "SheetLayout") -> None:
    from openpyxl.chart import BarChart, Reference, Series
    from openpyxl.chart.marker import DataPoint

    from xltools.workbook.generate.formulas import _excel_string, escape_header

    contacts = b.spec.table(T.CONTACTS)
    stance_f, status_f = contacts.column("stance"), contacts.column("status")
    choices = b.spec.choices(stance_f.choices).choices
    gone = [b.spec.choices(status_f.choices).get(k).label(b.lang)
            for k in sorted(b.spec.meaning(status_f.choices, "gone"))]

    def col(f) -> str:
        return f"{T.CONTACTS}[[{escape_header(f.label(b.lang))}]]"

    top = layout.header_row - CHART_ROWS
    label_col = max([p.col for p in layout.fields.values()] + [2]) + 2
    count_col = label_col + 1
    _label_cell(b, ws, top, label_col, b.tr(TEXTS["stance_head"]))
    _label_cell(b, ws, top, count_col, b.tr(TEXTS["stance_people"]))
    cond = "".join(f',{col(status_f)},"<>"&{_excel_string(g)}' for g in gone)
    for i, ch in enumerate(choices, 1):
        _label_cell(b, ws, top + i, label_col, ch.label(b.lang), "xl Label")
        _formula_cell(b, ws, top + i, count_col,
                      f"=COUNTIFS({col(stance_f)},{_excel_string(ch.label(b.lang))}{cond})", "0")
    b.stance_cells = {ch.key: a1(top + i, count_col) for i, ch in enumerate(choices, 1)}
    ws.column_dimensions[ws.cell(1, label_col).column_letter].width = max(
        ws.column_dimensions[ws.cell(1, label_col).column_letter].width or 0, 12)
    bar = BarChart()
    bar.type = "bar"
    s = Series(Reference(ws, min_col=count_col, min_row=top + 1, max_row=top + len(choices)),
               title=b.tr(TEXTS["stance_people"]))
    for i, ch in enumerate(choices):
        pt = DataPoint(idx=i)
        pt.graphicalProperties.solidFill = TONE_BARS.get(ch.tone, TONE_BARS[None])
        s.dPt.append(pt)
    bar.series.append(s)
    bar.set_categories(Reference(ws, min_col=label_col, min_row=top + 1, max_row=top + len(choices)))
    _chart_frame(bar, b.tr(TEXTS["stance_title"]))
    bar.legend = None
    bar.y_axis.majorUnit = 1
    bar.y_axis.numFmt = "0"
    bar.y_axis.delete = False
    bar.x_axis.delete = False
    bar.x_axis.scaling.orientation = "maxMin"  # the first stance on top
    _text_categories(bar)
    ws.add_chart(bar, a1(top, count_col + 2))


def add_charts(b: "_Builder", ws, section_key: str, layout: "SheetLayout") -> None:
    kind = chart_sections(b.spec).get(section_key)
    if kind == "pipeline":
        pipeline_chart(b, ws, layout)
    elif kind == "stance":
        stance_chart(b, ws, layout)
