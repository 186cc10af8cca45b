"""The success-case library as a workbook for reps (``xltools cases export``): the list
sheet 事例一覧 / Cases (a filterable table, one row per case, its number linking to the
card) and the card sheet 事例カード / Case cards (every column of a case and whom to ask),
both printable on A4.  The cases come from :func:`xltools.reports.cases.export_library`.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from xltools import clock
from xltools.reports.cases import Case, _choice_label, _src_text, cases_table
from xltools.spec.spec import Label, Spec

_XL = {
    "list_sheet": Label("事例一覧", "Cases"),
    "card_sheet": Label("事例カード", "Case cards"),
    "no": Label("No.", "No."),
    "sources": Label("出典プラン", "Source plans"),
    "updated": Label("更新日", "Updated"),
    "title": Label("成功事例集", "Success-case library"),
    "scope": Label("共有範囲", "Scope"),
    "made": Label("作成日時", "Created"),
    "count": Label("件数", "Cases"),
    "own_id": Label("記入者の事例ID", "Author's case ID"),
    "current_rep": Label("現在の担当営業", "Current account manager"),
    "ask": Label("問い合わせ先", "Whom to ask"),
    "author_is": Label("記入者", "Author"),
    "rep_is": Label("担当営業", "Account manager"),
    "confidential": Label("社外秘", "Confidential"),
    "page_of": Label("&P / &N ページ", "Page &P of &N"),
}
#: the list sheet's columns (SuccessCases keys; the card sheet shows every column)
LIST_COLUMNS = ("title", "customer", "industry", "products", "amount", "closed_date", "author", "case_id")
LIST_WIDTHS = {"title": 40, "customer": 20, "industry": 12, "products": 20, "amount": 13, "closed_date": 11,
               "author": 10, "case_id": 14}
#: the Excel table of the list sheet
LIBRARY_TABLE = "CaseLibrary"


def write_library(spec: Spec, cases: list[Case], out: Path, *, lang: str, now: datetime | None) -> None:
    """Write ``cases`` (in list order) to ``out`` atomically; ``now`` dates the header."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.hyperlink import Hyperlink
    from openpyxl.worksheet.page import PageMargins

    from xltools.workbook.outfile import save_workbook
    from xltools.workbook.xlwrite import DATE_FORMAT, write_table, write_value

    cols = list(cases_table(spec).columns)
    wb = Workbook()
    ws = wb.active
    ws.title = _XL["list_sheet"](lang)
    cards = wb.create_sheet(_XL["card_sheet"](lang))

    # cards first: the list links to each card's row
    bold = Font(bold=True)
    head_font = Font(bold=True, size=12, color="FFFFFF")
    head_fill = PatternFill("solid", fgColor="1F4E78")
    label_fill = PatternFill("solid", fgColor="DDEBF7")
    wrap = Alignment(wrap_text=True, vertical="top")
    cards.column_dimensions["A"].width = 20
    cards.column_dimensions["B"].width = 90
    card_row: dict[int, int] = {}
    r = 1
    for case in cases:
        card_row[case.id] = r
        write_value(cards.cell(row=r, column=1), f"{_XL['no'](lang)} {case.no}")
        write_value(cards.cell(row=r, column=2), case["title"] or "")
        for col in (1, 2):
            cards.cell(row=r, column=col).font = head_font
            cards.cell(row=r, column=col).fill = head_fill
        r += 1
        for c in cols:
            v = case.values.get(c.key)
            if v is None or c.key == "title":
                continue
            lab = cards.cell(row=r, column=1)
            write_value(lab, c.label(lang))
            lab.font, lab.fill, lab.alignment = bold, label_fill, wrap
            cell = cards.cell(row=r, column=2)
            if c.type == "amount":
                cell.number_format = "#,##0"
            write_value(cell, _choice_label(spec, c, v, lang))
            cell.alignment = Alignment(wrap_text=True, vertical="top", horizontal="left")
            r += 1
        ask = [f"{_XL['author_is'](lang)} {case['author']}"] if case["author"] else []
        ask += [f"{_XL['rep_is'](lang)} {rep}" for rep in case.current_reps]
        for key, text in (("ask", "　".join(ask)), ("sources", _src_text(case))):
            if text:  # whom to ask, the source plans
                lab = cards.cell(row=r, column=1)
                write_value(lab, _XL[key](lang))
                lab.font, lab.fill = bold, label_fill
                write_value(cards.cell(row=r, column=2), text)
                cards.cell(row=r, column=2).alignment = wrap
                r += 1
        r += 1  # a blank row between cards

    # the list: the columns a reader scans, in one A4 landscape width (the cards have the rest)
    table = cases_table(spec)
    shown = [table.column(k) for k in LIST_COLUMNS if k in {c.key for c in cols}]
    headers = ([_XL["no"](lang)] + [_XL["own_id"](lang) if c.key == "case_id" else c.label(lang) for c in shown]
               + [_XL["current_rep"](lang), _XL["sources"](lang)])
    rows = []
    for case in cases:
        rows.append([case.no] + [_choice_label(spec, c, case.values.get(c.key), lang) for c in shown]
                    + [", ".join(case.current_reps) or None, _src_text(case) or None])
    formats = {0: "0"}
    widths = {0: 6}
    for i, c in enumerate(shown, 1):
        if c.type == "amount":
            formats[i] = "#,##0"
        elif c.type == "date":
            formats[i] = DATE_FORMAT
        widths[i] = LIST_WIDTHS.get(c.key, 12)
    widths[len(shown) + 1], widths[len(shown) + 2] = 14, 30
    write_table(ws, LIBRARY_TABLE, headers, rows, top=1, left=1, number_formats=formats, widths=widths)
    ws.freeze_panes = "B2"
    for i, case in enumerate(cases, 2):
        cell = ws.cell(row=i, column=1)
        cell.hyperlink = Hyperlink(ref=cell.coordinate, location=f"'{cards.title}'!A{card_row[case.id]}")
        cell.font = Font(color="0563C1", underline="single")
        for j in range(2, len(headers) + 1):
            ws.cell(row=i, column=j).alignment = Alignment(vertical="top", wrap_text=True)
    ws.sheet_properties.tabColor = "1F4E78"
    ws.print_title_rows = "1:1"
    cards.sheet_view.showGridLines = False
    made = clock.resolve(now).astimezone().strftime("%Y-%m-%d")
    for sheet in (ws, cards):  # printed: as wide as the paper, as many pages down as needed
        sheet.page_setup.orientation = "landscape" if sheet is ws else "portrait"
        sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
        sheet.page_margins = PageMargins(left=0.4, right=0.4, top=0.7, bottom=0.6, header=0.3, footer=0.3)
        sheet.print_options.gridLines = False
        for hf in (sheet.oddHeader, sheet.evenHeader, sheet.firstHeader):
            hf.left.text = _XL["title"](lang)
            hf.center.text = _XL["confidential"](lang)
            hf.right.text = f"{_XL['made'](lang)} {made}"
        for hf in (sheet.oddFooter, sheet.evenFooter, sheet.firstFooter):
            hf.left.text = sheet.title.replace("&", "&&")
            hf.center.text = _XL["page_of"](lang)
    wb.properties.creator = "xltools"
    wb.properties.title = _XL["title"](lang)
    save_workbook(wb, out)
