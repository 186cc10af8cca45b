"""The roll-up's list sheets: summary, submissions, pipeline, coverage, relationships,
activities, reviews, success cases, data issues and trend."""
from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import date
from typing import Any, Iterable

from xltools.checking.validate import name_key
from xltools.reports.rollup.book import _Book, _label_of, _severity
from xltools.reports.rollup.common import (
    CHART_MAX_ACCOUNTS,
    DATE_FORMAT,
    DATETIME_FORMAT,
    FRACTION_FORMAT,
    INT_FORMAT,
    RATIO_FORMATS,
    TEXTS,
    Col,
    _day,
    _KeyTone,
    _period_or_none,
    _ratio,
    _text,
)
from xltools.reports.rollup.data import RollupData, _Chain, picked, with_ids
from xltools.reports.rollup.figures import (
    CONTACT_SCAN_KEYS,
    _overdue,
    _sum,
    activity_scan,
    activity_scan_keys,
    contact_scan,
    new_cases,
    rep_rows,
    trend_rows,
)
from xltools.reports.rollup.sheets_submissions import missing_count
from xltools.spec.contract import T
from xltools.spec.derive import breakdown_quarters
from xltools.spec.spec import Label


def _basename(path: Any) -> str | None:
    """A file name without the folders it was collected from (local paths stay local)."""
    return path.replace("\\", "/").rsplit("/", 1)[-1] if isinstance(path, str) and path else None


def _money_cols(b: _Book) -> list[Col]:
    """Target, plan, weighted, coverage and verdict columns (labels from the spec)."""
    f = b.spec.field
    verdict = f("coverage_verdict")
    return [b.cols.field(f(k)) for k in ("sales_target", "period_pipeline", "period_weighted",
                                         "outside_period_total")] + [
            Col(f("coverage_ratio").label, _text("coverage_ratio"), RATIO_FORMATS[b.lang]),
            Col(verdict.label, lambda r: b.cols.choice_label("verdict", r.get("coverage_verdict")),
                tone=lambda r: b.cols.choice_tone("verdict", r.get("coverage_verdict")))]


def _summary(b: _Book, data: RollupData, accounts: list[dict], quarters: list[dict]) -> None:
    from openpyxl.chart import BarChart, Reference

    ws = b.sheet("summary")
    b.title(ws, 1, b.t("title") + (f"  {data.period}" if data.period else ""), size=14)
    target, inside = _sum(accounts, "sales_target"), _sum(accounts, "period_pipeline")
    f = b.spec.field
    totals = [
        (b.t("period"), data.period or b.t("all_periods"), None),
        (b.t("plans"), len(accounts), INT_FORMAT),
        (b.money_label("sales_target"), target, b.unit.fmt),
        (b.money_label("period_pipeline"), inside, b.unit.fmt),
        (b.money_label("period_weighted"), _sum(accounts, "period_weighted"), b.unit.fmt),
        (f("coverage_ratio").label(b.lang), _ratio(inside, target), RATIO_FORMATS[b.lang]),
        (b.money_label("outside_period_total"), _sum(accounts, "outside_period_total"), b.unit.fmt),
        (b.t("files_received"), len(data.files), INT_FORMAT),
    ]
    results = Counter(x.get("result") for x in data.files)
    totals += [(b.t(label), results.get(r, 0), INT_FORMAT)
               for r, label in (("rejected", "rejected_files"), ("conflict", "file_conflicts"))]
    if data.roster is not None:
        totals.append((b.t("missing_count"), missing_count(data), INT_FORMAT))
    totals += [(b.t("error_count"), sum(a.get("error_count") or 0 for a in accounts), INT_FORMAT),
               (b.t("generated_at"), data.generated_at.replace(microsecond=0), DATETIME_FORMAT)]
    records = [{"item": k, "value": v, "fmt": fmt} for k, v, fmt in totals]
    _, row = b.table(ws, "Totals", b.t("totals"),
                     [Col(TEXTS["item"], _text("item")), Col(TEXTS["value"], _text("value"), lambda r: r["fmt"])],
                     records, 3)
    reps = rep_rows(accounts, b.spec, b.settings)
    rep_top = row
    _, row = b.table(ws, "ByRep", b.t("by_rep"),
                     b.cols.context("rep") + [Col(TEXTS["accounts"], _text("accounts"), INT_FORMAT)] + _money_cols(b),
                     reps, row)
    _, row = b.table(ws, "ByQuarter", b.t("by_quarter"),
                     [Col(TEXTS["quarter"], _text("quarter")), Col(TEXTS["count"], _text("count"), INT_FORMAT),
                      b.cols.money(TEXTS["amount"], _text("amount")),
                      b.cols.money(TEXTS["weighted"], _text("weighted"))],
                     quarters, row)
    top = row
    cols = b.cols.context("account_name", "rep") + _money_cols(b)[:2]
    _, row = b.table(ws, "ByAccount", b.t("by_account"), cols, accounts, top)
    b.freeze(ws, 2)
    if accounts:
        # plan vs target per account; per account manager when accounts are too many to read
        # (both tables hold the target in column C and the plan total in column D)
        per_rep = len(accounts) > CHART_MAX_ACCOUNTS
        top, n = (rep_top, len(reps)) if per_rep else (top, len(accounts))
        chart = BarChart()
        chart.type = "col"
        chart.grouping = "clustered"
        chart.title = b.t("chart_plan_rep" if per_rep else "chart_plan")
        chart.y_axis.numFmt = b.unit.fmt
        chart.y_axis.majorGridlines = None
        first, last = top + 2, top + 1 + n
        chart.add_data(Reference(ws, min_col=3, max_col=4, min_row=top + 1, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
        chart.height, chart.width = 9, max(16, min(40, 3 + 2.2 * n))
        ws.add_chart(chart, "H3")


def _pipeline(b: _Book, pipeline: Iterable[dict]) -> None:
    ws = b.sheet("pipeline")
    cols = (b.cols.context("rep", "account_name", "account_id", "period")
            + b.cols.table(T.OPPORTUNITIES, tone=("stage",))
            + [b.cols.money(TEXTS["weighted"], _text("weighted")), Col(TEXTS["quarter"], _text("quarter"))])
    b.table(ws, "Pipeline", b.t("pipeline"), cols, pipeline, 1)
    b.freeze(ws, 3)


def _coverage(b: _Book, data: RollupData, accounts: list[dict]) -> None:
    ws = b.sheet("coverage")
    th = b.settings.thresholds
    period = _period_or_none(data.period, b.settings.fiscal_year_start_month)
    window = breakdown_quarters(period) if period else None
    quarters = [dataclasses.replace(b.cols.field(f), header=Label(*(2 * [str(window[f.quarter - 1])])))
                if window else b.cols.field(f) for f in b.spec.fields if f.quarter]
    cols = (b.cols.context("account_name", "account_id", "rep", "period") + [b.cols.field(b.spec.field("target_applied"))]
            + _money_cols(b) + quarters)
    _, row = b.table(ws, "Coverage", b.t("coverage", low=f"{th.coverage_low:g}", high=f"{th.coverage_high:g}"),
                     cols, accounts, 1)
    b.freeze(ws, 3)
    if data.win_rates is not None:
        headers, rows = data.win_rates.table(b.lang)
        # WinRates.table: who, rate (fraction), implied coverage (ratio), fixed rule, won and lost
        # amounts (yen), won, lost and sample counts, window
        fmts = [None, FRACTION_FORMAT, RATIO_FORMATS[b.lang], None, b.unit.fmt, b.unit.fmt,
                INT_FORMAT, INT_FORMAT, INT_FORMAT, None]
        fmts = fmts if len(fmts) == len(headers) else [None] * len(headers)
        cols = [Col(b.unit.header(Label(h, h)) if fmts[i] == b.unit.fmt else Label(h, h), (lambda r, i=i: r[i]),
                    fmts[i]) for i, h in enumerate(headers)]
        b.table(ws, "WinRates", b.t("win_rates"), cols, rows, row)


def _relationships(b: _Book, data: RollupData) -> None:
    ws = b.sheet("relationships")
    stance = b.spec.table(T.CONTACTS).column("stance")
    choices = b.spec.choices(stance.choices).choices
    counts: dict[str, dict] = {}
    for v in data.versions:
        counts[v["plan_id"]] = {"rep": v.get("rep"), "account_name": v.get("account_name"),
                                "account_id": v.get("account_id"), **{c.key: 0 for c in choices},
                                "_blank": 0, "_total": 0}
    days = b.settings.thresholds.contact_stale_days
    today = data.today
    scan = data.scans.pop("contacts", None)  # made in the win rates' process, or here
    if scan is None:
        scan = contact_scan(b.spec, b.settings, today, with_ids(data, T.CONTACTS, CONTACT_SCAN_KEYS))
    for (plan_id, stance), n in scan.stances.items():
        rec = counts.get(plan_id)
        if rec is not None:
            rec[stance if stance in rec else "_blank"] += n
            rec["_total"] += n
    risk, stale = scan.risk, scan.stale
    stance_cols = [Col(ch.label, _text(ch.key), INT_FORMAT,
                       tone=(lambda r, k=ch.key, t=ch.tone: t if r.get(k) else None)) for ch in choices]
    cols = (b.cols.context("account_name", "account_id", "rep") + stance_cols
            + [Col(TEXTS["blank"], _text("_blank"), INT_FORMAT), Col(TEXTS["total"], _text("_total"), INT_FORMAT)])
    records = sorted(counts.values(), key=lambda r: (name_key(r["rep"] or ""), name_key(r["account_name"] or "")))
    _, row = b.table(ws, "StanceCounts", b.t("stance_counts"), cols, records, 1)

    cols = b.cols.context("account_name", "rep") + b.cols.table(T.CONTACTS, skip=("note",), tone=("stance",))
    _, row = b.table(ws, "DecisionMakersAtRisk", b.t("dm_risk"), cols, picked(data, T.CONTACTS, risk), row)

    def days_since(c: dict) -> dict:
        last = _day(c.get("last_contact"))
        c["_days"] = (today - last).days if last else None
        return c

    cols = (b.cols.context("account_name", "rep")
            + b.cols.table(T.CONTACTS, skip=("note", "reports_to", "contact_id"), tone=("stance",))
            + [Col(TEXTS["days_since"], _text("_days"), INT_FORMAT)])
    b.table(ws, "StaleContacts", b.t("stale_contacts", days=days), cols,
            picked(data, T.CONTACTS, stale).map(days_since), row)
    b.freeze(ws, 3)


def _activities(b: _Book, data: RollupData) -> None:
    ws = b.sheet("activities")
    today = data.today
    # the rows are read again when written
    scan = data.scans.pop("activities", None)  # made in the win rates' process, or here
    if scan is None:
        scan = activity_scan(b.spec, today, with_ids(data, T.ACTIVITIES, activity_scan_keys(b.spec)))
    exec_col = b.spec.table(T.ACTIVITIES).column("executive")
    cols = [b.cols.field(exec_col), Col(TEXTS["count"], _text("count"), INT_FORMAT),
            Col(TEXTS["upcoming"], _text("upcoming"), INT_FORMAT), Col(TEXTS["next_date"], _text("next"), DATE_FORMAT)]
    _, row = b.table(ws, "ExecutiveSummary", b.t("exec_summary"), cols, scan.executives, 1)

    act_cols = b.cols.table(T.ACTIVITIES, skip=("act_id", "executive"), tone=("appointment", "status"))
    cols = [b.cols.field(exec_col)] + b.cols.context("account_name", "rep") + act_cols
    _, row = b.table(ws, "ExecutiveVisits", b.t("exec_visits"), cols,
                     picked(data, T.ACTIVITIES, scan.visits), row)

    def days_overdue(a: dict) -> dict:
        d = _overdue(T.ACTIVITIES, b.spec, a, today)
        a["_days"] = (today - d).days if d is not None else None
        return a

    cols = (b.cols.context("account_name", "rep") + b.cols.table(T.ACTIVITIES, tone=("status",))
            + [Col(TEXTS["days_overdue"], _text("_days"), INT_FORMAT, tone=lambda r: "bad")])
    b.table(ws, "OverdueActivities", b.t("overdue_activities"), cols,
            picked(data, T.ACTIVITIES, scan.overdue).map(days_overdue), row)
    b.freeze(ws, 3)


def _reviews(b: _Book, data: RollupData) -> None:
    ws = b.sheet("reviews")
    closed = b.spec.meaning("done", "closed")
    open_rows = []
    for r in data.rows[T.REVIEWS]:
        if r.get("done") in closed:
            continue
        d = _overdue(T.REVIEWS, b.spec, r, data.today)
        open_rows.append({**r, "_days": (data.today - d).days if d else None})
    open_rows.sort(key=lambda r: (_day(r.get("due")) or date.max, name_key(r.get("account_name") or "")))
    cols = (b.cols.context("account_name", "rep") + b.cols.table(T.REVIEWS)
            + [Col(TEXTS["days_overdue"], _text("_days"), INT_FORMAT, tone=lambda r: "bad" if r.get("_days") else None)])
    b.table(ws, "OpenActions", b.t("open_actions"), cols, open_rows, 1)
    b.freeze(ws, 3)


def _success_cases(b: _Book, data: RollupData) -> None:
    ws = b.sheet("success_cases")
    cols = b.cols.context("rep", "period") + b.cols.table(T.SUCCESS_CASES)
    b.table(ws, "NewSuccessCases", b.t("new_cases"), cols, new_cases(data, b.spec), 1)
    b.freeze(ws, 3)


def _issues(b: _Book, data: RollupData) -> None:
    ws = b.sheet("issues")
    labels: dict[tuple, str | None] = {}
    # a plan's sheet names in the roll-up's language (a plan may be kept in the other one)
    sheet_names = {name: sec.label(b.lang) for sec in b.spec.sections for name in sec.label.all()}

    def label(i: dict) -> dict:
        where = (i.get("table"), i.get("field"))
        if where not in labels:
            labels[where] = _label_of(b.spec, where[0], where[1], b.lang)
        i["field_label"] = labels[where]
        i["_file"] = _basename(i.get("source_file"))
        if i.get("sheet") in sheet_names:
            i["sheet"] = sheet_names[i["sheet"]]
        return i

    missing = []
    for m in data.missing or []:  # the plans to chase come first
        iss = m.issue(data.roster_path)
        missing.append({"rep": m.rep, "account_name": m.account_name, "account_id": m.account_id,
                        "period": m.period, "source_file": data.roster_path, "_file": _basename(data.roster_path),
                        "code": iss.code,
                        "severity": iss.severity, "raw": m.rep, "field_label": _label_of(b.spec, None, "rep", b.lang),
                        "message": iss.message(b.lang)})
    cols = b.cols.context("rep", "account_name", "period") + [
        Col(TEXTS["severity"], _severity(b.lang), tone=_KeyTone("severity", {"error": "bad", "warning": "warn"})),
        Col(TEXTS["code"], _text("code")), Col(TEXTS["file"], _text("_file")),
        Col(TEXTS["sheet"], _text("sheet")), Col(TEXTS["cell"], _text("cell")),
        Col(TEXTS["field"], _text("field_label")), Col(TEXTS["raw"], _text("raw")),
        Col(TEXTS["message"], _text("message"), width=60),
    ]
    b.table(ws, "DataIssues", b.t("data_issues"), cols, _Chain(missing, data.issues.map(label)), 1)
    b.freeze(ws, 3)


def _trend(b: _Book, data: RollupData) -> None:
    from openpyxl.chart import LineChart, Reference

    ws = b.sheet("trend")
    rows = trend_rows(data)
    f = b.spec.field
    cols = [Col(TEXTS["month"], _text("month")), Col(TEXTS["plans"], _text("plans"), INT_FORMAT),
            b.cols.field(f("period_pipeline")), b.cols.field(f("period_weighted")), b.cols.field(f("sales_target")),
            Col(f("coverage_ratio").label, _text("coverage_ratio"), RATIO_FORMATS[b.lang])]
    b.table(ws, "Trend", b.t("trend"), cols, rows, 1)
    b.freeze(ws, 3)
    if rows:
        chart = LineChart()
        chart.title = b.t("chart_trend")
        chart.y_axis.numFmt = b.unit.fmt
        last = 2 + len(rows)
        chart.add_data(Reference(ws, min_col=3, max_col=5, min_row=2, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=3, max_row=last))
        chart.height, chart.width = 9, 18
        ws.add_chart(chart, "H2")
