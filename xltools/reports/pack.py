"""The APS pack: one workbook per account for its Account Planning Session.

What leaders, SEs and executives are shown about one account, in the order they talk
about it: the account on a page (the plan's figures, the top opportunities, the key
persons and their stance, executive pairings), the relationship map drawn as an org chart
(:mod:`xltools.checking.relmap`), the pipeline by fiscal
quarter against the target and the 3x line (a native chart), the activity timeline, the
open review actions, the data-quality issues of the plan, and what changed since the
previous stored version (stance changes, people added or gone, deals won, lost, slipped or
resized).  Every figure is the stored / checked figure of :mod:`xltools.spec.derive`; no
sheet recomputes one differently.

The pack is made from plan files (``xltools pack PLAN.xlsx... -o DIR``: each file is
checked first; the previous version comes from the database when there is one) or from
the database (``xltools pack --db URL --period P [--account A] -o DIR``).  ``--pdf`` also
writes a PDF of each pack through headless LibreOffice (own profile, time-out, checked).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Sequence

from xltools import clock
from xltools.cells import cell_sort_key
from xltools.errors import UsageError
from xltools.messages import Label
from xltools.spec.config import Settings
from xltools.spec.contract import T
from xltools.spec.derive import breakdown_quarters, day
from xltools.spec.model import PlanData, Row
from xltools.spec.periods import PeriodError, parse_period
from xltools.spec.spec import Spec

#: how far ahead the "next activities" list looks
AHEAD_DAYS = 90
TOP_OPPORTUNITIES = 8

TEXTS: dict[str, Label] = {
    "title": Label("APS 資料", "APS pack"),
    "s_summary": Label("サマリー", "Summary"),
    "s_pipeline": Label("パイプライン", "Pipeline"),
    "s_timeline": Label("活動計画", "Activities"),
    "s_reviews": Label("改善アクション", "Review actions"),
    "s_quality": Label("データ品質", "Data quality"),
    "s_changes": Label("前回からの変化", "Changes"),
    "figures": Label("主要数値", "Key figures"),
    "top_opps": Label("主な案件（対象期間・金額順）", "Top opportunities (in period, by amount)"),
    "key_persons": Label("キーマンと関係", "Key persons and stance"),
    "pairings": Label("役員ペアリング", "Executive pairings"),
    "next_days": Label("今後 {days} 日の活動（{start} 〜 {end}）", "Next {days} days ({start} to {end})"),
    "none": Label("（なし）", "(none)"),
    "quarter": Label("四半期", "Quarter"),
    "pipeline_q": Label("パイプライン", "Pipeline"),
    "target_q": Label("売上目標", "Sales target"),
    "x3": Label("目標の {x} 倍", "{x}x target"),
    "chart": Label("四半期別パイプラインと目標", "Pipeline by quarter vs target"),
    "made": Label("作成 {when}", "Made {when}"),
    "code": Label("コード", "Code"),
    "severity": Label("重要度", "Severity"),
    "sheet": Label("シート", "Sheet"),
    "cell": Label("セル", "Cell"),
    "value": Label("入力値", "Value"),
    "message": Label("内容", "Message"),
    "no_issues": Label("問題はありません。", "No issues."),
    "change": Label("変化", "Change"),
    "subject": Label("対象", "Subject"),
    "before": Label("前回", "Before"),
    "after": Label("今回", "Now"),
    "no_previous": Label("比較できる前回のバージョンがありません（初回の提出、またはデータベース未指定）。",
                         "No previous version to compare with (first submission, or no database given)."),
    "no_changes": Label("前回から変化はありません。", "No changes since the previous version."),
    "since": Label("前回: {file}（{when} 取り込み）", "Previous: {file} (collected {when})"),
    "c_stance": Label("関係の変化", "Stance changed"),
    "c_person_added": Label("キーマン追加", "Key person added"),
    "c_person_gone": Label("キーマン離脱", "Key person gone"),
    "c_deal_added": Label("案件追加", "Deal added"),
    "c_won": Label("受注", "Won"),
    "c_lost": Label("失注", "Lost"),
    "c_dropped": Label("案件削除", "Deal removed"),
    "c_slipped": Label("受注予定の後ろ倒し", "Deal slipped to a later quarter"),
    "c_resized": Label("金額変更", "Deal resized"),
    "c_rep": Label("担当営業の交代", "New rep"),
    "removed": Label("一覧から削除", "removed from the list"),
    "no_pdf": Label("LibreOffice がないため PDF は作成していません（{detail}）",
                    "no PDF made: LibreOffice is not available ({detail})"),
    "no_plan": Label("{file}: 読めないブックのため APS 資料を作成していません",
                     "{file}: not a readable plan, no APS pack made"),
    "nothing": Label("対象のプランがデータベースにありません（期間 {period}、顧客 {account}）",
                     "no stored plan matches (period {period}, account {account})"),
    "written": Label("{n} 件の APS 資料を作成しました：{dir}", "{n} APS pack(s) written to {dir}"),
}

SUMMARY_FIGURES = ("sales_target", "target_applied", "period_pipeline", "coverage_ratio", "coverage_verdict", "period_weighted",
                   "weighted_total", "plan_total", "tier", "selection_score")


@dataclass
class PackSource:
    """One account's pack input: the plan, its issues, the previous stored version."""

    plan: PlanData
    issues: list[dict[str, Any]] = field(default_factory=list)  # code, severity, sheet, cell, raw, message
    previous: PlanData | None = None
    previous_note: str | None = None  # file and time of the previous version


@dataclass
class PackResult:
    """What ``pack`` wrote: workbooks, PDFs, and notes (files skipped, no LibreOffice)."""

    paths: list[Path] = field(default_factory=list)
    pdfs: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.paths) and not self.notes

    def to_dict(self) -> dict[str, Any]:
        return {"paths": [str(p) for p in self.paths], "pdfs": [str(p) for p in self.pdfs], "notes": self.notes}

    def summary(self, lang: str, out_dir: str | os.PathLike) -> str:
        return TEXTS["written"](lang).format(n=len(self.paths), dir=out_dir)


# -- what changed -------------------------------------------------------------------------------

def plan_changes(spec: Spec, before: PlanData, after: PlanData, settings: Settings,
                 lang: str) -> list[tuple[str, str, Any, Any]]:
    """(what, subject, before, after) rows from ``before`` to ``after``: the stored history's
    changes (:func:`xltools.reports.history.diff_plans`) plus deals that slipped to a later
    fiscal quarter or changed amount."""
    from xltools.reports.history import diff_plans
    from xltools.reports.rollup.figures import deal_moves

    ch = diff_plans(before, after, spec=spec)
    stance = spec.choices(spec.table(T.CONTACTS).column("stance").choices)
    stage = spec.choices(spec.table(T.OPPORTUNITIES).column("stage").choices)

    def lbl(choices, key):
        try:
            return choices.get(key).label(lang) if key is not None else None
        except KeyError:
            return key

    rows: list[tuple[str, str, Any, Any]] = []
    if ch.rep:
        rows.append((TEXTS["c_rep"](lang), "", ch.rep[0], ch.rep[1]))
    for c in ch.stance_changes:
        rows.append((TEXTS["c_stance"](lang), c["name"], lbl(stance, c["old"]), lbl(stance, c["new"])))
    for c in ch.contacts_added:
        rows.append((TEXTS["c_person_added"](lang), c["name"], None, lbl(stance, c.get("stance"))))
    for c in ch.contacts_left:
        reason = TEXTS["removed"](lang) if c["reason"] == "removed" else _choice_label(spec, T.CONTACTS, "status",
                                                                                     c["reason"], lang)
        rows.append((TEXTS["c_person_gone"](lang), c["name"], None, reason))
    for key, items in (("c_won", ch.opportunities_won), ("c_lost", ch.opportunities_lost),
                       ("c_deal_added", ch.opportunities_added), ("c_dropped", ch.opportunities_dropped)):
        for o in items:
            rows.append((TEXTS[key](lang), o.get("opportunity") or o.get("opp_id") or "", lbl(stage, o.get("stage"))
                         if key == "c_dropped" else None, o.get("amount")))
    for m in deal_moves(before, after, settings.fiscal_year_start_month):
        rows.append((TEXTS["c_slipped" if m.kind == "slipped" else "c_resized"](lang), m.name, m.old, m.new))
    return rows


def _choice_label(spec: Spec, table: str, column: str, key: Any, lang: str) -> Any:
    """The label of a table column's choice key (the key itself in an open list)."""
    return _choice_label_list(spec, spec.table(table).column(column).choices, key, lang)


# -- the workbook -------------------------------------------------------------------------------

class _Sheet:
    """A presentation sheet: a title row, then blocks written downwards."""

    def __init__(self, pack: "_Pack", title: str, widths: Sequence[float]):
        from openpyxl.utils import get_column_letter

        self.pack, self.ws, self.row = pack, pack.wb.create_sheet(title), 1
        for i, w in enumerate(widths, 1):
            self.ws.column_dimensions[get_column_letter(i)].width = w
        self.cols = len(widths)
        self.ws.sheet_view.showGridLines = False
        self.heading(f"{pack.account} — {title}", size=14)
        self.text(pack.subtitle, muted=True)
        self.row += 1

    def heading(self, text: str, size: int = 12) -> None:
        from openpyxl.styles import Font

        c = self.pack.put(self.ws.cell(self.row, 1), text)
        c.font = Font(name=self.pack.font, size=size, bold=True, color="1F4E78")
        self.row += 1

    def text(self, text: str, muted: bool = False) -> None:
        from openpyxl.styles import Font

        c = self.pack.put(self.ws.cell(self.row, 1), text)
        c.font = Font(name=self.pack.font, size=9 if muted else 10, color="595959" if muted else "000000")
        self.row += 1

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[Any]], *, tones: dict[int, Any] | None = None,
              formats: dict[int, str] | None = None, row_formats: Sequence[str | None] | None = None) -> int:
        """Headers and rows from the current row; returns the number of rows written."""
        from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

        p, ws = self.pack, self.ws
        thin = Side(style="thin", color="BFBFBF")
        for j, h in enumerate(headers, 1):
            c = p.put(ws.cell(self.row, j), h)
            c.font = Font(name=p.font, bold=True, color="FFFFFF", size=10)
            c.fill = PatternFill("solid", fgColor="1F4E78")
            c.alignment = Alignment(vertical="center", wrap_text=True)
        header_row, self.row, n = self.row, self.row + 1, 0
        for values in rows:
            for j, v in enumerate(values, 1):
                c = p.put(ws.cell(self.row, j), v)
                c.font = Font(name=p.font, size=10)
                c.alignment = Alignment(vertical="top", wrap_text=isinstance(v, str))
                c.border = Border(bottom=thin)
                fmt = (formats or {}).get(j) or (row_formats[n] if row_formats and j == 2 else None)
                if fmt and isinstance(v, (int, float, Decimal, date)) and not isinstance(v, bool):
                    c.number_format = fmt
                tone = (tones or {}).get(j)
                fill = tone(values) if callable(tone) else None
                if fill:
                    c.fill = PatternFill("solid", fgColor=fill)
            self.row, n = self.row + 1, n + 1
        if n == 0:
            c = p.put(ws.cell(self.row, 1), TEXTS["none"](p.lang))
            c.font = Font(name=p.font, size=10, color="808080")
            self.row += 1
        ws.print_title_rows = ws.print_title_rows or None
        self.row += 1
        return header_row


class _Pack:
    def __init__(self, spec: Spec, settings: Settings, src: PackSource, lang: str, now: datetime):
        from openpyxl import Workbook

        self.spec, self.settings, self.src, self.lang, self.now = spec, settings, src, lang, now
        self.plan = src.plan
        self.wb = Workbook()
        self.wb.remove(self.wb.active)
        self.font = "Meiryo UI" if lang == "ja" else "Calibri"
        f = self.plan.fields
        self.account = str(f.get("account_name") or "-")
        self.period = str(f.get("period") or self.plan.meta.get("period") or "")
        self.subtitle = " / ".join(str(x) for x in (self.period, f.get("rep"), f.get("team_members"),
                                                    TEXTS["made"](lang).format(when=now.strftime("%Y-%m-%d")))
                                   if x)
        self.unit, self.fmt = self._unit()

    def _unit(self) -> tuple[str, str]:
        """The display unit of amounts (``[report] amount_unit``, as in the roll-up): the cells
        keep exact yen, the number format scales them, the headers name the unit."""
        import math

        key = self.settings.report.amount_unit
        try:
            choice = self.spec.choices("amount_unit").get(key)
        except KeyError:
            choice = self.spec.choices("amount_unit").choices[0]
        thousands = round(math.log10(choice.factor)) // 3 if choice.factor and choice.factor > 1 else 0
        return choice.label(self.lang), "#,##0" + (".0" if thousands >= 2 else "") + "," * thousands

    def put(self, cell, value: Any):
        from xltools.workbook.xlwrite import write_text, write_value

        if isinstance(value, str):
            write_text(cell, value)
        else:
            write_value(cell, value)
        return cell

    def money(self, v: Any) -> Any:
        """An amount: exact yen (the column's number format shows the unit)."""
        return int(v) if isinstance(v, Decimal) and v == int(v) else v

    def label(self, table: str, column: str) -> str:
        return self.spec.table(table).column(column).label(self.lang)

    def choice(self, table: str, column: str, key: Any) -> Any:
        return _choice_label(self.spec, table, column, key, self.lang)

    def tone_fill(self, list_name: str, key: Any) -> str | None:
        from xltools.workbook.generate import TONES

        try:
            tone = self.spec.choices(list_name).get(key).tone
        except KeyError:
            return None
        return TONES.get(tone, (None,))[0] if tone else None

    # -- sheets -----------------------------------------------------------------------------------

    def build(self):
        from xltools.workbook.printing import fit_row_heights, page_setup

        self.summary()
        self.pipeline()
        self.timeline()
        self.reviews()
        self.quality()
        self.changes()
        for ws in self.wb.worksheets:
            fit_row_heights(ws)
            page_setup(ws, lang=self.lang, account=self.account, period=self.period)
        self.relationship_map()
        return self.wb

    def relationship_map(self) -> None:
        """The 関係図 picture (:mod:`xltools.checking.relmap`) right after the summary."""
        from xltools.checking.relmap import SHEET, add_to_workbook

        m = add_to_workbook(self.wb, self.spec, self.plan, self.lang, self.now, settings=self.settings,
                            account=self.account, period=self.period)
        if m.pages:
            ws = self.wb[SHEET(self.lang)]
            self.wb.move_sheet(ws, 1 - self.wb.index(ws))

    def summary(self) -> None:
        s = _Sheet(self, TEXTS["s_summary"](self.lang), (30, 18, 16, 16, 14, 14, 22))
        d = {**self.plan.fields, **self.plan.derived}
        s.heading(TEXTS["figures"](self.lang))
        rows, fmts = [], []
        for key in SUMMARY_FIGURES:
            if key not in d:
                continue
            fld = self.spec.field(key)
            v = d.get(key)
            if key == "coverage_verdict":
                v = _choice_label_list(self.spec, fld.choices or "verdict", v, self.lang)
            elif fld.type == "amount":
                v = self.money(v)
            unit = self.unit if fld.type == "amount" else ("×" if key == "coverage_ratio" else "")
            rows.append((fld.label(self.lang), v, unit))
            fmts.append(self.fmt if fld.type == "amount" else "0.00" if fld.type in ("ratio", "score") else None)
        s.table((TEXTS["figures"](self.lang), "", ""), rows, row_formats=fmts)
        s.heading(TEXTS["top_opps"](self.lang))
        opps = self._top_opportunities()
        cols = ("opportunity", "stage", "amount", "probability", "expected_close", "key_person")
        s.table([self.label(T.OPPORTUNITIES, c) + (f"（{self.unit}）" if c == "amount" else "") for c in cols],
                [(r.get("opportunity"), self.choice(T.OPPORTUNITIES, "stage", r.get("stage")),
                  self.money(r.get("amount")), r.get("probability"), day(r.get("expected_close")),
                  r.get("key_person")) for r in opps], formats={3: self.fmt, 5: "yyyy-mm-dd"})
        s.heading(TEXTS["key_persons"](self.lang))
        cols = ("name", "department", "title", "role", "stance", "our_owner", "last_contact")
        persons = [r for r in self.plan.rows(T.CONTACTS) if r.get("name")
                   and r.get("status") not in self.spec.meaning("employment", "gone")]
        stance_list = self.spec.table(T.CONTACTS).column("stance").choices
        fills = {c.label(self.lang): self.tone_fill(stance_list, c.key) for c in self.spec.choices(stance_list).choices}
        s.table([self.label(T.CONTACTS, c) for c in cols],
                [(r.get("name"), r.get("department"), r.get("title"), self.choice(T.CONTACTS, "role", r.get("role")),
                  self.choice(T.CONTACTS, "stance", r.get("stance")), r.get("our_owner"), day(r.get("last_contact")))
                 for r in persons],
                tones={5: lambda vals: fills.get(vals[4])}, formats={7: "yyyy-mm-dd"})
        s.heading(TEXTS["pairings"](self.lang))
        pairings = [r for r in self.plan.rows(T.ACTIVITIES) if r.get("executive")]
        cols = ("executive", "contact", "planned_date", "appointment", "status")
        s.table([self.label(T.ACTIVITIES, c) for c in cols],
                [(r.get("executive"), r.get("contact"), day(r.get("planned_date")),
                  self.choice(T.ACTIVITIES, "appointment", r.get("appointment")),
                  self.choice(T.ACTIVITIES, "status", r.get("status"))) for r in pairings],
                formats={3: "yyyy-mm-dd"})

    def _top_opportunities(self) -> list[Row]:
        from xltools.spec.derive import in_period, target_period

        per = target_period(self.plan.fields, self.period, self.settings.fiscal_year_start_month)
        closed = self.spec.meaning("stage", "closed")
        rows = [r for r in self.plan.rows(T.OPPORTUNITIES) if r.get("stage") not in closed
                and isinstance(r.get("amount"), (int, Decimal)) and (per is None or in_period(r, per))]
        return sorted(rows, key=lambda r: -r.get("amount"))[:TOP_OPPORTUNITIES]

    def pipeline(self) -> None:
        """Pipeline by fiscal quarter (the stored close_q1..q8) against the target and the
        coverage line, as the plan's own chart draws it."""
        from openpyxl.chart import BarChart, LineChart, Reference, Series

        s = _Sheet(self, TEXTS["s_pipeline"](self.lang), (16, 20, 20, 20))
        d = self.plan.derived
        try:
            quarters = breakdown_quarters(parse_period(self.period, self.settings.fiscal_year_start_month))
        except PeriodError:
            quarters = []
        target = self.plan.fields.get("sales_target")
        target = target if isinstance(target, (int, Decimal)) else None
        x = self.settings.thresholds.coverage_low
        x_text = str(int(x)) if float(x).is_integer() else str(x)
        unit = f"（{self.unit}）"
        titles = (TEXTS["quarter"](self.lang), TEXTS["pipeline_q"](self.lang) + unit,
                  TEXTS["target_q"](self.lang) + unit, TEXTS["x3"](self.lang).format(x=x_text) + unit)
        header = s.table(titles, [(str(q), self.money(d.get(f"close_q{i}") or 0), self.money(target),
                                   None if target is None else self.money(target * Decimal(str(x))))
                                  for i, q in enumerate(quarters, 1)],
                         formats={2: self.fmt, 3: self.fmt, 4: self.fmt})
        n = len(quarters)
        if not n:
            return
        first, last = header + 1, header + n
        cats = Reference(s.ws, min_col=1, min_row=first, max_row=last)
        bar = BarChart()
        bar.type = "col"
        bar.series.append(Series(Reference(s.ws, min_col=2, min_row=first, max_row=last), title=titles[1]))
        bar.series[0].graphicalProperties.solidFill = "1F4E78"
        bar.set_categories(cats)
        line = LineChart()
        for col, colour, dash in ((3, "C65911", "solid"), (4, "70AD47", "dash")):
            ser = Series(Reference(s.ws, min_col=col, min_row=first, max_row=last), title=titles[col - 1])
            ser.graphicalProperties.line.solidFill = colour
            ser.graphicalProperties.line.width = 28575
            ser.graphicalProperties.line.dashStyle = dash
            ser.smooth = False
            line.series.append(ser)
        line.set_categories(cats)
        bar.title = TEXTS["chart"](self.lang)
        bar.y_axis.numFmt = self.fmt
        bar.y_axis.title = self.unit
        bar.y_axis.majorGridlines = None
        bar.y_axis.delete = False
        bar.x_axis.delete = False
        bar += line
        bar.height, bar.width = 9, 24
        bar.legend.position = "b"
        s.ws.add_chart(bar, f"A{s.row + 1}")

    def timeline(self) -> None:
        s = _Sheet(self, TEXTS["s_timeline"](self.lang), (12, 24, 22, 18, 12, 12, 40))
        today = self.now.date()
        end = today + timedelta(days=AHEAD_DAYS)
        s.heading(TEXTS["next_days"](self.lang).format(days=AHEAD_DAYS, start=today.isoformat(), end=end.isoformat()))
        cols = ("planned_date", "purpose", "contact", "executive", "appointment", "status", "result")
        acts = sorted((r for r in self.plan.rows(T.ACTIVITIES) if day(r.get("planned_date"))),
                      key=lambda r: day(r.get("planned_date")))
        have = [c for c in cols if self._has(T.ACTIVITIES, c)]
        s.table([self.label(T.ACTIVITIES, c) for c in have],
                [tuple(self._cell(T.ACTIVITIES, c, r) for c in have) for r in acts
                 if today <= day(r.get("planned_date")) <= end],
                formats={1: "yyyy-mm-dd"})

    def reviews(self) -> None:
        s = _Sheet(self, TEXTS["s_reviews"](self.lang), (30, 36, 16, 12, 10))
        done = self.spec.meaning(self.spec.table(T.REVIEWS).column("done").choices or "done", "closed")
        cols = [c for c in ("item", "action", "owner", "due", "done") if self._has(T.REVIEWS, c)]
        s.table([self.label(T.REVIEWS, c) for c in cols],
                [tuple(self._cell(T.REVIEWS, c, r) for c in cols) for r in self.plan.rows(T.REVIEWS)
                 if (r.get("item") or r.get("action")) and r.get("done") not in done],
                formats={cols.index("due") + 1: "yyyy-mm-dd"} if "due" in cols else None)

    def quality(self) -> None:
        s = _Sheet(self, TEXTS["s_quality"](self.lang), (26, 10, 18, 8, 16, 70))
        rank = {"error": 0, "warning": 1, "info": 2}
        issues = sorted(self.src.issues, key=lambda i: (rank.get(i["severity"], 3), str(i.get("sheet") or ""),
                                                        cell_sort_key(i.get("cell")), i["code"]))
        if not issues:
            s.text(TEXTS["no_issues"](self.lang))
            return
        sev = {"error": Label("エラー", "Error"), "warning": Label("警告", "Warning"), "info": Label("情報", "Info")}
        s.table([TEXTS[k](self.lang) for k in ("code", "severity", "sheet", "cell", "value", "message")],
                [(i["code"], sev[i["severity"]](self.lang), i.get("sheet"), i.get("cell"),
                  None if i.get("raw") is None else str(i["raw"]), i.get("message")) for i in issues])

    def changes(self) -> None:
        s = _Sheet(self, TEXTS["s_changes"](self.lang), (24, 36, 20, 20))
        if self.src.previous is None:
            s.text(TEXTS["no_previous"](self.lang))
            return
        if self.src.previous_note:
            s.text(self.src.previous_note, muted=True)
        rows = plan_changes(self.spec, self.src.previous, self.plan, self.settings, self.lang)
        if not rows:
            s.text(TEXTS["no_changes"](self.lang))
            return
        s.table([TEXTS[k](self.lang) for k in ("change", "subject", "before", "after")],
                [(a, b, self.money(c), self.money(d)) for a, b, c, d in rows], formats={3: self.fmt, 4: self.fmt})

    def _has(self, table: str, column: str) -> bool:
        return any(c.key == column for c in self.spec.table(table).columns)

    def _cell(self, table: str, column: str, r: Row) -> Any:
        col = self.spec.table(table).column(column)
        v = r.get(column)
        if col.type in ("date", "month"):
            return day(v)
        if col.choices:
            return self.choice(table, column, v)
        if col.type == "amount":
            return self.money(v)
        return v


def _choice_label_list(spec: Spec, list_name: str | None, key: Any, lang: str) -> Any:
    if key is None or not list_name:
        return key
    try:
        return spec.choices(list_name).get(key).label(lang)
    except KeyError:
        return key


def build_pack(spec: Spec, settings: Settings, src: PackSource, *, lang: str = "ja",
               now: datetime | None = None):
    """The APS pack workbook (openpyxl) of one account."""
    return _Pack(spec, settings, src, lang, clock.resolve(now)).build()


# -- from files or from the database ---------------------------------------------------------------

def _write(spec: Spec, settings: Settings, sources: list[PackSource], out_dir: str | os.PathLike, *, lang: str,
           pdf: bool, now: datetime, result: PackResult) -> PackResult:
    from xltools.workbook.naming import plan_filename, unique_filename
    from xltools.workbook.outfile import save_workbook

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    for src in sources:
        f = src.plan.fields
        name = unique_filename(plan_filename(f.get("period") or "", f.get("account_name") or "-", "APS"), taken)
        result.paths.append(save_workbook(build_pack(spec, settings, src, lang=lang, now=now), out / name))
    if pdf and result.paths:
        import shutil
        import tempfile

        from xltools.workbook.libreoffice import LibreOfficeError, pdf_many

        try:
            with tempfile.TemporaryDirectory(prefix=".xltools-pdf-", dir=out) as tmp:
                for made in pdf_many(result.paths, tmp):
                    result.pdfs.append(Path(shutil.move(str(made), str(out / made.name))))
        except LibreOfficeError as e:
            result.notes.append(TEXTS["no_pdf"](lang).format(detail=e.message(lang)))
    return result


def pack_files(paths: Sequence[str | os.PathLike], spec: Spec, settings: Settings, out_dir: str | os.PathLike, *,
               lang: str = "ja", db_url: str | None = None, pdf: bool = False,
               now: datetime | None = None) -> PackResult:
    """One pack per readable plan file (checked first: its issues are the pack's data-quality
    sheet).  With ``db_url`` the previous stored version of each plan is compared."""
    from xltools.checking.check import check_files

    now = clock.resolve(now)
    result = PackResult()
    sources = []
    previous = _PreviousVersions(db_url, spec) if db_url else None
    try:
        for report in check_files(paths, spec, settings, lang=lang, now=now):
            if report.plan is None:
                result.notes.append(TEXTS["no_plan"](lang).format(file=Path(report.file).name))
                continue
            prev, note = previous.of(report.plan, lang) if previous else (None, None)
            issues = [{"code": i.code, "severity": i.severity, "sheet": i.sheet, "cell": i.cell, "raw": i.raw,
                       "message": i.message(lang)} for i in report.issues]
            sources.append(PackSource(report.plan, issues, prev, note))
    finally:
        if previous:
            previous.close()
    return _write(spec, settings, sources, out_dir, lang=lang, pdf=pdf, now=now, result=result)


def pack_from_store(store, spec: Spec, settings: Settings, out_dir: str | os.PathLike, *, period: str | None = None,
                    account: str | None = None, lang: str = "ja", pdf: bool = False,
                    now: datetime | None = None) -> PackResult:
    """One pack per current stored plan of ``period`` (default: every period), or only those of
    ``account`` (name or ID); issues and the previous version come from the store."""
    from xltools.reports.history import load_plans, name_key

    now = clock.resolve(now)
    versions = store.versions(period)
    if account:
        key = name_key(account)
        versions = [v for v in versions if key in (name_key(v.get("account_name") or ""),
                                                   name_key(v.get("account_id") or ""))]
    if not versions:
        raise UsageError(TEXTS["nothing"].format(lang, period=period or "-", account=account or "-"))
    plans = load_plans(store, [v["version_id"] for v in versions])
    issues: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for rec in store.issues(period):
        issues.setdefault((rec.get("plan_id"), rec.get("version_no")), []).append(
            dict(rec, message=rec.get(f"message_{lang}") or rec.get("message_ja")))
    prev = _PreviousVersions(None, spec, store=store)
    sources = []
    for v in sorted(versions, key=lambda v: (str(v.get("account_name") or ""), str(v.get("rep") or ""))):
        plan = plans[v["version_id"]]
        p, note = prev.of(plan, lang, before_version=v["version_id"])
        sources.append(PackSource(plan, issues.get((v.get("plan_id"), v.get("version_no")), []), p, note))
    return _write(spec, settings, sources, out_dir, lang=lang, pdf=pdf, now=now, result=PackResult())


class _PreviousVersions:
    """The stored version a plan is compared with: the latest stored version of the same
    plan (plan_id) older than the one packed."""

    def __init__(self, db_url: str | None, spec: Spec, *, store=None):
        from xltools.store.engine import Store

        self.own = store is None
        self.store = store if store is not None else Store(db_url, spec, create=False)

    def of(self, plan: PlanData, lang: str, before_version: int | None = None) -> tuple[PlanData | None, str | None]:
        from xltools.reports.history import load_plans, time_key

        plan_id = plan.meta.get("plan_id")
        if not plan_id:
            return None, None
        try:
            versions = [v for v in self.store.versions_of(str(plan.fields.get("account_id") or
                                                              plan.fields.get("account_name") or ""))
                        if v.get("plan_id") == plan_id]
        except Exception:  # noqa: BLE001 - no database yet: nothing to compare with
            return None, None
        if before_version is not None:
            versions = [v for v in versions if v["version_id"] < before_version]
        else:  # a file: compare with the latest stored version that is not this very file
            versions = [v for v in versions if v.get("source_file") != plan.file]
        if not versions:
            return None, None
        v = max(versions, key=lambda v: (time_key(v), v["version_id"]))
        when = v.get("collected_at") or time_key(v)
        note = TEXTS["since"](lang).format(file=Path(str(v.get("source_file") or "-")).name,
                                           when=when.strftime("%Y-%m-%d") if isinstance(when, datetime) else "-")
        return load_plans(self.store, [v["version_id"]]).get(v["version_id"]), note

    def close(self) -> None:
        if self.own:
            self.store.close()


__all__ = ["AHEAD_DAYS", "PackResult", "PackSource", "build_pack", "pack_files", "pack_from_store", "plan_changes"]
