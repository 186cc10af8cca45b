"""The plan's sheet 「ホワイトスペース / Whitespace」: customer departments × our solutions.

Each cell says what the department has of the solution -- won / in progress / lost /
none (the whitespace) -- by the rule of :func:`xltools.spec.derive.whitespace`, computed by
formula from the Opportunities table so it updates as the rep types:

* the rows are the distinct departments of Opportunities, then of Contacts, in order of
  first appearance (:func:`xltools.spec.derive.departments`), found on the hidden helper sheet
  (one candidate per table row; the first of each department, ``SUMPRODUCT(--(above=me))=1``,
  gets the next number, ``MAX(numbers above) + 1``; ``MATCH(k, numbers, 0)`` finds the k-th);
* the columns are the company's solutions (the spec's ``solution`` list, or
  ``[[solutions]]`` in xltools.toml), the same list as the dropdown of ``solution``;
* a cell counts the opportunities of its department and solution by stage with
  ``SUMPRODUCT`` over the table columns (exact comparisons: a department named
  ``*`` or ``<営業>`` is not a COUNTIFS wildcard or operator) and names the status by the
  labels of the spec's ``whitespace`` list (``means:`` won / open / lost / none).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from xltools.cells import a1, col_letter
from xltools.spec.contract import T
from xltools.spec.spec import Label

if TYPE_CHECKING:  # pragma: no cover
    from xltools.workbook.generate.builder import _Builder
    from xltools.workbook.summary import Helper

#: departments shown (the rest is counted in a note under the map)
MAX_DEPARTMENTS = 20
TEXTS: dict[str, Label] = {
    "sheet": Label("ホワイトスペース", "Whitespace"),
    "title": Label("ホワイトスペース分析（顧客部門 × 当社ソリューション）", "Whitespace map (customer departments × our solutions)"),
    "note": Label("③売上計画の案件（顧客部門・提案ソリューション・ステージ）から自動で計算されます（入力不要）。",
                  "Calculated from the opportunities of the sales plan (customer department, proposed solution, "
                  "stage); nothing to type here."),
    "note2": Label("部門は案件、次にキーマンの部署から拾います。列は当社ソリューションの一覧（会社設定）です。",
                   "Departments come from the opportunities, then from the key persons; the columns are our "
                   "solutions (company settings)."),
    "department": Label("顧客部門", "Customer department"),
    "more": Label("ほか {n} 部門は表示しきれません（案件シートで確認してください）。",
                  "{n} more departments do not fit here (see the sales plan)."),
    "legend_won": Label("この部門でこのソリューションの受注あり", "an opportunity of this solution won in this department"),
    "legend_open": Label("進行中の案件あり（受注なし）", "an opportunity in progress (none won)"),
    "legend_lost": Label("失注のみ", "lost only"),
    "legend_none": Label("案件なし：提案の余地（ホワイトスペース）", "no opportunity yet: the whitespace"),
}
LEGEND = ("won", "open", "lost", "none")


def tr(b: "_Builder", key: str, **params) -> str:
    text = TEXTS[key](b.lang)
    return text.format(**params) if params else text


def _department_helper(b: "_Builder", helper: "Helper") -> tuple[str, str]:
    """Helper columns listing the distinct departments: returns (department range, number range)."""
    from xltools.workbook.summary import structured
    from xltools.workbook.xlwrite import write_formula

    n_opp, n_con = b.table_rows[T.OPPORTUNITIES], b.table_rows[T.CONTACTS]
    n = n_opp + n_con
    dcol, top = helper.columns("department", n)
    ncol, _ = helper.columns("department number", n)
    d, num = col_letter(dcol), col_letter(ncol)
    ws = helper.ws
    for i in range(1, n + 1):
        row = top + i - 1
        src = (f"INDEX({structured(b, T.OPPORTUNITIES, 'department')},{i})" if i <= n_opp else
               f"INDEX({structured(b, T.CONTACTS, 'department')},{i - n_opp})")
        write_formula(ws.cell(row=row, column=dcol), f'=IF(LEN({src})=0,"",{src})')
        # the first of its department gets the next number (the header above counts 0 for MAX)
        write_formula(ws.cell(row=row, column=ncol),
                      f'=IF({d}{row}="","",IF(SUMPRODUCT(--(${d}${top}:{d}{row}={d}{row}))=1,'
                      f'MAX(${num}${top - 1}:{num}{row - 1})+1,""))')
    sheet = f"'{helper.ws.title}'"
    return (f"{sheet}!${d}${top}:${d}${top + n - 1}", f"{sheet}!${num}${top}:${num}${top + n - 1}")


def add_whitespace(b: "_Builder", ws, helper: "Helper") -> None:
    """Fill the whitespace sheet ``ws``: a title, the map and its legend, one A4 page."""
    from xltools.workbook.generate.formulas import _excel_string
    from xltools.workbook.generate.rules import equal_rule
    from xltools.workbook.generate.styles import TONES
    from xltools.workbook.summary import structured
    from xltools.workbook.xlwrite import write_formula

    spec = b.spec
    depts, numbers = _department_helper(b, helper)
    opp = spec.table(T.OPPORTUNITIES)
    solutions = spec.choices(opp.column("solution").choices).choices
    stage_list = opp.column("stage").choices
    status = spec.choices("whitespace")
    label = {tag: _excel_string(status.get(spec.the("whitespace", tag)).label(b.lang)) for tag in LEGEND}
    dept_ref, sol_ref, stage_ref = (structured(b, T.OPPORTUNITIES, k) for k in ("department", "solution", "stage"))

    def stages(tag: str) -> list[str]:
        return [_excel_string(spec.choices(stage_list).get(k).label(b.lang))
                for k in sorted(spec.meaning(stage_list, tag))]

    first_col, head_row = 2, 4
    ws.column_dimensions["A"].width = 1.5
    ws.column_dimensions[col_letter(first_col)].width = 22
    b.put_static(ws, 1, first_col, tr(b, "title"), "xl Title")
    b.put_static(ws, 2, first_col, tr(b, "note"), "xl Hint")
    b.put_static(ws, 3, first_col, tr(b, "note2"), "xl Hint")
    b.put_static(ws, head_row, first_col, tr(b, "department"), "xl Header")
    for j, sol in enumerate(solutions, 1):
        col = first_col + j
        b.put_static(ws, head_row, col, sol.label(b.lang), "xl Header")
        ws.column_dimensions[col_letter(col)].width = 13
    ws.row_dimensions[head_row].height = 45
    last_col = first_col + len(solutions)
    for k in range(1, MAX_DEPARTMENTS + 1):
        row = head_row + k
        name = ws.cell(row=row, column=first_col)
        b.styles.apply(name, "xl Label")
        write_formula(name, f'=IFERROR(INDEX({depts},MATCH({k},{numbers},0)),"")')
        me = f"${col_letter(first_col)}{row}"
        for j, sol in enumerate(solutions, 1):
            col = first_col + j
            sol_cell = _excel_string(sol.label(b.lang))
            base = f"({dept_ref}={me})*({sol_ref}={sol_cell})"

            def count(extra: str, base=base) -> str:
                return f"SUMPRODUCT({base}*{extra})"
            won = "+".join(count(f"({stage_ref}={x})") for x in stages("won"))
            lost = "+".join(count(f"({stage_ref}={x})") for x in stages("lost"))
            open_ = count("*".join(f"({stage_ref}<>{x})" for x in stages("closed")))
            cell = ws.cell(row=row, column=col)
            b.styles.apply(cell, "xl Cell centred | @")
            write_formula(cell, f'=IF({me}="","",IF({won}>0,{label["won"]},IF({open_}>0,{label["open"]},'
                                f'IF({lost}>0,{label["lost"]},{label["none"]}))))')
    map_ref = f"{a1(head_row + 1, first_col + 1)}:{a1(head_row + MAX_DEPARTMENTS, last_col)}"
    for tag in LEGEND:
        ch = status.get(spec.the("whitespace", tag))
        if ch.tone:
            fill, font = TONES[ch.tone]
            ws.conditional_formatting.add(map_ref, equal_rule(label[tag], fill, font))
    row = head_row + MAX_DEPARTMENTS + 1
    more = ws.cell(row=row, column=first_col)
    b.styles.apply(more, "xl Hint")
    write_formula(more, f'=IF(MAX({numbers})>{MAX_DEPARTMENTS},SUBSTITUTE({_excel_string(tr(b, "more"))},'
                        f'"{{n}}",MAX({numbers})-{MAX_DEPARTMENTS}),"")')
    row += 1
    for tag in LEGEND:
        ch = status.get(spec.the("whitespace", tag))
        b.put_static(ws, row, first_col, ch.label(b.lang),
                     f"xl Sample | {TONES[ch.tone][0]}" if ch.tone else "xl Label")
        b.put_static(ws, row, first_col + 1, tr(b, f"legend_{tag}"), "xl Text")
        row += 1
    ws.print_area = f"A1:{col_letter(last_col)}{row - 1}"
    b._page_setup(ws)
    ws.page_setup.fitToHeight = 1
    b._protect(ws)
