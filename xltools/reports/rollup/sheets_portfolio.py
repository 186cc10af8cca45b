"""ポートフォリオ / Portfolio: the key accounts against their plans, and the account
managers' own goals (source 000: choose the important customers; give account managers
goals apart from the sales budget).

* ``Portfolio``: every current plan by tier (A first) and, within a tier, thinnest
  coverage first -- tier and selection score as collect stored them
  (:mod:`xltools.spec.derive`), coverage the stored in-period figure judged by the report's
  thresholds; an A-tier account below the low threshold is marked (注目 / Attention).
* ``TierCoverage``: how many accounts of each tier are below, within or above the
  coverage band (the columns are the spec's ``verdict`` choices).
* ``KpiByRep``: per account manager and KPI, the stored ``achievement`` of the KPIs rows
  (actual ÷ target): how many, their mean, the lowest and where.
* ``KpiRows``: every KPI row with its stored figures.
* A scatter chart: selection score (x) against coverage (y).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from xltools.checking.validate import name_key
from xltools.reports.rollup.book import _Book
from xltools.reports.rollup.common import FRACTION_FORMAT, INT_FORMAT, RATIO_FORMATS, SCORE_FORMAT, TEXTS, Col, _text
from xltools.reports.rollup.data import RollupData, picked, with_ids
from xltools.spec.contract import T
from xltools.spec.spec import Label

PF_TEXTS: dict[str, Label] = {
    "pf_title": Label("重点顧客とカバレッジ（ランク順、同じランクはカバレッジの低い順）",
                      "Key accounts against coverage (by tier; within a tier, thinnest coverage first)"),
    "pf_matrix": Label("ランク別のカバレッジ判定（顧客数）", "Coverage verdict by tier (accounts)"),
    "pf_kpi_rep": Label("担当営業別のKPI達成率（売上予算とは別の目標）",
                        "KPI achievement by account manager (goals apart from the sales budget)"),
    "pf_kpi_rows": Label("KPIの明細", "KPI rows"),
    "pf_chart": Label("総合評点とカバレッジ（右下ほど要注意：評点が高く計画が薄い）",
                      "Selection score against coverage (bottom right: high score, thin plan)"),
    "attention": Label("注目", "Attention"),
    "a_thin": Label("Aランクで計画が薄い", "A tier, thin plan"),
    "no_tier": Label("ランクなし", "No tier"),
    "kpi_count": Label("KPI数", "KPIs"),
    "mean_achievement": Label("平均達成率", "Mean achievement"),
    "lowest_achievement": Label("最低達成率", "Lowest achievement"),
    "lowest_account": Label("最低の顧客", "Lowest at"),
}

#: rows left free below the tier table for the scatter chart
CHART_ROWS = 16
MARKER_COLOUR = "1F4E78"
#: the top tier derive gives (xltools.spec.derive: A at or above the A threshold)
TOP_TIER = "A"


def _t(b: _Book, key: str, **params: Any) -> str:
    text = PF_TEXTS[key](b.lang)
    return text.format(**params) if params else text


def portfolio_rows(accounts: list[dict], below: str) -> list[dict]:
    """Accounts by stored tier (A, B, C, then none) and, within a tier, by coverage (none
    first, then lowest); ``attention``: the top tier below the low threshold."""
    def key(a: dict) -> tuple:
        tier = a.get("tier")
        ratio = a.get("coverage_ratio")
        return (tier is None, tier or "", ratio is not None, ratio or 0, name_key(a.get("account_name") or ""))

    rows = sorted(accounts, key=key)
    for a in rows:  # the account records themselves (:func:`account_rows`), not copies
        a["attention"] = a.get("tier") == TOP_TIER and a.get("coverage_verdict") == below
    return rows


def kpi_by_rep(kpis: list[dict]) -> list[dict]:
    """Per rep and KPI: count, mean, lowest stored achievement and the account of the lowest."""
    groups: dict[tuple[str, Any], list[dict]] = defaultdict(list)
    names: dict[str, str] = {}
    for r in kpis:
        if not isinstance(r.get("achievement"), (int, float)) or r.get("kpi") is None:
            continue
        k = name_key(r.get("rep") or "")
        names.setdefault(k, r.get("rep"))
        groups[(k, r["kpi"])].append(r)
    out = []
    for (k, kpi), rows in sorted(groups.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        low = min(rows, key=lambda r: r["achievement"])
        out.append({"rep": names[k], "kpi": kpi, "count": len(rows),
                    "mean": sum(r["achievement"] for r in rows) / len(rows),
                    "lowest": low["achievement"], "lowest_account": low.get("account_name")})
    return out


def _achieved_tone(v: Any) -> str | None:
    return None if not isinstance(v, (int, float)) else "good" if v >= 1 else "warn"


def portfolio_sheet(b: _Book, data: RollupData, accounts: list[dict]) -> None:
    from openpyxl.chart import Reference, ScatterChart, Series
    from openpyxl.chart.shapes import GraphicalProperties

    ws = b.sheet("portfolio")
    spec = b.spec
    f = spec.field
    below = spec.the("verdict", "below")
    rows = portfolio_rows(accounts, below)
    ratio = Col(f("coverage_ratio").label, _text("coverage_ratio"), RATIO_FORMATS[b.lang])
    verdict = f("coverage_verdict")
    # rep and account first: the KPI tables below share those columns (and widths)
    cols = b.cols.context("rep", "account_name") + [
        Col(f("tier").label, lambda r: r.get("tier") or _t(b, "no_tier"),
            tone=lambda r: "bad" if r["attention"] else None),
        Col(f("selection_score").label, _text("selection_score"), SCORE_FORMAT),
        b.cols.field(f("sales_target")), b.cols.field(f("period_pipeline")), ratio]
    cols += [Col(verdict.label, lambda r: b.cols.choice_label("verdict", r.get("coverage_verdict")),
                 tone=lambda r: b.cols.choice_tone("verdict", r.get("coverage_verdict"))),
             Col(PF_TEXTS["attention"], lambda r: _t(b, "a_thin") if r["attention"] else None,
                 tone=lambda r: "bad" if r["attention"] else None, width=18)]
    _, row = b.table(ws, "Portfolio", _t(b, "pf_title"), cols, rows, 1)
    first_table_rows = len(rows)

    # tier x verdict counts
    verdicts = spec.choices("verdict").choices
    tiers = sorted({a.get("tier") for a in accounts if a.get("tier")}) + [None]
    matrix = []
    for tier in tiers:
        items = [a for a in accounts if a.get("tier") == tier]
        if tier is None and not items:
            continue
        rec = {"tier": tier or _t(b, "no_tier"), "_total": len(items)}
        for v in verdicts:
            rec[v.key] = sum(1 for a in items if a.get("coverage_verdict") == v.key)
        rec["_none"] = sum(1 for a in items if a.get("coverage_verdict") is None)
        matrix.append(rec)
    mcols = [Col(f("tier").label, _text("tier"))] + [
        Col(v.label, _text(v.key), INT_FORMAT, tone=(lambda r, k=v.key, t=v.tone: t if r.get(k) else None))
        for v in verdicts] + [Col(TEXTS["no_rag"], _text("_none"), INT_FORMAT),
                              Col(TEXTS["total"], _text("_total"), INT_FORMAT)]
    _, row = b.table(ws, "TierCoverage", _t(b, "pf_matrix"), mcols, matrix, row)
    chart_row = row
    scored = [r for r in rows if r.get("selection_score") is not None and r.get("coverage_ratio") is not None]
    if scored:
        row += CHART_ROWS  # the scatter chart sits below the tier table, on the same page

    # KPI achievement per account manager, from the stored achievement of each KPI row; the
    # rows are read for that and their order with a few columns, and again when written
    keys = ("rep", "account_name", "kpi", "achievement", "row_index")
    kpis, order = [], []
    for i, (rid, r) in enumerate(with_ids(data, T.KPIS, keys)):
        kpis.append(r)
        order.append((name_key(r.get("rep") or ""), name_key(r.get("account_name") or ""), r.get("row_index") or 0,
                      i, rid))
    kpi_col = spec.table(T.KPIS).column("kpi")
    kcols = b.cols.context("rep") + [b.cols.field(kpi_col), Col(PF_TEXTS["kpi_count"], _text("count"), INT_FORMAT),
                                     Col(PF_TEXTS["mean_achievement"], _text("mean"), FRACTION_FORMAT,
                                         tone=lambda r: _achieved_tone(r.get("mean"))),
                                     Col(PF_TEXTS["lowest_achievement"], _text("lowest"), FRACTION_FORMAT,
                                         tone=lambda r: _achieved_tone(r.get("lowest"))),
                                     Col(PF_TEXTS["lowest_account"], _text("lowest_account"))]
    _, row = b.table(ws, "KpiByRep", _t(b, "pf_kpi_rep"), kcols, kpi_by_rep(kpis), row)
    del kpis
    order.sort()
    dcols = b.cols.context("rep", "account_name") + b.cols.table(T.KPIS)
    dcols = [c if c.header != spec.table(T.KPIS).column("achievement").label
             else Col(c.header, c.get, c.fmt, tone=lambda r: _achieved_tone(r.get("achievement"))) for c in dcols]
    b.table(ws, "KpiRows", _t(b, "pf_kpi_rows"), dcols, picked(data, T.KPIS, [k[-1] for k in order]), row)
    b.freeze(ws, 3)

    if scored:
        # score in column D, coverage in column G of the Portfolio table (header at row 2)
        chart = ScatterChart()
        chart.title = _t(b, "pf_chart")
        chart.style = 13
        chart.x_axis.title = f("selection_score").label(b.lang)
        chart.y_axis.title = f("coverage_ratio").label(b.lang)
        chart.y_axis.numFmt = RATIO_FORMATS[b.lang]
        chart.x_axis.scaling.min, chart.x_axis.scaling.max = 1, 5
        chart.x_axis.delete = False
        chart.y_axis.delete = False
        chart.x_axis.majorGridlines = None
        last = 2 + first_table_rows
        xs = Reference(ws, min_col=4, min_row=3, max_row=last)
        ys = Reference(ws, min_col=7, min_row=3, max_row=last)
        s = Series(ys, xs, title=f("coverage_ratio").label(b.lang))
        s.marker.symbol = "circle"
        s.marker.size = 7
        s.marker.graphicalProperties = GraphicalProperties(solidFill=MARKER_COLOUR)
        s.marker.graphicalProperties.line.solidFill = MARKER_COLOUR
        s.graphicalProperties.line.noFill = True
        chart.series.append(s)
        chart.legend = None
        chart.height, chart.width = 7, 16
        ws.add_chart(chart, f"A{chart_row}")
