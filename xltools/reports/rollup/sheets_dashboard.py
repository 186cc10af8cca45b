"""The dashboard, the changes sheet and the page setup of every sheet."""
from __future__ import annotations

import heapq
from collections import Counter
from datetime import timedelta
from typing import Any, Callable, Iterable

from xltools.checking.validate import name_key
from xltools.reports.rollup.book import _Book
from xltools.reports.rollup.common import (
    DATE_FORMAT,
    INT_FORMAT,
    RATIO_FORMATS,
    SHEETS,
    TEXTS,
    Col,
    _day,
    _local,
    _ratio,
    _text,
)
from xltools.reports.rollup.data import RollupData
from xltools.reports.rollup.figures import _sum, _verdict, biggest_changes, rep_rows, won_in_period
from xltools.reports.rollup.sheets_submissions import STATUS, missing_count, submission_rows
from xltools.spec.contract import T

# -- the dashboard and the page setup ------------------------------------------------------------

#: the dashboard's right-hand column of blocks starts here (the left one at A)
DASH_RIGHT = 8
#: helper table the dashboard chart plots (outside the print area)
DASH_DATA_COL = 20
#: accounts on the dashboard's coverage chart (the worst ones)
DASH_CHART_ACCOUNTS = 25
#: widest column of the dashboard (headers wrap)
DASH_WIDTH = 16
_RAG = {"bad": "rag_bad", "warn": "rag_warn", "good": "rag_good"}
#: small tables printed on the page of the table above them (no page break before them)
KEEP_WITH_PREVIOUS = {"TierCoverage", "KpiRows"}


def _rag(b: _Book, verdict: str | None) -> str:
    """Red / amber / green of a verdict, by the tone the spec gives the verdict."""
    return b.t(_RAG.get(b.cols.choice_tone("verdict", verdict), "no_rag"))


def _rag_col(b: _Book) -> Col:
    return Col(TEXTS["rag"], lambda r: _rag(b, r.get("coverage_verdict")),
               tone=lambda r: b.cols.choice_tone("verdict", r.get("coverage_verdict")))


def _basename(path: Any) -> str | None:
    """A file name without the folders it was collected from (local paths stay local)."""
    return path.replace("\\", "/").rsplit("/", 1)[-1] if isinstance(path, str) and path else None


def change_value(b: _Book, r: dict, side: str) -> Any:
    """The old or new value of a change record, shown in the roll-up's language."""
    v = r.get(side)
    if v is None:
        return None
    contacts = b.spec.table(T.CONTACTS)
    if r["kind"] == "chg_stance":
        return b.cols.choice_label(contacts.column("stance").choices, v)
    if r["kind"] == "chg_person_gone":
        return b.t("removed") if v == "removed" else b.cols.choice_label(contacts.column("status").choices, v)
    return v


def _change_fmt(b: _Book) -> Callable[[dict], str | None]:
    return lambda r: {"amount": b.unit.fmt, "ratio": RATIO_FORMATS[b.lang]}.get(r.get("fmt"))


def change_subject(b: _Book, r: dict) -> Any:
    if r["kind"] == "chg_verdict":
        old, new = r["verdicts"]
        return f"{b.cols.choice_label('verdict', old) or '-'} → {b.cols.choice_label('verdict', new) or '-'}"
    return r.get("subject")


def _change_cols(b: _Book, *, full: bool) -> list[Col]:
    cols = b.cols.context("rep", "account_name") if full else b.cols.context("account_name")
    cols += [Col(TEXTS["what"], lambda r: b.t(r["kind"])), Col(TEXTS["subject"], lambda r: change_subject(b, r)),
             Col(TEXTS["old"], lambda r: change_value(b, r, "old"), _change_fmt(b)),
             Col(TEXTS["new"], lambda r: change_value(b, r, "new"), _change_fmt(b))]
    if full:
        cols.append(Col(TEXTS["plan_version"], lambda r: f"v{r.get('prev_version_no')} → v{r.get('version_no')}"))
    return cols


class _Top:
    """The first ``len(rows)`` of a longer list in its order, and how long the whole list is
    (``len``): what a dashboard band shows of a list that can be as long as a table."""

    def __init__(self, rows: list[dict], total: int):
        self.rows, self.total = rows, total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, i: slice) -> list[dict]:
        return self.rows[i]


def _top(keyed: Iterable[tuple[Any, dict]], n: int) -> _Top:
    """The ``n`` first of ``(sort key, record)`` pairs in key order (ties in their order),
    holding no more than ``n`` records at a time."""
    total = 0

    def numbered() -> Iterable[tuple[Any, int, dict]]:
        nonlocal total
        for key, rec in keyed:
            yield key, total, rec
            total += 1

    it = numbered()
    first = [rec for _, _, rec in heapq.nsmallest(n, it, key=lambda x: (x[0], x[1]))] if n > 0 else []
    for _ in it:  # n < 1: still count (and read) every record
        pass
    return _Top(first, total)


def dashboard_lists(b: _Book, data: RollupData, accounts: list[dict]) -> dict[str, Any]:
    """The dashboard's exception lists, each in its order (worst / soonest first); the
    decision makers and visits, read from streamed tables, as their first
    ``dashboard_rows`` and their length."""
    spec, today, rs = b.spec, data.today, b.settings.report
    below = spec.the("verdict", "below")
    thin = sorted((a for a in accounts if a.get("coverage_verdict") == below),
                  key=lambda a: (a.get("coverage_ratio") or 0, name_key(a.get("account_name") or "")))
    # decision makers against us or unknown, and whether an open activity is planned with them
    gone, deciders = spec.meaning("employment", "gone"), spec.meaning("role", "decision_maker")
    risky, open_status = spec.meaning("stance", "risk"), spec.meaning("activity_status", "open")
    closed = spec.meaning("activity_status", "closed")
    unbooked = spec.meaning("appointment", "unbooked")
    planned: set[tuple] = set()
    horizon = today + timedelta(days=rs.visit_days)

    def visits() -> Iterable[tuple[Any, dict]]:
        for a in data.rows[T.ACTIVITIES].only("version_id", "account_name", "contact", "status", "planned_date",
                                              "executive", "appointment"):
            if a.get("contact") and a.get("status") in open_status:
                planned.add((a["version_id"], name_key(a["contact"])))
            d = _day(a.get("planned_date"))
            if (a.get("executive") and a.get("appointment") in unbooked and a.get("status") not in closed
                    and d is not None and today <= d <= horizon):
                yield (name_key(a["executive"]), d), a

    def dms() -> Iterable[tuple[Any, dict]]:
        for c in data.rows[T.CONTACTS].only("version_id", "account_name", "name", "stance", "our_owner", "status",
                                            "role"):
            if c.get("status") in gone or c.get("role") not in deciders:
                continue
            if c.get("stance") in risky or c.get("stance") is None:
                c["_planned"] = bool(c.get("name")) and (c["version_id"], name_key(c["name"])) in planned
                yield (c["_planned"], name_key(c.get("account_name") or ""), name_key(c.get("name") or "")), c

    n = rs.dashboard_rows
    top_visits = _top(visits(), n)  # reads every activity first: ``planned`` is complete before the contacts
    top_dms = _top(dms(), n)
    # plans to chase: the Submissions sheet's missing lines, then its rejected ones
    plans = []
    for r in sorted(submission_rows(data), key=lambda r: r["status"] != "missing"):
        if r["status"] in ("missing", "rejected"):
            label, tone = STATUS[r["status"]]
            plans.append({"rep": r.get("rep"), "account_name": r.get("account_name"), "status": label(b.lang),
                          "file": r.get("file"), "collected_at": r.get("collected_at"), "_tone": tone})
    limit = today - timedelta(days=rs.plan_stale_days)
    for v in accounts:
        at = _local(v.get("collected_at"))
        if at is not None and at.date() <= limit:
            plans.append({"rep": v.get("rep"), "account_name": v.get("account_name"),
                          "status": b.t("stale_plan", days=(today - at.date()).days),
                          "file": _basename(v.get("source_file")), "collected_at": at, "_tone": "warn"})
    return {"thin": thin, "dms": top_dms, "visits": top_visits, "plans": plans, "changes": biggest_changes(data.changes)}


def _dashboard(b: _Book, data: RollupData, accounts: list[dict], won: int | None = None) -> None:
    from openpyxl.chart import BarChart, LineChart, Reference

    ws = b.sheet("dashboard")
    th, n = b.settings.thresholds, b.settings.report.dashboard_rows
    made = data.generated_at.strftime("%Y-%m-%d")
    b.title(ws, 1, b.t("dash_title") + (f"  {data.period}" if data.period else ""), size=16)
    b.title(ws, 2, b.t("dash_sub", period=data.period or b.t("all_periods"), unit=b.unit.label(b.lang), made=made),
            size=10)
    target, inside = _sum(accounts, "sales_target"), _sum(accounts, "period_pipeline")
    if won is None:  # not read with the other opportunity figures
        won = won_in_period(data, b.spec)
    rag = Counter(b.cols.choice_tone("verdict", a.get("coverage_verdict")) for a in accounts)
    results = Counter(x.get("result") for x in data.files)
    totals = {"sales_target": target, "period_pipeline": inside, "coverage_ratio": _ratio(inside, target),
              "period_weighted": _sum(accounts, "period_weighted"), "won": won, "gap": target - won,
              "plans": len(accounts), **{t: rag.get(t, 0) for t in _RAG}}
    f = b.spec.field
    money = [(b.money_label("sales_target"), target, b.unit.fmt, None),
             (b.money_label("period_pipeline"), inside, b.unit.fmt, None),
             (f("coverage_ratio").label(b.lang), totals["coverage_ratio"], RATIO_FORMATS[b.lang],
              b.cols.choice_tone("verdict", _verdict(totals["coverage_ratio"], b.spec, b.settings))),
             (b.money_label("period_weighted"), totals["period_weighted"], b.unit.fmt, None),
             (b.unit.header(TEXTS["won_so_far"])(b.lang), won, b.unit.fmt, None),
             (b.unit.header(TEXTS["gap"])(b.lang), target - won, b.unit.fmt, None)]
    counts = [(b.t("plans"), len(accounts), INT_FORMAT, None)]
    counts += [(f"{b.t('accounts')}：{b.t(k)}" if b.lang == "ja" else f"{b.t('accounts')}: {b.t(k)}",
                rag.get(t, 0), INT_FORMAT, t if rag.get(t) else None) for t, k in _RAG.items()]
    for key, label in (("missing", "missing_plans"), ("rejected", "rejected_files"), ("conflict", "file_conflicts")):
        count = (missing_count(data) or 0) if key == "missing" else results.get(key, 0)
        counts.append((b.t(label), count, INT_FORMAT, "bad" if count else None))
    item_cols = [Col(TEXTS["item"], _text("item")),
                 Col(TEXTS["value"], _text("value"), lambda r: r["fmt"], tone=lambda r: r["tone"])]
    for name, rows, left in (("DashTotals", money, 1), ("DashCounts", counts, DASH_RIGHT)):
        b.table(ws, name, b.t("dash_totals") if left == 1 else b.t("dash_counts"), item_cols,
                [{"item": k, "value": v, "fmt": fm, "tone": tn} for k, v, fm, tn in rows], 4, left=left,
                max_width=2 * DASH_WIDTH)

    lists = dashboard_lists(b, data, accounts)
    reps = sorted(rep_rows(accounts, b.spec, b.settings), key=lambda r: (r["coverage_ratio"] is None,
                                                                           r["coverage_ratio"] or 0))
    f_t, f_p = b.cols.field(f("sales_target")), b.cols.field(f("period_pipeline"))
    ratio = Col(f("coverage_ratio").label, _text("coverage_ratio"), RATIO_FORMATS[b.lang])
    contacts, acts = b.spec.table(T.CONTACTS), b.spec.table(T.ACTIVITIES)
    plan_cols = b.cols.context("rep", "account_name") + [
        Col(TEXTS["status"], _text("status"), tone=lambda r: r.get("_tone")), Col(TEXTS["file"], _text("file")),
        Col(TEXTS["collected_at"], _text("collected_at"), DATE_FORMAT)]
    bands = [
        (("DashReps", b.t("dash_reps"), b.cols.context("rep") + [f_t, f_p, ratio, _rag_col(b)], reps, "coverage"),
         ("DashThinCoverage", b.t("dash_thin", low=f"{th.coverage_low:g}"),
          b.cols.context("account_name", "rep") + [f_t, f_p, ratio], lists["thin"], "coverage")),
        (("DashDecisionMakers", b.t("dash_dm"),
          b.cols.context("account_name") + [b.cols.field(contacts.column(k), tone=k == "stance")
                                            for k in ("name", "stance", "our_owner")]
          + [Col(TEXTS["planned_activity"], lambda r: b.t("yes" if r["_planned"] else "none"),
                 tone=lambda r: None if r["_planned"] else "bad")], lists["dms"], "relationships"),
         ("DashVisits", b.t("dash_visits", days=b.settings.report.visit_days),
          [b.cols.field(acts.column("executive")), b.cols.field(acts.column("planned_date"))]
          + b.cols.context("account_name") + [b.cols.field(acts.column("appointment"), tone=True)],
          lists["visits"], "activities")),
        (("DashPlans", b.t("dash_plans", days=b.settings.report.plan_stale_days), plan_cols, lists["plans"],
          "submissions"),
         ("DashChanges", b.t("dash_changes"), _change_cols(b, full=False), lists["changes"], "changes")),
    ]
    top = 4 + len(counts) + 3
    for band in bands:
        for (name, title, cols, rows, more_sheet), left in zip(band, (1, DASH_RIGHT)):
            b.table(ws, name, title, cols, rows[:n], top, left=left, max_width=DASH_WIDTH)
            if len(rows) > n:
                b.title(ws, top + 2 + n, b.t("dash_more", n=len(rows) - n, sheet=SHEETS[more_sheet](b.lang)),
                        size=9, left=left)
        top += n + 5
    # coverage by account (worst first) with the low threshold as a line; data beside the page
    chart_rows = sorted((a for a in accounts if a.get("coverage_ratio") is not None),
                        key=lambda a: a["coverage_ratio"])[:DASH_CHART_ACCOUNTS]
    b.table(ws, "DashChartData", b.t("chart_coverage", low=f"{th.coverage_low:g}"),
            b.cols.context("account_name") + [ratio, Col(TEXTS["line"], lambda r: th.coverage_low,
                                                        RATIO_FORMATS[b.lang])], chart_rows, 1, left=DASH_DATA_COL)
    last_col = DASH_RIGHT + max(len(band[1][2]) for band in bands) - 1
    if chart_rows:
        bar = BarChart()
        bar.type, bar.grouping = "col", "clustered"
        bar.title = b.t("chart_coverage", low=f"{th.coverage_low:g}")
        first, last = 3, 2 + len(chart_rows)
        bar.add_data(Reference(ws, min_col=DASH_DATA_COL + 1, min_row=2, max_row=last), titles_from_data=True)
        bar.set_categories(Reference(ws, min_col=DASH_DATA_COL, min_row=first, max_row=last))
        bar.y_axis.numFmt = RATIO_FORMATS[b.lang]
        bar.y_axis.majorGridlines = None
        line = LineChart()
        line.add_data(Reference(ws, min_col=DASH_DATA_COL + 2, min_row=2, max_row=last), titles_from_data=True)
        bar += line
        bar.legend.position = "b"
        bar.height, bar.width = 7.5, 30
        ws.add_chart(bar, f"A{top}")
    from openpyxl.utils import get_column_letter

    ws.print_area = f"A1:{get_column_letter(last_col)}{top + 15}"


def _changes(b: _Book, data: RollupData) -> None:
    ws = b.sheet("changes")
    b.table(ws, "Changes", b.t("changes"), _change_cols(b, full=True), data.changes, 1)
    b.freeze(ws, 3)


def _page_setup(b: _Book, data: RollupData) -> None:
    """Every sheet prints: A4 landscape, fit to the page width (the dashboard to one page),
    the title and header rows of a one-list sheet repeated on each page (a sheet of several
    tables starts each table on a new page), header and footer with the period, the date
    made, 社外秘 / Confidential and page x of y."""
    from openpyxl.worksheet.page import PageMargins
    from openpyxl.worksheet.pagebreak import Break
    from openpyxl.worksheet.properties import PageSetupProperties

    made = data.generated_at.strftime("%Y-%m-%d")
    period = data.period or b.t("all_periods")
    for key, ws in b.sheets.items():
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 1 if key == "dashboard" else 0
        ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.7, bottom=0.6, header=0.3, footer=0.3)
        for hf in (ws.oddHeader, ws.evenHeader, ws.firstHeader):
            hf.left.text = f"{b.t('title')}  {period}".replace("&", "&&")  # & starts a header code
            hf.center.text = b.t("confidential")
            hf.right.text = b.t("made_on", made=made)
        for hf in (ws.oddFooter, ws.evenFooter, ws.firstFooter):
            hf.left.text = ws.title.replace("&", "&&")
            hf.center.text = b.t("page_of")
            hf.right.text = b.t("confidential")
        tables = sorted((t for t in ws.tables.values() if not t.displayName.startswith("DashChartData")),
                        key=lambda t: int("".join(ch for ch in t.ref.split(":")[0] if ch.isdigit())))
        if key == "dashboard":
            continue
        if len(tables) == 1:
            header = int("".join(ch for ch in tables[0].ref.split(":")[0] if ch.isdigit()))
            ws.print_title_rows = f"1:{header}"
        else:
            for t in tables[1:]:
                if t.displayName in KEEP_WITH_PREVIOUS:
                    continue
                title_row = int("".join(ch for ch in t.ref.split(":")[0] if ch.isdigit())) - 1
                ws.row_breaks.append(Break(id=title_row - 1))
