"""The plan's first sheet 「サマリー / Summary」: the account on one page, the APS handout.

Everything on it is a formula over the other sheets, so it updates as the rep types (in
Excel 2016+ and in LibreOffice; no dynamic arrays):

* account, rep, team, period, tier and selection score; target, in-period pipeline,
  coverage and verdict, weighted forecast and LTV: the plan's own fields and figures
  (``=IF(name="","",name)``), defined once in the spec and :mod:`xltools.spec.derive`;
* lists picked from the tables: the top opportunities of the target period, key persons
  with their stance, executive pairings, the activities of the next 90 days (from the
  workbook's ``TODAY()``, said on the sheet) and the open asks to management.

Each list is ranked on the hidden helper sheet ``_summary``: one *key* per table row
(blank when the row does not belong on the list), its rank
(``COUNTIF(keys,"<"&key) + COUNTIF(keys above,key)``: ties keep the table's order) and,
per place on the list, the table row holding it (``MATCH(k, ranks, 0)``).  The summary
cells are ``INDEX(Table[Column], that row)``.  The rules are the functions of
:mod:`xltools.spec.derive` (``top_opportunities``, ``key_persons``, ``executive_pairings``,
``upcoming_activities``, ``open_asks``); ``tests/test_summary.py`` recalculates filled
plans in LibreOffice and compares.

The helper sheet is a generator sheet like ``_lists``: very hidden, without fields or
tables, so the reader never reads it.
"""
from __future__ import annotations

from copy import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from xltools.cells import a1, col_letter
from xltools.spec.contract import T
from xltools.spec.spec import Label

if TYPE_CHECKING:  # pragma: no cover
    from xltools.workbook.generate.builder import _Builder

HELPER_SHEET = "_summary"
#: the activities listed are those planned from TODAY() through TODAY() + this many days
UPCOMING_DAYS = 90
#: places on each list
TOP_OPPORTUNITIES, KEY_PERSONS, PAIRINGS, UPCOMING, ASKS = 5, 8, 5, 8, 5
#: a key larger than any date serial (9999-12-31): a blank date sorts last
NO_DATE = 2958466

TEXTS: dict[str, Label] = {
    "sheet": Label("サマリー", "Summary"),
    "title": Label("アカウントサマリー", "Account on a page"),
    "note": Label("アカウントプランニングセッション（APS）用の1枚です。すべて他のシートから自動で計算されます（入力不要）。"
                  "「今後{days}日の活動」はブックを開いた日（TODAY()）から{days}日以内の予定です。",
                  "The one-page handout for the Account Planning Session (APS), calculated from the other "
                  "sheets (nothing to type here). \"Next {days} days\" counts from the day the workbook is "
                  "opened (TODAY())."),
    "account": Label("アカウント", "Account"),
    "figures": Label("売上計画", "Sales plan"),
    "top": Label("目標期間の主要案件（金額上位{n}件、失注を除く）", "Top {n} opportunities of the target period (by amount, not lost)"),
    "persons": Label("キーマンとスタンス（在籍者、決裁者・推進者と影響度の高い順）",
                     "Key persons and stance (still in post; decision makers, champions and influence first)"),
    "pairings": Label("役員の接点（当社役員 ↔ 顧客のキーマン、未完了）", "Executive pairings (our executive ↔ their person, not done)"),
    "upcoming": Label("今後{days}日の活動（TODAY() から）", "Next {days} days of activities (from TODAY())"),
    "asks": Label("支援依頼（未完了、期限順）", "Asks to management (open, by due date)"),
    "no": Label("No.", "No."),
    "more": Label("ほか {n} 件", "{n} more"),
    "our_executive": Label("当社役員", "Our executive"),
    "their_person": Label("顧客のキーマン", "Their person"),
}


def tr(b: "_Builder", key: str, **params) -> str:
    text = TEXTS[key](b.lang)
    return text.format(**params) if params else text


@dataclass(frozen=True)
class Ranked:
    """A list on the summary: rows of ``table`` with a key, smallest first."""

    name: str
    table: str
    places: int
    key: Callable[["_Builder", Callable[[str], str]], str]  # formula of the key, given col(key) -> INDEX(...)


def _label(b: "_Builder", lst: str, key: str) -> str:
    from xltools.workbook.generate.formulas import _excel_string

    return _excel_string(b.spec.choices(lst).get(key).label(b.lang))


def _none_of(b: "_Builder", cell: str, lst: str, tag: str) -> str:
    """``cell`` is none of the labels of the choices of ``lst`` meaning ``tag``."""
    keys = sorted(b.spec.meaning(lst, tag))
    return ",".join(f"{cell}<>{_label(b, lst, k)}" for k in keys)


def _opportunity_key(b: "_Builder", col) -> str:
    opp = b.spec.table(T.OPPORTUNITIES)
    amount, close = col("amount"), col("expected_close")
    lost = _none_of(b, col("stage"), opp.column("stage").choices, "lost")
    return (f'=IF(target_start="","",IF(AND(ISNUMBER({amount}),{lost},ISNUMBER({close}),'
            f'{close}>=target_start,{close}<target_end+1),-{amount},""))')


def _person_key(b: "_Builder", col) -> str:
    contacts = b.spec.table(T.CONTACTS)
    role, infl = contacts.column("role").choices, contacts.column("influence").choices
    key_roles = sorted(b.spec.meaning(role, "decision_maker") | b.spec.meaning(role, "champion"))
    roles = ",".join(f"{col('role')}={_label(b, role, k)}" for k in key_roles)
    levels = b.spec.choices(infl).labels(b.lang)
    from xltools.workbook.generate.formulas import _excel_string

    arr = "{" + ",".join(_excel_string(x) for x in levels) + "}"
    gone = _none_of(b, col("status"), contacts.column("status").choices, "gone")
    return (f'=IF(OR(LEN({col("name")})=0,NOT(AND({gone}))),"",IF(OR({roles}),0,10)'
            f'+IFERROR(MATCH({col("influence")},{arr},0),{len(levels) + 1}))')


def _dated_key(date_col: str, must: str, status_col: str, lst: str):
    def key(b: "_Builder", col) -> str:
        d = col(date_col)
        open_ = _none_of(b, col(status_col), lst, "closed")
        return f'=IF(OR(LEN({col(must)})=0,NOT(AND({open_}))),"",IF(ISNUMBER({d}),{d},{NO_DATE}))'
    return key


def _upcoming_key(b: "_Builder", col) -> str:
    d = col("planned_date")
    lst = b.spec.table(T.ACTIVITIES).column("status").choices
    open_ = _none_of(b, col("status"), lst, "closed")
    return (f'=IF(AND(ISNUMBER({d}),{open_}),IF(AND({d}>=TODAY(),{d}<=TODAY()+{UPCOMING_DAYS}),{d},""),"")')


def _lists(b: "_Builder") -> list[Ranked]:
    act_status = b.spec.table(T.ACTIVITIES).column("status").choices
    ask_status = b.spec.table(T.ASKS).column("status").choices
    return [
        Ranked("top", T.OPPORTUNITIES, TOP_OPPORTUNITIES, _opportunity_key),
        Ranked("persons", T.CONTACTS, KEY_PERSONS, _person_key),
        Ranked("pairings", T.ACTIVITIES, PAIRINGS, _dated_key("planned_date", "executive", "status", act_status)),
        Ranked("upcoming", T.ACTIVITIES, UPCOMING, _upcoming_key),
        Ranked("asks", T.ASKS, ASKS, _dated_key("due", "ask", "status", ask_status)),
    ]


def structured(b: "_Builder", table: str, key: str) -> str:
    """``Table[[Header]]`` of a column in the workbook language."""
    from xltools.workbook.generate.formulas import escape_header

    return f"{table}[[{escape_header(b.spec.table(table).column(key).label(b.lang))}]]"


class Helper:
    """The very hidden sheet of ranking columns (three per list: key, rank, row of place k)."""

    def __init__(self, b: "_Builder"):
        from xltools.workbook.xlwrite import write_text

        self.b = b
        self.ws = ws = b.wb.create_sheet(HELPER_SHEET)
        ws.sheet_state = "veryHidden"
        ws.protection.sheet = True
        self.next_col = 1
        self.places: dict[str, str] = {}  # list name -> absolute range of the "row of place k" cells
        self.write_text = write_text

    def columns(self, title: str, n: int) -> tuple[int, int]:
        """``n`` rows (from row 2) in the next free column; returns (column, first row)."""
        col = self.next_col
        self.next_col += 1
        self.write_text(self.ws.cell(row=1, column=col), title)
        return col, 2

    def rank(self, lst: Ranked) -> None:
        from xltools.workbook.xlwrite import write_formula

        b = self.b
        n = b.table_rows[lst.table]
        kcol, top = self.columns(f"{lst.name} key", n)
        rcol, _ = self.columns(f"{lst.name} rank", n)
        pcol, _ = self.columns(f"{lst.name} row", lst.places)
        k, r, p = col_letter(kcol), col_letter(rcol), col_letter(pcol)
        keys = f"${k}${top}:${k}${top + n - 1}"
        ranks = f"${r}${top}:${r}${top + n - 1}"
        refs: dict[str, str] = {}
        for i in range(1, n + 1):
            row = top + i - 1

            def col(key: str, i=i) -> str:
                if key not in refs:
                    refs[key] = structured(b, lst.table, key)
                return f"INDEX({refs[key]},{i})"
            write_formula(self.ws.cell(row=row, column=kcol), lst.key(b, col))
            write_formula(self.ws.cell(row=row, column=rcol),
                          f'=IF({k}{row}="","",COUNTIF({keys},"<"&{k}{row})+COUNTIF(${k}${top}:{k}{row},{k}{row}))')
        for place in range(1, lst.places + 1):
            write_formula(self.ws.cell(row=top + place - 1, column=pcol),
                          f'=IFERROR(MATCH({place},{ranks},0),"")')
        write_formula(self.ws.cell(row=1, column=pcol + 1), f"=COUNT({keys})")
        self.next_col += 1
        self.places[lst.name] = (f"'{HELPER_SHEET}'!${p}${top}", f"'{HELPER_SHEET}'!${col_letter(pcol + 1)}$1")

    def place(self, name: str, k: int) -> str:
        """The cell holding the table row of place ``k`` (1-based) of a list."""
        first, _count = self.places[name]
        sheet, cell = first.split("!")
        col, row = cell.strip("$").split("$")
        return f"{sheet}!${col}${int(row) + k - 1}"

    def count(self, name: str) -> str:
        return self.places[name][1]


# -- the sheet --------------------------------------------------------------------------------

#: column widths of the summary (B..H: account side, J..P: activities side)
WIDTHS = {1: 1.5, 2: 4.5, 3: 26, 4: 15, 5: 12, 6: 13, 7: 11, 8: 11, 9: 2,
          10: 4.5, 11: 11, 12: 14, 13: 24, 14: 15, 15: 12, 16: 10}
LAST_COL = 16
ROW_HEIGHT = 16
LEFT, RIGHT = 2, 10


class SummarySheet:
    def __init__(self, b: "_Builder", ws, helper: Helper):
        self.b, self.ws, self.helper = b, ws, helper

    # cells -----------------------------------------------------------------------------------
    def text(self, row: int, col: int, text: str, style: str = "xl Text") -> None:
        self.b.put_static(self.ws, row, col, text, style)

    def formula(self, row: int, col: int, formula: str, style: str) -> None:
        from xltools.workbook.xlwrite import write_formula

        cell = self.ws.cell(row=row, column=col)
        self.b.styles.apply(cell, style)
        write_formula(cell, formula)

    def merge(self, row: int, c1: int, c2: int) -> None:
        from xltools.workbook.generate.styles import _merge

        if c2 > c1:
            first = self.ws.cell(row=row, column=c1)
            for c in range(c1 + 1, c2 + 1):  # the range's borders and fill, as Excel draws a merge
                self.ws.cell(row=row, column=c)._style = copy(first._style)
            _merge(self.ws, row, c1, row, c2)

    def heading(self, row: int, col: int, text: str, amounts: bool = False) -> None:
        from xltools.workbook.generate.formulas import _excel_string

        if not amounts:
            self.text(row, col, text, "xl Heading")
            return
        unit = self.b.spec.field("amount_unit").key
        self.formula(row, col, "=" + _excel_string(text) + "&" + _excel_string(self.b.t("unit_open")) + "&" + unit
                     + "&" + _excel_string(self.b.t("unit_close")), "xl Heading")

    def style_of(self, f) -> str:
        from xltools.workbook.generate.styles import _number_format

        return f"xl Cell | {_number_format(f, self.b.lang)}"

    # blocks ------------------------------------------------------------------------------------
    def fields_block(self, row: int, col: int, keys: list[str], label_span: int, value_span: int) -> int:
        b = self.b
        for key in keys:
            f = b.spec.field(key)
            self.text(row, col, f.label(b.lang), "xl Label single")
            self.merge(row, col, col + label_span - 1)
            vcol = col + label_span
            style = "xl Figure | " + self.style_of(f).split(" | ", 1)[1]
            self.formula(row, vcol, f'=IF({key}="","",{key})', style)
            self.merge(row, vcol, vcol + value_span - 1)
            if f.choices or f.formula:
                b._tone_rules(self.ws, f, a1(row, vcol))
            row += 1
        return row

    def list_block(self, row: int, col: int, name: str, title: str, table: str,
                   columns: list[tuple[str, Label | None]], amounts: bool = False) -> int:
        """A ranked list: heading, a header row, one row per place."""
        from xltools.workbook.generate.formulas import _excel_string

        b, lst = self.b, next(x for x in _lists(self.b) if x.name == name)
        t = b.spec.table(table)
        self.heading(row, col, title, amounts)
        self.formula(row, col + len(columns), f'=IF({self.helper.count(name)}>{lst.places},'
                     f'SUBSTITUTE({_excel_string(tr(b, "more"))},"{{n}}",{self.helper.count(name)}-{lst.places}),"")',
                     "xl Hint")
        row += 1
        self.text(row, col, tr(b, "no"), "xl Header")
        for i, (key, head) in enumerate(columns, 1):
            self.text(row, col + i, head(b.lang) if head else t.column(key).label(b.lang), "xl Header")
        row += 1
        refs = [(t.column(key), structured(b, table, key)) for key, _head in columns]
        first = row
        for k in range(1, lst.places + 1):
            at = self.helper.place(name, k)
            self.formula(row, col, f'=IF(N({at})=0,"",{k})', "xl Cell | 0")
            for i, (c, ref) in enumerate(refs, 1):
                self.formula(row, col + i, f'=IF(N({at})=0,"",IF(LEN(INDEX({ref},{at}))=0,"",INDEX({ref},{at})))',
                             self.style_of(c))
            row += 1
        for i, (c, _ref) in enumerate(refs, 1):  # stance, verdict... coloured as on their own sheet
            if c.choices:
                b._tone_rules(self.ws, c, f"{a1(first, col + i)}:{a1(row - 1, col + i)}")
        return row

    def build(self) -> None:
        from xltools.workbook.generate.formulas import _excel_string

        b, ws = self.b, self.ws
        for c, w in WIDTHS.items():
            ws.column_dimensions[col_letter(c)].width = w
        self.formula(1, LEFT, f'={_excel_string(tr(b, "title"))}&IF(account_name="","","：" & account_name)'
                     if b.lang == "ja" else
                     f'={_excel_string(tr(b, "title"))}&IF(account_name="",""," - " & account_name)', "xl Title")
        self.text(2, LEFT, tr(b, "note", days=UPCOMING_DAYS), "xl Hint")
        # account and figures, side by side
        self.heading(4, LEFT, tr(b, "account"))
        end_left = self.fields_block(5, LEFT, ["account_name", "rep", "team_members", "period", "tier",
                                               "selection_score"], 2, 5)
        self.heading(4, RIGHT, tr(b, "figures"), amounts=True)
        end_right = self.fields_block(5, RIGHT, ["sales_target", "period_pipeline", "coverage_ratio",
                                                 "coverage_verdict", "period_weighted", "ltv_total"], 3, 2)
        row = max(end_left, end_right) + 1
        opp = [("opportunity", None), ("department", None), ("stage", None), ("amount", None),
               ("expected_close", None), ("key_person", None)]
        left = self.list_block(row, LEFT, "top", tr(b, "top", n=TOP_OPPORTUNITIES), T.OPPORTUNITIES, opp,
                               amounts=True)
        pairs = [("planned_date", None), ("executive", TEXTS["our_executive"]), ("contact", TEXTS["their_person"]),
                 ("purpose", None), ("appointment", None)]
        right = self.list_block(row, RIGHT, "pairings", tr(b, "pairings"), T.ACTIVITIES, pairs)
        row = max(left, right) + 1
        persons = [("name", None), ("department", None), ("title", None), ("role", None), ("stance", None),
                   ("influence", None)]
        left = self.list_block(row, LEFT, "persons", tr(b, "persons"), T.CONTACTS, persons)
        upcoming = [("planned_date", None), ("contact", None), ("purpose", None), ("executive", None),
                    ("appointment", None), ("status", None)]
        right = self.list_block(row, RIGHT, "upcoming", tr(b, "upcoming", days=UPCOMING_DAYS), T.ACTIVITIES,
                                upcoming)
        row = max(left, right) + 1
        asks = [("due", None), ("ask_of", None), ("ask", None), ("related_opp", None), ("status", None)]
        last = self.list_block(row, RIGHT, "asks", tr(b, "asks"), T.ASKS, asks) - 1
        self.last_row = last
        ws.print_area = f"A1:{col_letter(LAST_COL)}{last}"
        ws.freeze_panes = None


def add_summary(b: "_Builder", ws) -> None:
    """Fill the summary sheet ``ws`` (created first in the workbook by the generator)."""
    helper = Helper(b)
    for lst in _lists(b):
        helper.rank(lst)
    sheet = SummarySheet(b, ws, helper)
    sheet.build()
    b.summary_helper = helper
    b._page_setup(ws)
    ws.page_setup.fitToHeight = 1  # one page
    for r in range(4, sheet.last_row + 1):  # one line per row (cells shrink long text to fit)
        ws.row_dimensions[r].height = ROW_HEIGHT
    b._protect(ws)
