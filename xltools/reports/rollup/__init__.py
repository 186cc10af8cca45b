"""``xltools report``: the roll-up workbook for sales leaders, from the database.

:func:`write_rollup` reads the store (current plan versions of a period, their rows,
the file ledger, the issues and the stored history) and writes one workbook:

========================  =====================================================================
sheet                     contents (Excel tables, named as below for other tools and tests)
========================  =====================================================================
Dashboard / ダッシュボード   one A4 landscape page: ``DashTotals``, ``DashCounts``, ``DashReps``
                          (RAG), ``DashThinCoverage``, ``DashDecisionMakers``, ``DashVisits``
                          (not booked), ``DashPlans`` (to chase), ``DashChanges`` and the coverage
                          chart with the low line (``DashChartData``, outside the print area)
Changes / 前月比            ``Changes``: :func:`month_changes` since the end of last month
Summary / サマリー          ``Totals`` (plans, target, plan, weighted, coverage, files, issues),
                          ``ByRep``, ``ByQuarter`` (pipeline by fiscal quarter of the expected
                          close), ``ByAccount`` and a bar chart plan vs target per account
Portfolio / ポートフォリオ   ``Portfolio`` (tier, selection score, coverage; A tier with a thin plan
                          marked), ``TierCoverage``, ``KpiByRep`` and ``KpiRows`` (stored
                          achievement), a scatter chart of score against coverage
Submissions / 提出状況      ``Submissions``: one row per roster line (the roster given, else the
                          one ``collect --roster`` stored for the period): 提出済 / 要修正 /
                          却下 / 未提出, latest file name, issue counts, last collected; then
                          the plans and rejected files no roster line expects
File log / ファイル履歴      ``FileLog``: every file received, by name (never a local path)
Pipeline / パイプライン      ``Pipeline``: every opportunity with rep, account, weighted amount
                          and fiscal-quarter bucket
Coverage / カバレッジ        ``Coverage``: ratio per account flagged by the settings' thresholds;
                          ``WinRates``: historical win rate and implied coverage per rep
Relationships / リレーション ``StanceCounts``, ``DecisionMakersAtRisk`` (against/unknown),
                          ``StaleContacts`` (not met in ``contact_stale_days``)
Activities / 活動          ``ExecutiveSummary``, ``ExecutiveVisits`` (by executive),
                          ``OverdueActivities``
Reviews / 改善アクション      ``OpenActions``
SuccessCases / 成功事例     ``NewSuccessCases`` (not in an earlier period; private ones never)
Issues / データ品質         ``DataIssues``: ``W-MISSING-SUBMISSION`` per missing plan first,
                          then every issue, errors first
Trend / 推移               ``Trend`` per collection month and a line chart
========================  =====================================================================

Values, never formulas (every viewer shows them); text from reps is written as text
(:func:`xltools.workbook.xlwrite.write_value`); headers, sheet names and choice labels in the
chosen language (spec labels where the spec has them); yen formats; frozen headers.
The file is written atomically: a failed run leaves the previous roll-up intact.

Scale: the big row sets are streamed from one read snapshot of the database straight
into the sheets (openpyxl only lays out the skeleton); CPU and memory grow with the number
of cells (about 1,300 per plan: 13 million at 10,000 plans).  Two processes where the
platform can fork: the win rates are computed in a forked one while this one gathers the
rest, and that one then makes the relationships and activities sheets' passes over the
contacts and activities while this one builds the rest; the portfolio, pipeline and
relationships sheets are written (and compressed) in another while this one writes (and
compresses) the others; one process gives the same file (:func:`write_rollup`'s
``processes``).

Modules: :mod:`.common` (texts, formats, columns), :mod:`.data` (reading the store through its read
API, :mod:`xltools.store.queries`, big row sets from one snapshot), :mod:`.figures` (the figures every sheet shows), :mod:`.book` (the
streaming writer), :mod:`.sheets_dashboard` (dashboard, changes, page setup),
:mod:`.sheets_lists` (the list sheets), :mod:`.sheets_submissions`, :mod:`.sheets_portfolio` and :mod:`.build` (:func:`write_rollup`).
"""
from __future__ import annotations

from xltools.reports.rollup.book import (
    WIDTH_SAMPLE,
    ZIP_LEVEL,
    _Block,
    _Book,
    _cell,
    _clean,
    _encode,
    _label_of,
    _row,
    _severity,
)
from xltools.reports.rollup.build import build_rollup, write_rollup
from xltools.reports.rollup.common import (
    CHART_MAX_ACCOUNTS,
    DATE_FORMAT,
    DATETIME_FORMAT,
    FRACTION_FORMAT,
    INT_FORMAT,
    MAX_WIDTH,
    NUMBER_FORMAT,
    PERCENT_FORMAT,
    RATIO_FORMATS,
    SCORE_FORMAT,
    SHEETS,
    TABLE_STYLE,
    TEXTS,
    YEN_FORMAT,
    Col,
    RollupError,
    RollupWorkerError,
    Unit,
    amount_unit,
)
from xltools.reports.rollup.data import STREAMED, RollupData, gather, latest_period
from xltools.reports.rollup.figures import (
    account_rows,
    biggest_changes,
    month_changes,
    new_cases,
    pipeline_row,
    quarter_rows,
    rep_rows,
    trend_rows,
    won_in_period,
)
from xltools.reports.rollup.sheets_dashboard import change_subject, change_value, dashboard_lists

__all__ = [
    "CHART_MAX_ACCOUNTS", "DATE_FORMAT", "DATETIME_FORMAT", "FRACTION_FORMAT", "INT_FORMAT", "MAX_WIDTH",
    "NUMBER_FORMAT", "PERCENT_FORMAT", "RATIO_FORMATS", "SCORE_FORMAT", "SHEETS", "STREAMED",
    "TABLE_STYLE", "TEXTS", "WIDTH_SAMPLE", "YEN_FORMAT", "ZIP_LEVEL", "Col", "RollupData", "RollupError", "RollupWorkerError", "Unit",
    "account_rows", "amount_unit", "biggest_changes", "build_rollup", "change_subject", "change_value",
    "dashboard_lists", "gather", "latest_period", "month_changes", "new_cases", "pipeline_row", "quarter_rows",
    "rep_rows", "trend_rows", "won_in_period", "write_rollup",
    "_Block", "_Book", "_cell", "_clean", "_encode", "_label_of", "_row", "_severity",
]
