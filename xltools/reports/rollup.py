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
Submissions / 提出状況      ``Submissions``: every file received (status, issue counts) and,
                          with a roster, every rep x account with no plan (status 未提出)
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
into the sheets (openpyxl only lays out the skeleton), so 10,000 plans -- 300,000
opportunities and 370,000 issues -- take about a minute and well under 1 GB.
"""
from __future__ import annotations

import dataclasses
import math
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable

from xltools import clock
from xltools.collect import UI as COLLECT_UI, MissingSubmission, missing_submissions
from xltools.spec.config import Settings
from xltools.errors import UsageError
from xltools.spec.periods import Period, PeriodError, fiscal_quarter_of, parse_period
from xltools.spec.spec import LANGS, Field, Label, Spec
from xltools.spec.derive import Deriver, breakdown_quarters
from xltools.checking.validate import name_key
from xltools.workbook.xlwrite import FORMULA_TRIGGERS, MAX_CELL_CHARS

YEN_FORMAT = '"¥"#,##0'
PERCENT_FORMAT = '0"%"'
INT_FORMAT = "#,##0"
NUMBER_FORMAT = "#,##0.##"
FRACTION_FORMAT = "0.0%"
SCORE_FORMAT = "0.00"
DATE_FORMAT = "yyyy/mm/dd"
DATETIME_FORMAT = "yyyy/mm/dd hh:mm"
RATIO_FORMATS = {"ja": '0.00"倍"', "en": '0.00"x"'}
TABLE_STYLE = "TableStyleMedium2"
MAX_WIDTH = 48
#: more accounts than this: the Summary chart shows plan vs target per account manager
CHART_MAX_ACCOUNTS = 40


#: sheet keys in workbook order -> localised sheet name
SHEETS: dict[str, Label] = {
    "dashboard": Label("ダッシュボード", "Dashboard"),
    "changes": Label("前月比", "Changes"),
    "summary": Label("サマリー", "Summary"),
    "submissions": Label("提出状況", "Submissions"),
    "pipeline": Label("パイプライン", "Pipeline"),
    "coverage": Label("カバレッジ", "Coverage"),
    "relationships": Label("リレーション", "Relationships"),
    "activities": Label("活動", "Activities"),
    "reviews": Label("改善アクション", "Reviews"),
    "success_cases": Label("成功事例", "SuccessCases"),
    "issues": Label("データ品質", "Issues"),
    "trend": Label("推移", "Trend"),
}

#: every text of the roll-up that is not a spec label
TEXTS: dict[str, Label] = {
    # the dashboard
    "dash_title": Label("ダッシュボード", "Dashboard"),
    "dash_sub": Label("対象期間 {period}　金額単位 {unit}　作成 {made}", "Period {period} · amounts in {unit} · made {made}"),
    "dash_totals": Label("全体（カバレッジ＝目標期間の案件合計÷売上目標）",
                         "Totals (coverage = pipeline in the target period ÷ sales target)"),
    "dash_counts": Label("プランと提出", "Plans and submissions"),
    "dash_reps": Label("担当営業別 RAG", "RAG by account manager"),
    "dash_thin": Label("カバレッジ不足の顧客（{low}倍未満、低い順）", "Accounts below {low}x coverage (worst first)"),
    "dash_rag_accounts": Label("顧客の RAG", "Accounts by RAG"),
    "dash_dm": Label("アンチ・不明の決裁者", "Decision makers against us or unknown"),
    "dash_visits": Label("未確定の役員同行（今後{days}日）", "Executive visits not booked (next {days} days)"),
    "dash_plans": Label("未提出・却下・{days}日以上更新なしのプラン", "Plans missing, rejected or not updated for {days} days"),
    "dash_changes": Label("前月からの主な変化", "Biggest changes since last month"),
    "dash_more": Label("ほか {n} 件（{sheet}シート）", "{n} more (sheet {sheet})"),
    "chart_coverage": Label("顧客別カバレッジ（線：{low}倍）", "Coverage by account (line: {low}x)"),
    "won_so_far": Label("受注済（目標期間）", "Won so far (target period)"),
    "gap": Label("目標までの残り（目標−受注済）", "Gap to target (target − won)"),
    "rag": Label("RAG", "RAG"),
    "rag_bad": Label("赤", "Red"),
    "rag_warn": Label("黄", "Amber"),
    "rag_good": Label("緑", "Green"),
    "no_rag": Label("判定なし", "No verdict"),
    "line": Label("基準", "Threshold"),
    "planned_activity": Label("予定の活動", "Planned activity"),
    "yes": Label("あり", "Yes"),
    "none": Label("なし", "None"),
    "what": Label("変化", "What changed"),
    "subject": Label("対象", "Subject"),
    "old": Label("前", "Before"),
    "new": Label("後", "After"),
    "plan_version": Label("プランの版", "Plan version"),
    "stale_plan": Label("{days}日更新なし", "Not updated for {days} days"),
    "confidential": Label("社外秘", "Confidential"),
    "page_of": Label("&P / &N ページ", "Page &P of &N"),
    "made_on": Label("作成 {made}", "Made {made}"),
    # changes since last month
    "chg_added": Label("案件追加", "Deal added"),
    "chg_won": Label("受注", "Deal won"),
    "chg_lost": Label("失注", "Deal lost"),
    "chg_dropped": Label("案件削除（未完了）", "Open deal removed"),
    "chg_slipped": Label("受注予定の後ろ倒し", "Deal slipped to a later quarter"),
    "chg_resized": Label("金額変更", "Deal resized"),
    "chg_stance": Label("スタンス変更", "Stance changed"),
    "chg_person_added": Label("キーマン追加", "Key person added"),
    "chg_person_gone": Label("キーマン異動・退職・削除", "Key person transferred, gone or removed"),
    "chg_verdict": Label("カバレッジ判定の変化", "Coverage crossed a threshold"),
    "chg_rep": Label("担当交代", "New account manager"),
    "removed": Label("一覧から削除", "Removed from the list"),
    "changes": Label("前月末からの変化（プランごと、前月末の版→現在の版）",
                     "Changes since the end of last month (per plan: last month's version → current)"),
    "missing_plans": Label("未提出のプラン", "Plans missing"),
    "rejected_files": Label("却下されたファイル", "Files rejected"),
    "file_conflicts": Label("ファイルの競合", "File conflicts"),
    "title": Label("アカウントプラン ロールアップ", "Account plan roll-up"),
    "totals": Label("全体", "Totals"),
    "by_rep": Label("担当営業別カバレッジ", "Coverage by account manager"),
    "by_quarter": Label("受注予定四半期別パイプライン（失注を除く）", "Pipeline by expected close quarter (excluding lost)"),
    "by_account": Label("顧客別 計画と目標", "Plan vs target by account"),
    "chart_plan": Label("計画と目標（顧客別）", "Plan vs target by account"),
    "chart_plan_rep": Label("計画と目標（担当営業別）", "Plan vs target by account manager"),
    "submissions": Label("提出されたファイルと未提出", "Files received and missing submissions"),
    "pipeline": Label("全案件", "Every opportunity"),
    "coverage": Label("顧客別カバレッジ（{low}倍未満：不足、{high}倍超：過大）",
                   "Coverage by account (below {low}x: too low, above {high}x: too high)"),
    "win_rates": Label("実績勝率と必要カバレッジ（直近の四半期）", "Historical win rate and implied coverage (recent quarters)"),
    "stance_counts": Label("顧客別スタンス", "Stance by account"),
    "dm_risk": Label("アンチ・不明の決裁者", "Decision makers against us or unknown"),
    "stale_contacts": Label("{days}日以上接触していないキーマン", "Key persons not met for {days} days or more"),
    "exec_summary": Label("同行役員別の依頼", "Visits requested per executive"),
    "exec_visits": Label("役員同行の依頼（役員別）", "Executive visits requested (by executive)"),
    "overdue_activities": Label("予定日を過ぎた未完了の活動", "Activities past their date and not done"),
    "open_actions": Label("未完了の改善アクション", "Open review actions"),
    "new_cases": Label("今期の新しい成功事例（非公開を除く）", "New success cases this period (private ones excluded)"),
    "data_issues": Label("データ品質の問題", "Data quality issues"),
    "trend": Label("月次推移（取り込み月ごと）", "Month over month (by collection month)"),
    "chart_trend": Label("計画・加重見込み・目標の推移", "Plan, weighted forecast and target by month"),
    # column headers
    "item": Label("項目", "Item"),
    "value": Label("値", "Value"),
    "plans": Label("プラン数", "Plans"),
    "accounts": Label("顧客数", "Accounts"),
    "count": Label("件数", "Count"),
    "amount": Label("金額", "Amount"),
    "weighted": Label("加重金額", "Weighted amount"),
    "quarter": Label("受注予定四半期", "Close quarter"),
    "no_date": Label("未定", "No date"),
    "file": Label("ファイル", "File"),
    "status": Label("状態", "Status"),
    "replaced": Label("新しい版に更新済", "Replaced by a newer version"),
    "version": Label("版", "Version"),
    "collected_at": Label("取込日時", "Collected at"),
    "errors": Label("エラー", "Errors"),
    "warnings": Label("警告", "Warnings"),
    "infos": Label("情報", "Info"),
    "detail": Label("詳細", "Detail"),
    "total": Label("合計", "Total"),
    "blank": Label("未入力", "Blank"),
    "days_since": Label("経過日数", "Days since"),
    "upcoming": Label("今後の予定", "Upcoming"),
    "next_date": Label("直近の予定日", "Next date"),
    "days_overdue": Label("超過日数", "Days overdue"),
    "severity": Label("重要度", "Severity"),
    "code": Label("コード", "Code"),
    "sheet": Label("シート", "Sheet"),
    "cell": Label("セル", "Cell"),
    "field": Label("項目", "Field"),
    "raw": Label("入力値", "Value"),
    "message": Label("メッセージ", "Message"),
    "month": Label("月", "Month"),
    "period": Label("対象期間", "Period"),
    "generated_at": Label("作成日時", "Generated at"),
    "files_received": Label("受信ファイル数", "Files received"),
    "missing_count": Label("未提出", "Missing submissions"),
    "error_count": Label("エラー件数（現行プラン）", "Errors (current plans)"),
    "all_periods": Label("全期間", "All periods"),
    "error": Label("エラー", "Error"),
    "warning": Label("警告", "Warning"),
    "info": Label("情報", "Info"),
}


class RollupError(UsageError):
    """The roll-up cannot be written with these arguments."""


# -- columns ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Col:
    """One column of a roll-up table: header, how to get the value from a record, its
    number format (a string, or a function of the record) and an optional tone."""

    header: Label
    get: Callable[[dict], Any]
    fmt: str | Callable[[dict], str | None] | None = None
    tone: Callable[[dict], str | None] | None = None
    width: float | None = None


def _text(key: str) -> Callable[[dict], Any]:
    return lambda r: r.get(key)


@dataclass(frozen=True)
class Unit:
    """The display unit of amounts: the cells keep exact yen, the number format scales
    them (``#,##0.0,,`` shows 5,111,890,000 as 5,111.9) and every header names the unit."""

    label: Label
    fmt: str

    def header(self, label: Label) -> Label:
        return Label(f"{label.ja}（{self.label.ja}）", f"{label.en} ({self.label.en})")


def amount_unit(spec: Spec, settings: Settings) -> Unit:
    """The unit of ``[report] amount_unit`` (a key of the spec's ``amount_unit`` list)."""
    key = settings.report.amount_unit
    try:
        choice = spec.choices("amount_unit").get(key)
    except KeyError:
        keys = ", ".join(c.key for c in spec.choices("amount_unit").choices)
        raise RollupError(f"[report] amount_unit = {key!r}: 金額単位は {keys} のいずれかです / "
                          f"must be one of {keys}") from None
    thousands = round(math.log10(choice.factor)) // 3 if choice.factor and choice.factor > 1 else 0
    return Unit(choice.label, "#,##0" + (".0" if thousands >= 2 else "") + "," * thousands)


class _Columns:
    """Columns made from the spec: labels, choice labels and formats in one language;
    amounts in the display unit, named in the header."""

    def __init__(self, spec: Spec, lang: str, unit: Unit | None = None):
        self.spec, self.lang = spec, lang
        self.unit = unit or Unit(spec.choices("amount_unit").choices[0].label, "#,##0")

    def money(self, header: Label, get: Callable[[dict], Any], **kw: Any) -> Col:
        """An amount column: exact yen shown in the display unit, the unit in the header."""
        return Col(self.unit.header(header), get, self.unit.fmt, **kw)

    def choice_label(self, list_name: str | None, value: Any) -> Any:
        if list_name is None or value is None:
            return value
        try:
            return self.spec.choices(list_name).get(value).label(self.lang)
        except KeyError:
            return value  # an open list keeps the typed text

    def choice_tone(self, list_name: str | None, value: Any) -> str | None:
        try:
            return self.spec.choices(list_name).get(value).tone if list_name else None
        except KeyError:
            return None

    def fmt(self, f: Field) -> str | None:
        if f.type == "amount":
            return self.unit.fmt
        if f.type == "percent":
            return PERCENT_FORMAT
        if f.type == "ratio":
            return RATIO_FORMATS[self.lang]
        if f.type == "fraction":
            return FRACTION_FORMAT
        if f.type == "score":
            return SCORE_FORMAT
        if f.type in ("integer",):
            return INT_FORMAT
        if f.type == "date":
            return DATE_FORMAT
        return None

    def field(self, f: Field, key: str | None = None, *, tone: bool = False) -> Col:
        """A column for a spec field or table column (values keyed by ``key`` or ``f.key``)."""
        k = key or f.key
        choices = f.choices
        label = self.unit.header(f.label) if f.type == "amount" else f.label
        return Col(label, (lambda r: self.choice_label(choices, r.get(k))) if choices else _text(k),
                   self.fmt(f), tone=(lambda r: self.choice_tone(choices, r.get(k))) if tone and choices else None,
                   width=f.width)

    def table(self, name: str, *, skip: Iterable[str] = (), tone: Iterable[str] = ()) -> list[Col]:
        tone = set(tone)
        return [self.field(c, tone=c.key in tone) for c in self.spec.table(name).columns if c.key not in skip]

    def context(self, *keys: str) -> list[Col]:
        """Plan context columns (rep, account_name, ...) labelled like the spec's fields."""
        return [self.field(self.spec.field(k)) for k in keys]


def _t(key: str, lang: str, **params: Any) -> str:
    text = TEXTS[key](lang)
    return text.format(**params) if params else text


# -- data ------------------------------------------------------------------------------------

def _day(v: Any) -> date | None:
    if isinstance(v, datetime):
        return v.date()
    return v if isinstance(v, date) else None


def _local(v: Any) -> datetime | None:
    """An aware timestamp from the store -> local wall time (naive), as Excel shows it."""
    if not isinstance(v, datetime):
        return None
    if v.tzinfo is None:
        v = v.replace(tzinfo=timezone.utc)
    return v.astimezone().replace(tzinfo=None)


def _period_or_none(text: Any, start_month: int) -> Period | None:
    try:
        return parse_period(text, start_month) if text else None
    except PeriodError:
        return None


def _ratio(plan: Any, target: Any) -> float | None:
    return plan / target if plan is not None and target else None


@dataclass
class RollupData:
    """Everything the roll-up shows.  The big row sets (opportunities, contacts,
    activities, issues) are :class:`_Stream` objects read from one snapshot of the store
    while the workbook is written; the rest are lists."""

    period: str | None
    today: date
    generated_at: datetime
    versions: list[dict]
    rows: dict[str, Any]  # spec table -> records (list or _Stream)
    files: list[dict]
    issues: Any  # _Stream of issue records (message in the roll-up's language)
    history: list[dict]
    earlier_cases: list[dict]
    win_rates: Any = None  # xltools.reports.winrate.WinRates
    missing: list[MissingSubmission] | None = None
    roster_path: str | None = None
    changes: list[dict] = dataclasses.field(default_factory=list)  # :func:`month_changes`


def latest_period(store: Any, settings: Settings) -> str | None:
    """The latest period that has a current plan (``FY2026Q3``), or None."""
    found = {_period_or_none(v.get("period"), settings.fiscal_year_start_month)
             for v in store.current_versions()}
    found.discard(None)
    if not found:
        return None
    return str(max(found, key=lambda p: (p.start, p.quarter is not None)))


#: spec tables with many rows per plan: streamed, never held in memory as a whole
STREAMED = ("Opportunities", "Contacts", "Activities")


def gather(store: Any, spec: Spec, settings: Settings, snapshot: "_Snapshot", *, period: str | None = None,
           roster: str | os.PathLike | None = None, now: datetime | None = None, lang: str = "ja") -> RollupData:
    """Read what the roll-up needs from ``store`` (big row sets as streams of
    ``snapshot``).  ``period``: ``FY2026Q3`` or ``FY2026`` (default: the latest period
    with a current plan); ``now`` (default: :func:`xltools.clock.now`): ``generated_at``,
    and ``today`` is its local date."""
    now = clock.resolve(now)
    start = settings.fiscal_year_start_month
    if period is not None and str(period).strip():
        period = str(parse_period(period, start))
    else:
        period = latest_period(store, settings)
    entries = None
    if roster is not None:
        from xltools.checking.roster import read_roster

        entries = read_roster(roster, spec)
    rows: dict[str, Any] = {t: snapshot.rows(t, period) for t in STREAMED}
    rows.update({t: store.rows(t, period) for t in ("Reviews", "SuccessCases")})
    selected = _period_or_none(period, start)
    earlier: list[dict] = []
    if selected is not None:
        for r in store.rows("SuccessCases", None, all_versions=True):
            p = _period_or_none(r.get("period"), start)
            if p is not None and p.start < selected.start:
                earlier.append(r)
    history = store.versions(period, all_versions=True)
    from xltools.reports.winrate import win_rates

    data = RollupData(period=period, today=clock.today(now), generated_at=_local(now),
                      versions=store.current_versions(period), rows=rows, files=store.files(period),
                      issues=snapshot.issues(period, lang), history=history, earlier_cases=earlier,
                      win_rates=win_rates(store, settings, until=selected))
    data.changes = month_changes(store, spec, settings, history, data.versions, data.today)
    if entries is not None:
        if period is None:
            raise RollupError("名簿と突き合わせる対象期間がわかりません。--period を指定してください。 / "
                              "Cannot tell which period to check the roster against: give --period.")
        data.missing = missing_submissions(entries, history, period)
        data.roster_path = str(roster)
    return data


# -- streamed rows -----------------------------------------------------------------------------

class _Snapshot:
    """One read transaction over the store.  Big row sets are counted when the workbook is
    laid out and streamed (server-side cursor) when it is written -- from the same
    snapshot, so every Excel table holds exactly its rows even while a collect runs."""

    def __init__(self, store: Any):
        store.ensure_schema()
        self.store = store
        self.conn = store.engine.connect()
        if store.dialect == "postgresql":
            self.conn.execution_options(isolation_level="REPEATABLE READ")
        self.tx = self.conn.begin()

    def close(self) -> None:
        try:
            self.tx.rollback()  # read only
        finally:
            self.conn.close()

    def __enter__(self) -> "_Snapshot":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _period(self, q, column, period: str | None, unplaced=None):
        """``FY2026Q3`` matches that quarter; ``FY2026`` the year and its quarters (like the
        store's own queries); rows whose ``unplaced`` column is NULL always match."""
        import sqlalchemy as sa

        if period is None:
            return q
        p = parse_period(period)
        cond = column == str(p) if p.quarter is not None else sa.or_(column == str(p), column.like(f"{p}Q_"))
        return q.where(cond if unplaced is None else sa.or_(cond, unplaced.is_(None)))

    def rows(self, table: str, period: str | None) -> "_Stream":
        """Rows of a spec table of the current plan versions, with plan context."""
        import sqlalchemy as sa

        from xltools.store.schema import CONTEXT_KEYS, db_table_name

        st = self.store
        t, pv = st.t[db_table_name(table)], st.t["plan_versions"]
        cols = [pv.c[k] for k in CONTEXT_KEYS] + [pv.c.id.label("version_id"), t.c.row_index] + [
            t.c[c.key] for c in st.spec.table(table).columns]
        q = (sa.select(*cols).select_from(t.join(pv, t.c.version_id == pv.c.id))
             .where(pv.c.is_current.is_(True)).order_by(pv.c.id, t.c.row_index, t.c.id))
        return _Stream(self, self._period(q, pv.c.period, period))

    def issues(self, period: str | None, lang: str) -> "_Stream":
        """The issues of the current versions and of the rejected or conflicting files that
        are the latest file at their path (as :meth:`Store.issues`), errors first."""
        import sqlalchemy as sa

        st = self.store
        issues, files, pv = st.t["issues"], st.t["files"], st.t["plan_versions"]
        f2 = files.alias("f2")
        latest_at_path = sa.select(sa.func.max(f2.c.id)).where(f2.c.path == files.c.path).scalar_subquery()
        rank = sa.case({"error": 0, "warning": 1}, value=issues.c.severity, else_=2)
        q = (sa.select(pv.c.account_id, pv.c.account_name, pv.c.rep, pv.c.period,
                       files.c.path.label("source_file"), issues.c.code, issues.c.severity, issues.c.sheet,
                       issues.c.cell, issues.c.field, issues.c.table_name.label("table"), issues.c.row,
                       issues.c.raw, issues.c["message_en" if lang == "en" else "message_ja"].label("message"))
             .select_from(issues.join(files, issues.c.file_id == files.c.id)
                          .outerjoin(pv, issues.c.version_id == pv.c.id))
             .where(sa.or_(pv.c.is_current.is_(True),
                           sa.and_(files.c.result.in_(("rejected", "conflict")), files.c.id == latest_at_path)))
             .order_by(rank, pv.c.rep, pv.c.account_name, files.c.id, issues.c.id))
        return _Stream(self, self._period(q, pv.c.period, period, issues.c.version_id))

    def run(self, q, *, stream: bool = False):
        import sqlalchemy as sa

        try:
            if stream:
                q = q.execution_options(stream_results=True, yield_per=STREAM_BATCH)
            return self.conn.execute(q)
        except sa.exc.SQLAlchemyError as e:
            detail = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
            from xltools.store.engine import StoreError

            raise StoreError(f"データベースを読めません / cannot read the database: {detail}") from None


#: rows fetched at a time from a streamed query
STREAM_BATCH = 2000


class _Stream:
    """A query's rows as dicts, read again on every iteration; ``len()`` is counted once.
    ``map`` adds a function applied to each row (computed columns)."""

    def __init__(self, snapshot: _Snapshot, q, fn: Callable[[dict], dict] | None = None, n: int | None = None):
        import sqlalchemy as sa

        self.snapshot, self.q, self.fn = snapshot, q, fn
        if n is None:
            n = snapshot.run(sa.select(sa.func.count()).select_from(q.order_by(None).subquery())).scalar()
        self.n = n

    def map(self, fn: Callable[[dict], dict]) -> "_Stream":
        return _Stream(self.snapshot, self.q, fn, self.n)

    def __len__(self) -> int:
        return self.n

    def head(self, n: int) -> list[dict]:
        return self._rows(self.snapshot.run(self.q.limit(n)))

    def _rows(self, result) -> list[dict]:
        fn = self.fn
        return [fn(dict(r)) if fn else dict(r) for r in result.mappings()]

    def __iter__(self):
        result = self.snapshot.run(self.q, stream=True)
        fn = self.fn
        try:
            for i, r in enumerate(result.mappings()):
                if i >= self.n:  # cannot happen inside one snapshot; the table's size wins
                    break
                yield fn(dict(r)) if fn else dict(r)
        finally:
            result.close()


# -- figures ---------------------------------------------------------------------------------

def _verdict(ratio: float | None, spec: Spec, settings: Settings) -> str | None:
    """Key of the ``verdict`` choice list for a coverage ratio (:mod:`xltools.spec.derive`)."""
    return Deriver(spec, settings).verdict(ratio)


def account_rows(data: RollupData, spec: Spec, settings: Settings) -> list[dict]:
    """One record per current plan, with the figures collect stored for it (in-period
    pipeline and coverage exactly as the workbook and ``check`` show them); the verdict is
    that coverage judged by this report's thresholds."""
    rows = sorted(data.versions, key=lambda v: (name_key(v.get("rep") or ""), name_key(v.get("account_name") or "")))
    return [{**v, "coverage_verdict": _verdict(v.get("coverage_ratio"), spec, settings)} for v in rows]


def _sum(items: Iterable[dict], key: str) -> int:
    return sum(a.get(key) or 0 for a in items)


def rep_rows(accounts: list[dict], spec: Spec, settings: Settings) -> list[dict]:
    """Per rep: the accounts' figures added up; coverage = Σ in-period pipeline ÷ Σ target."""
    groups: dict[str, list[dict]] = defaultdict(list)
    names: dict[str, str] = {}
    for a in accounts:
        k = name_key(a.get("rep") or "")
        groups[k].append(a)
        names.setdefault(k, a.get("rep"))
    out = []
    for k, items in groups.items():
        target, inside = _sum(items, "sales_target"), _sum(items, "period_pipeline")
        ratio = _ratio(inside, target)
        out.append({"rep": names[k], "accounts": len(items), "sales_target": target, "period_pipeline": inside,
                    "outside_period_total": _sum(items, "outside_period_total"),
                    "plan_total": _sum(items, "plan_total"), "period_weighted": _sum(items, "period_weighted"),
                    "weighted_total": _sum(items, "weighted_total"),
                    "coverage_ratio": ratio, "coverage_verdict": _verdict(ratio, spec, settings)})
    return out


def pipeline_row(spec: Spec, settings: Settings) -> Callable[[dict], dict]:
    """Adds an opportunity's weighted amount and the fiscal quarter of its expected close."""
    start = settings.fiscal_year_start_month
    lost = spec.the("stage", "lost")

    def add(r: dict) -> dict:
        d = _day(r.get("expected_close"))
        r["quarter"] = str(fiscal_quarter_of(d, start)) if d else None
        r["weighted"] = r.get("weighted") or 0  # stored by collect (xltools.spec.derive)
        r["live"] = r.get("stage") != lost
        return r

    return add


def quarter_rows(pipeline: Iterable[dict], lang: str) -> list[dict]:
    """Count, amount and weighted amount per close quarter (lost opportunities left out)."""
    groups: dict[str | None, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in pipeline:
        if r["live"]:
            g = groups[r["quarter"]]
            g[0] += 1
            g[1] += r.get("amount") or 0
            g[2] += r["weighted"]
    keys = sorted((k for k in groups if k), key=lambda k: parse_period(k)) + ([None] if None in groups else [])
    return [{"quarter": k or _t("no_date", lang), "count": groups[k][0], "amount": groups[k][1],
             "weighted": groups[k][2]} for k in keys]


def _overdue(table: str, spec: Spec, row: dict, today: date) -> date | None:
    """The first overdue date of ``row`` by the spec's ``overdue_unless`` columns, or None."""
    for c in spec.table(table).columns:
        if c.overdue_unless:
            other, keys = c.overdue_unless
            d = _day(row.get(c.key))
            if d is not None and d < today and row.get(other) not in keys:
                return d
    return None


def trend_rows(data: RollupData) -> list[dict]:
    """Per collection month, the plans as they stood at the end of that month: for each
    account and period the latest version collected by then (conflicting versions left
    out; a plan's versions ordered by file time like the store does)."""
    versions = [v for v in data.history if v.get("collected_at") is not None and not v.get("conflict_with")]
    months = sorted({_local(v["collected_at"]).strftime("%Y-%m") for v in versions})
    out = []
    for m in months:
        upto = [v for v in versions if _local(v["collected_at"]).strftime("%Y-%m") <= m]
        latest_of_plan: dict[str, dict] = {}
        for v in sorted(upto, key=lambda v: (v.get("file_mtime") or v["collected_at"], v["version_id"])):
            latest_of_plan[v["plan_id"]] = v
        slot: dict[tuple, dict] = {}
        for v in sorted(latest_of_plan.values(), key=lambda v: (v["collected_at"], v["version_id"])):
            acct = name_key(v.get("account_id") or "") or "name:" + name_key(v.get("account_name") or "")
            slot[(acct, v.get("period"))] = v
        snap = list(slot.values())
        target, inside = _sum(snap, "sales_target"), _sum(snap, "period_pipeline")
        out.append({"month": m, "plans": len(snap), "sales_target": target, "period_pipeline": inside,
                    "plan_total": _sum(snap, "plan_total"), "period_weighted": _sum(snap, "period_weighted"),
                    "weighted_total": _sum(snap, "weighted_total"), "coverage_ratio": _ratio(inside, target)})
    return out


def _prev_version(history: list[dict], v: dict, before: date) -> dict | None:
    """The plan's version as it stood at the end of the month before ``before``: the latest
    of its versions collected before that day (conflicting ones left out)."""
    older = [h for h in history if h.get("plan_id") == v.get("plan_id") and h["version_id"] != v["version_id"]
             and h.get("collected_at") is not None and not h.get("conflict_with")
             and _local(h["collected_at"]).date() < before]
    return max(older, key=lambda h: (_local(h["collected_at"]), h["version_id"]), default=None)


def month_changes(store: Any, spec: Spec, settings: Settings, history: list[dict], current: list[dict],
                  today: date) -> list[dict]:
    """What changed in each current plan since the end of last month (the month before
    ``today``'s): :func:`xltools.reports.history.diff_plans` (deals added / won / lost / removed,
    stance changes, key persons added or gone, a new rep), deals that slipped to a later
    fiscal quarter or changed amount, and coverage that crossed a threshold (stored
    coverage judged by the settings).  Records: rep, account_name, account_id, kind (a
    ``chg_*`` text key), subject, old, new, ``amount`` (the size of the change, for
    ranking), version_no and prev_version_no; ordered by rep and account."""
    from xltools.reports.history import diff_plans, load_plans

    first = today.replace(day=1)
    pairs = []
    for v in current:
        if v.get("collected_at") is None or _local(v["collected_at"]).date() < first:
            continue  # not updated this month
        prev = _prev_version(history, v, first)
        if prev is not None:
            pairs.append((prev, v))
    plans = load_plans(store, [x["version_id"] for pair in pairs for x in pair])
    start = settings.fiscal_year_start_month
    deriver = Deriver(spec, settings)
    won, lost = spec.the("stage", "won"), spec.the("stage", "lost")
    out: list[dict] = []
    for prev, v in pairs:
        before, after = plans.get(prev["version_id"]), plans.get(v["version_id"])
        if before is None or after is None:
            continue
        base = {"rep": v.get("rep"), "account_name": v.get("account_name"), "account_id": v.get("account_id"),
                "version_no": v.get("version_no"), "prev_version_no": prev.get("version_no")}

        def add(kind: str, subject: Any = None, old: Any = None, new: Any = None, amount: Any = None,
                fmt: str | None = None, **extra: Any) -> None:
            out.append({**base, "kind": kind, "subject": subject, "old": old, "new": new,
                        "amount": abs(amount or 0), "fmt": fmt, **extra})

        ch = diff_plans(before, after, before_id=prev["version_id"], after_id=v["version_id"], spec=spec)
        if ch.rep:
            add("chg_rep", None, ch.rep[0], ch.rep[1])
        for kind, items in (("chg_won", ch.opportunities_won), ("chg_lost", ch.opportunities_lost),
                            ("chg_added", ch.opportunities_added), ("chg_dropped", ch.opportunities_dropped)):
            for o in items:
                add(kind, o.get("opportunity") or o.get("opp_id"), None, o.get("amount"), o.get("amount"), "amount")
        # deals in both versions, still open: a later close quarter, a new amount
        old_rows = before.rows("Opportunities")
        by_id = {name_key(r.get("opp_id")): r for r in old_rows if r.get("opp_id") is not None}
        by_name = {name_key(r.get("opportunity")): r for r in old_rows if r.get("opportunity")}
        for r in after.rows("Opportunities"):
            o = by_id.get(name_key(r.get("opp_id"))) if r.get("opp_id") is not None else None
            if o is None and r.get("opportunity"):
                o = by_name.get(name_key(r.get("opportunity")))
            if o is None or r.get("stage") in (won, lost) or o.get("stage") in (won, lost):
                continue
            name = r.get("opportunity") or r.get("opp_id")
            d_old, d_new = _day(o.get("expected_close")), _day(r.get("expected_close"))
            if d_old and d_new:
                q_old, q_new = fiscal_quarter_of(d_old, start), fiscal_quarter_of(d_new, start)
                if q_new.start > q_old.start:
                    add("chg_slipped", name, str(q_old), str(q_new), r.get("amount"))
            a_old, a_new = o.get("amount"), r.get("amount")
            if isinstance(a_old, (int, float)) and isinstance(a_new, (int, float)) and a_old != a_new:
                add("chg_resized", name, a_old, a_new, a_new - a_old, "amount")
        for c in ch.stance_changes:
            add("chg_stance", c["name"], c["old"], c["new"])
        for c in ch.contacts_added:
            add("chg_person_added", c["name"], None, c.get("department"))
        for c in ch.contacts_left:
            add("chg_person_gone", c["name"], None, c["reason"])
        v_old, v_new = deriver.verdict(prev.get("coverage_ratio")), deriver.verdict(v.get("coverage_ratio"))
        if v_old != v_new:
            add("chg_verdict", None, prev.get("coverage_ratio"), v.get("coverage_ratio"),
                (v.get("period_pipeline") or 0) - (prev.get("period_pipeline") or 0), "ratio",
                verdicts=(v_old, v_new))
    out.sort(key=lambda r: (name_key(r["rep"] or ""), name_key(r["account_name"] or "")))
    return out


def new_cases(data: RollupData, spec: Spec) -> list[dict]:
    """Success cases of the period's plans that no earlier period had (same title and
    customer); private ones (``shareable`` meaning private) never leave the database."""
    def key(r: dict) -> tuple[str, str]:
        return name_key(r.get("title") or ""), name_key(r.get("customer") or "")

    before = {key(r) for r in data.earlier_cases}
    private = spec.meaning("shareable", "private")
    seen: set[tuple[str, str]] = set()
    out = []
    for r in data.rows["SuccessCases"]:
        k = key(r)
        if r.get("shareable") in private or k in before or k in seen:
            continue
        seen.add(k)
        out.append(r)
    return out


# -- writing -----------------------------------------------------------------------------------

@dataclass
class _Block:
    """Rows of one sheet the streaming writer emits: a title cell, or a table (header row
    and one row per record)."""

    top: int
    text: str | None = None  # a title
    size: int = 12
    left: int = 1  # first column (blocks side by side on the dashboard)
    wrap: bool = False  # header cells wrap (narrow dashboard columns)
    headers: list[str] | None = None  # a table
    cols: list[Col] | None = None
    records: list[dict] | None = None


class _Book:
    """The workbook being written, with the helpers every sheet uses.

    openpyxl holds the structure -- sheets, column widths, frozen panes, Excel tables,
    charts and the styles -- but no cells; :meth:`save` writes that skeleton and then
    streams every sheet's rows straight into the package (inline strings, never a
    formula), which keeps a roll-up of thousands of plans fast and its memory small."""

    def __init__(self, spec: Spec, settings: Settings, lang: str):
        from openpyxl import Workbook

        self.spec, self.settings, self.lang = spec, settings, lang
        self.unit = amount_unit(spec, settings)
        self.cols = _Columns(spec, lang, self.unit)
        self.wb = Workbook()
        self.wb.remove(self.wb.active)
        self.sheets: dict[str, Any] = {}
        self.blocks: dict[str, list[_Block]] = {}
        self._styles: dict[tuple, int] = {}
        self._sealed = False

    def t(self, key: str, **params: Any) -> str:
        return _t(key, self.lang, **params)

    def money_label(self, field_key: str) -> str:
        """A spec amount field's label with the display unit."""
        return self.unit.header(self.spec.field(field_key).label)(self.lang)

    def sheet(self, key: str):
        ws = self.wb.create_sheet(SHEETS[key](self.lang))
        self.sheets[key] = ws
        self.blocks[ws.title] = []
        return ws

    def title(self, ws, row: int, text: str, size: int = 12, left: int = 1) -> None:
        self.blocks[ws.title].append(_Block(top=row, text=text, size=size, left=left))

    def table(self, ws, name: str, title: str, cols: list[Col], records: list[dict], top: int,
              left: int = 1, max_width: float = MAX_WIDTH) -> tuple[Any, int]:
        """A title row at ``top`` and an Excel table below it, from column ``left``;
        returns (table, next free row)."""
        from openpyxl.utils import get_column_letter
        from openpyxl.worksheet.filters import AutoFilter
        from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

        from xltools.workbook.xlwrite import display_width, table_name, unique_headers

        self.title(ws, top, title, left=left)
        headers = unique_headers(c.header(self.lang) for c in cols)
        last = top + 1 + max(len(records), 1)  # a table needs a data row, even a blank one
        ref = f"{get_column_letter(left)}{top + 1}:{get_column_letter(left + len(cols) - 1)}{last}"
        taken = [t for sheet in self.wb.worksheets for t in sheet.tables]
        table = Table(displayName=table_name(name, taken), ref=ref)
        table.tableColumns = [TableColumn(id=i + 1, name=h) for i, h in enumerate(headers)]
        table.autoFilter = AutoFilter(ref=ref)
        table.tableStyleInfo = TableStyleInfo(name=TABLE_STYLE, showRowStripes=True)
        ws.add_table(table)
        self.blocks[ws.title].append(_Block(top=top + 1, headers=headers, cols=cols, records=records, left=left,
                                            wrap=max_width < MAX_WIDTH))
        sample = records.head(WIDTH_SAMPLE) if hasattr(records, "head") else records[:WIDTH_SAMPLE]
        for i, c in enumerate(cols):
            letter = get_column_letter(left + i)
            longest = max([display_width(headers[i])] + [_shown_width(c.get(r)) for r in sample])
            want = min(max(10.0, min(float(MAX_WIDTH), longest + 2.0), float(c.width or 0)), max_width)
            dim = ws.column_dimensions[letter]
            if dim.width is None or dim.width < want:
                dim.width = want
        return table, last + 3

    @staticmethod
    def freeze(ws, row: int) -> None:
        ws.freeze_panes = f"A{row}"

    # -- styles ----------------------------------------------------------------------------
    def style(self, fmt: str | None = None, tone: str | None = None, quote: bool = False,
              bold_size: int | None = None, wrap: bool = False) -> int:
        """The cell-format index (``s=``) of a number format, tone, quote prefix and title font,
        registered in the workbook's stylesheet on first use."""
        key = (fmt, tone, quote, bold_size) + ((True,) if wrap else ())
        sid = self._styles.get(key)
        if sid is None:
            if self._sealed:  # the stylesheet is already written: a new style would point nowhere
                raise AssertionError(f"roll-up style {key} was not prepared")
            from openpyxl.cell.cell import Cell
            from openpyxl.styles import Font, PatternFill

            from xltools.workbook.generate import TONES

            cell = Cell(self.wb.worksheets[0])
            if fmt:
                cell.number_format = fmt
            if tone in TONES:
                fill, font = TONES[tone]
                cell.fill = PatternFill("solid", fgColor=fill)
                cell.font = Font(color=font)
            if bold_size:
                cell.font = Font(bold=True, size=bold_size)
            if quote:
                cell.quotePrefix = True
            if wrap:
                from openpyxl.styles import Alignment

                cell.alignment = Alignment(wrap_text=True, vertical="top")
            sid = self._styles[key] = cell.style_id
        return sid

    # -- writing ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the workbook: the openpyxl skeleton, with each sheet's rows streamed in."""
        import io
        import zipfile

        for block_list in self.blocks.values():  # register every style before the skeleton is written
            for b in block_list:
                if b.text is not None:
                    self.style(bold_size=b.size)
                if b.wrap:
                    self.style(wrap=True)
        self._prepare_styles()
        skeleton = io.BytesIO()
        self.wb.save(skeleton)
        self._sealed = True
        with zipfile.ZipFile(skeleton) as src:
            paths = _sheet_paths(src)
            with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL) as out:
                for info in src.infolist():
                    title = paths.get(info.filename)
                    if title is None:
                        out.writestr(info, src.read(info.filename))
                        continue
                    head, sep, tail = src.read(info.filename).decode("utf-8").partition("<sheetData></sheetData>")
                    if not sep:
                        head, sep, tail = head.partition("<sheetData />")
                    if not sep:
                        raise AssertionError(f"unexpected worksheet layout in {info.filename}")
                    blocks = sorted(self.blocks.get(title, []), key=lambda b: b.top)
                    head = head.replace('<dimension ref="A1:A1" />', f'<dimension ref="{_dimension(blocks)}" />', 1)
                    with out.open(info.filename, "w", force_zip64=True) as fh:
                        fh.write(head.encode("utf-8"))
                        fh.write(b"<sheetData>")
                        for chunk in self._sheet_rows(blocks):
                            fh.write(chunk.encode("utf-8"))
                        fh.write(b"</sheetData>")
                        fh.write(tail.encode("utf-8"))

    def _prepare_styles(self) -> None:
        """Every style a data cell can need (formats x tones x quote prefix), so that the
        stylesheet is complete before the skeleton is written."""
        from xltools.workbook.generate import TONES

        for block_list in self.blocks.values():
            for b in block_list:
                if b.cols is None:
                    continue
                for c in b.cols:
                    fmts = {c.fmt} if not callable(c.fmt) else {c.fmt(r) for r in b.records}  # small tables only
                    tones = {None} if c.tone is None else {None, *TONES}
                    for fmt in fmts | {None, DATE_FORMAT, DATETIME_FORMAT}:
                        for tone in tones:
                            for quote in (False, True):
                                self.style(fmt, tone, quote)

    def _sheet_rows(self, blocks: list[_Block]) -> Iterable[str]:
        """``<row>`` elements of a sheet, in order, in chunks."""
        if any(b.left > 1 for b in blocks):  # blocks side by side (small sheets): rows merged
            yield "".join(self._merged_rows(blocks))
            return
        buf: list[str] = []
        for b in blocks:
            if b.text is not None:
                buf.append(_row(b.top, [_cell("A", b.top, b.text, self.style(bold_size=b.size))]))
                continue
            letters = [_letter(i + 1) for i in range(len(b.cols))]
            r = b.top
            buf.append(_row(r, [_cell(letters[i], r, h, 0) for i, h in enumerate(b.headers)]))
            cols = b.cols
            for rec in b.records:
                r += 1
                cells = []
                for i, c in enumerate(cols):
                    v = c.get(rec)
                    if v is None:
                        continue
                    fmt = c.fmt(rec) if callable(c.fmt) else c.fmt
                    tone = c.tone(rec) if c.tone is not None else None
                    cells.append(_encode(letters[i], r, v, fmt, tone, self))
                buf.append(_row(r, cells))
                if len(buf) >= 2000:
                    yield "".join(buf)
                    buf.clear()
        yield "".join(buf)


    def _merged_rows(self, blocks: list[_Block]) -> list[str]:
        """The rows of blocks that share rows (the dashboard), cells in column order."""
        cells: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for b in blocks:
            if b.text is not None:
                cells[b.top].append((b.left, _cell(_letter(b.left), b.top, b.text, self.style(bold_size=b.size))))
                continue
            r = b.top
            hs = self.style(wrap=True) if b.wrap else 0
            for i, h in enumerate(b.headers):
                cells[r].append((b.left + i, _cell(_letter(b.left + i), r, h, hs)))
            for rec in b.records:
                r += 1
                for i, c in enumerate(b.cols):
                    v = c.get(rec)
                    if v is None:
                        continue
                    fmt = c.fmt(rec) if callable(c.fmt) else c.fmt
                    tone = c.tone(rec) if c.tone is not None else None
                    cells[r].append((b.left + i, _encode(_letter(b.left + i), r, v, fmt, tone, self)))
        return [_row(r, [x for _, x in sorted(cells[r])]) for r in sorted(cells)]


#: records used to size a column (the first ones; a roll-up can have 100,000s of rows)
WIDTH_SAMPLE = 300
#: deflate level of the roll-up package (speed over size: the XML compresses well anyway)
ZIP_LEVEL = 5
_EXCEL_EPOCH = datetime(1899, 12, 30)


def _letter(col: int) -> str:
    from xltools.cells import col_letter

    return col_letter(col)


def _dimension(blocks: list[_Block]) -> str:
    if not blocks:
        return "A1"
    rows = max(b.top if b.text is not None else b.top + max(len(b.records), 1) for b in blocks)
    width = max((b.left + len(b.cols) - 1 for b in blocks if b.cols), default=1)
    return f"A1:{_letter(width)}{rows}"


def _sheet_paths(z) -> dict[str, str]:
    """Worksheet part name in the package -> sheet title (from workbook.xml and its rels)."""
    import xml.etree.ElementTree as ET

    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
          "p": "http://schemas.openxmlformats.org/package/2006/relationships"}
    rels = {}
    for rel in ET.fromstring(z.read("xl/_rels/workbook.xml.rels")).findall("p:Relationship", ns):
        target = rel.get("Target")
        rels[rel.get("Id")] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    out = {}
    for sh in ET.fromstring(z.read("xl/workbook.xml")).find("m:sheets", ns).findall("m:sheet", ns):
        out[rels[sh.get(f"{{{ns['r']}}}id")]] = sh.get("name")
    return out


def _row(r: int, cells: list[str]) -> str:
    return f'<row r="{r}">{"".join(cells)}</row>'


def _clean(text: str) -> str:
    """:func:`xltools.workbook.xlwrite.clean_text` in one regular-expression pass (it runs on every
    text cell of the roll-up): XML-illegal characters and lone surrogates -> U+FFFD, cut at
    Excel's cell limit."""
    global _BAD_CHARS
    if _BAD_CHARS is None:
        import re

        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        _BAD_CHARS = re.compile(f"(?:{ILLEGAL_CHARACTERS_RE.pattern})|[\ud800-\udfff]")
    from xltools.workbook.xlwrite import MAX_CELL_CHARS

    return _BAD_CHARS.sub("\ufffd", text)[:MAX_CELL_CHARS]


_BAD_CHARS = None


def _xml_text(text: str) -> str:
    text = _clean(text)
    esc = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if "\r" in esc:  # a literal CR would be read back as LF
        esc = esc.replace("\r", "&#13;")
    if text != text.strip() or "\n" in text or "  " in text:
        return f'<t xml:space="preserve">{esc}</t>'
    return f"<t>{esc}</t>"


def _cell(letter: str, r: int, text: str, sid: int) -> str:
    """A text cell (inline string: never a formula, whatever it begins with)."""
    return f'<c r="{letter}{r}" s="{sid}" t="inlineStr"><is>{_xml_text(text)}</is></c>'


def _encode(letter: str, r: int, v: Any, fmt: str | None, tone: str | None, book: _Book) -> str:
    """One cell the way :func:`xltools.workbook.xlwrite.write_value` writes it: text as text (quote
    prefix on ``= + - @``), numbers as numbers, dates as date serials with a date format."""
    if isinstance(v, str):
        return _cell(letter, r, v, book.style(None, tone, v.startswith(FORMULA_TRIGGERS)))
    if isinstance(v, bool):
        return f'<c r="{letter}{r}" s="{book.style(None, tone)}" t="b"><v>{int(v)}</v></c>'
    if isinstance(v, Decimal):
        v = float(v)
    if isinstance(v, (int, float)):
        if isinstance(v, float) and not math.isfinite(v):
            return _cell(letter, r, str(v), book.style(None, tone))
        return f'<c r="{letter}{r}" s="{book.style(fmt, tone)}"><v>{v!r}</v></c>'
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            v = v.astimezone().replace(tzinfo=None)
        serial = (v - _EXCEL_EPOCH).total_seconds() / 86400
        dfmt = fmt if fmt and fmt != DATE_FORMAT else (DATETIME_FORMAT if v.time() != datetime.min.time() else DATE_FORMAT)
        return f'<c r="{letter}{r}" s="{book.style(dfmt, tone)}"><v>{serial!r}</v></c>'
    if isinstance(v, date):
        serial = (v - _EXCEL_EPOCH.date()).days
        return f'<c r="{letter}{r}" s="{book.style(fmt or DATE_FORMAT, tone)}"><v>{serial}</v></c>'
    return _cell(letter, r, str(v), book.style(None, tone, str(v).startswith(FORMULA_TRIGGERS)))


def _shown_width(value: Any) -> int:
    """About how many columns a value takes once formatted (yen, dates, text)."""
    from xltools.workbook.xlwrite import display_width

    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    if isinstance(value, bool):
        return 5
    if isinstance(value, (int, float)):
        return len(f"{value:,.0f}") + 3
    return display_width(str(value))


def _severity(lang: str) -> Callable[[dict], str]:
    return lambda r: _t(r["severity"], lang) if r.get("severity") in ("error", "warning", "info") else r.get("severity")


def _label_of(spec: Spec, table: str | None, key: str | None, lang: str) -> str | None:
    """The localised label of a field or column key (the key itself when unknown)."""
    if not key:
        return None
    try:
        f = spec.table(table).column(key) if table else spec.field(key)
        return f.label(lang)
    except KeyError:
        return key


def build_rollup(data: RollupData, spec: Spec, settings: Settings, lang: str = "ja") -> _Book:
    """The roll-up, ready to ``save(path)`` (see :class:`_Book`)."""
    if lang not in LANGS:
        raise RollupError(f"language must be one of {', '.join(LANGS)}, got {lang!r}")
    b = _Book(spec, settings, lang)
    accounts = account_rows(data, spec, settings)
    pipeline = data.rows["Opportunities"].map(pipeline_row(spec, settings))
    _dashboard(b, data, accounts)
    _changes(b, data)
    _summary(b, data, accounts, pipeline)
    _submissions(b, data)
    _pipeline(b, pipeline)
    _coverage(b, data, accounts)
    _relationships(b, data)
    _activities(b, data)
    _reviews(b, data)
    _success_cases(b, data)
    _issues(b, data)
    _trend(b, data)
    _page_setup(b, data)
    b.wb.active = 0
    return b


def _money_cols(b: _Book) -> list[Col]:
    """Target, plan, weighted, coverage and verdict columns (labels from the spec)."""
    f = b.spec.field
    verdict = f("coverage_verdict")
    return [b.cols.field(f(k)) for k in ("sales_target", "period_pipeline", "period_weighted",
                                         "outside_period_total")] + [
            Col(f("coverage_ratio").label, _text("coverage_ratio"), RATIO_FORMATS[b.lang]),
            Col(verdict.label, lambda r: b.cols.choice_label("verdict", r.get("coverage_verdict")),
                tone=lambda r: b.cols.choice_tone("verdict", r.get("coverage_verdict")))]


def _summary(b: _Book, data: RollupData, accounts: list[dict], pipeline: Iterable[dict]) -> None:
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
    totals += [(COLLECT_UI[r](b.lang), results.get(r, 0), INT_FORMAT) for r in ("rejected", "conflict")]
    if data.missing is not None:
        totals.append((b.t("missing_count"), len(data.missing), INT_FORMAT))
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
                     quarter_rows(pipeline, b.lang), row)
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


def _submissions(b: _Book, data: RollupData) -> None:
    ws = b.sheet("submissions")
    current = {v["version_id"] for v in data.versions}
    records = []
    for x in data.files:
        result = x.get("result")
        if result == "stored" and x.get("version_id") not in current:
            status = b.t("replaced")  # stored then, a newer version is current now
        else:
            status = COLLECT_UI[result](b.lang) if result in COLLECT_UI else result
        records.append({**x, "status": status, "collected_at": _local(x.get("collected_at"))})
    missing_status = COLLECT_UI["missing"](b.lang)
    for m in data.missing or []:
        records.append({"rep": m.rep, "account_name": m.account_name, "account_id": m.account_id,
                        "period": m.period, "status": missing_status, "missing": True})
    status_tone = {"rejected": "bad", "conflict": "bad", "superseded": "muted"}
    cols = b.cols.context("rep", "account_name", "account_id", "period") + [
        Col(TEXTS["status"], _text("status"),
            tone=lambda r: "warn" if r.get("missing") else status_tone.get(r.get("result"))),
        Col(TEXTS["file"], _text("path")),
        Col(TEXTS["version"], _text("version_no"), INT_FORMAT),
        Col(TEXTS["collected_at"], _text("collected_at"), DATETIME_FORMAT),
        Col(TEXTS["errors"], _text("error_count"), INT_FORMAT),
        Col(TEXTS["warnings"], _text("warning_count"), INT_FORMAT),
        Col(TEXTS["infos"], _text("info_count"), INT_FORMAT),
        Col(TEXTS["detail"], _text("detail")),
    ]
    b.table(ws, "Submissions", b.t("submissions"), cols, records, 1)
    b.freeze(ws, 3)


def _pipeline(b: _Book, pipeline: Iterable[dict]) -> None:
    ws = b.sheet("pipeline")
    cols = (b.cols.context("rep", "account_name", "account_id", "period")
            + b.cols.table("Opportunities", tone=("stage",))
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
    contacts = data.rows["Contacts"]
    stance = b.spec.table("Contacts").column("stance")
    choices = b.spec.choices(stance.choices).choices
    counts: dict[str, dict] = {}
    for v in data.versions:
        counts[v["plan_id"]] = {"rep": v.get("rep"), "account_name": v.get("account_name"),
                                "account_id": v.get("account_id"), **{c.key: 0 for c in choices},
                                "_blank": 0, "_total": 0}
    days = b.settings.thresholds.contact_stale_days
    limit = data.today - timedelta(days=days)
    risk, stale = [], []
    # meanings from the spec: people gone, decision makers, stances that are a risk
    gone, deciders = b.spec.meaning("employment", "gone"), b.spec.meaning("role", "decision_maker")
    risky = b.spec.meaning("stance", "risk")
    for c in contacts:  # one pass over a streamed table
        rec = counts.get(c["plan_id"])
        if rec is not None:
            rec[c.get("stance") if c.get("stance") in rec else "_blank"] += 1
            rec["_total"] += 1
        if c.get("status") in gone:
            continue
        if c.get("role") in deciders and (c.get("stance") in risky or c.get("stance") is None):
            risk.append(c)
        last = _day(c.get("last_contact"))
        if c.get("name") and (last is None or last <= limit):
            c["_days"] = (data.today - last).days if last else None
            stale.append(c)
    stance_cols = [Col(ch.label, _text(ch.key), INT_FORMAT,
                       tone=(lambda r, k=ch.key, t=ch.tone: t if r.get(k) else None)) for ch in choices]
    cols = (b.cols.context("account_name", "account_id", "rep") + stance_cols
            + [Col(TEXTS["blank"], _text("_blank"), INT_FORMAT), Col(TEXTS["total"], _text("_total"), INT_FORMAT)])
    records = sorted(counts.values(), key=lambda r: (name_key(r["rep"] or ""), name_key(r["account_name"] or "")))
    _, row = b.table(ws, "StanceCounts", b.t("stance_counts"), cols, records, 1)

    cols = b.cols.context("account_name", "rep") + b.cols.table("Contacts", skip=("note",), tone=("stance",))
    _, row = b.table(ws, "DecisionMakersAtRisk", b.t("dm_risk"), cols, risk, row)

    stale.sort(key=lambda c: (c["_days"] is not None, -(c["_days"] or 0)))
    cols = (b.cols.context("account_name", "rep")
            + b.cols.table("Contacts", skip=("note", "reports_to", "contact_id"), tone=("stance",))
            + [Col(TEXTS["days_since"], _text("_days"), INT_FORMAT)])
    b.table(ws, "StaleContacts", b.t("stale_contacts", days=days), cols, stale, row)
    b.freeze(ws, 3)


def _activities(b: _Book, data: RollupData) -> None:
    ws = b.sheet("activities")
    acts = data.rows["Activities"]
    closed = set()
    for c in b.spec.table("Activities").columns:
        if c.overdue_unless:
            closed |= set(c.overdue_unless[1])
    visits, overdue = [], []
    for a in acts:  # one pass over a streamed table
        if a.get("executive"):
            visits.append(a)
        d = _overdue("Activities", b.spec, a, data.today)
        if d is not None:
            a["_days"] = (data.today - d).days
            overdue.append(a)
    visits.sort(key=lambda a: (name_key(a["executive"]), _day(a.get("planned_date")) or date.max))
    groups: dict[str, list[dict]] = defaultdict(list)
    names: dict[str, str] = {}
    for a in visits:
        k = name_key(a["executive"])
        groups[k].append(a)
        names.setdefault(k, a["executive"])
    summary = []
    for k, items in groups.items():
        upcoming = [d for a in items if (d := _day(a.get("planned_date"))) is not None and d >= data.today
                    and a.get("status") not in closed]
        summary.append({"executive": names[k], "count": len(items), "upcoming": len(upcoming),
                        "next": min(upcoming) if upcoming else None})
    exec_col = b.spec.table("Activities").column("executive")
    cols = [b.cols.field(exec_col), Col(TEXTS["count"], _text("count"), INT_FORMAT),
            Col(TEXTS["upcoming"], _text("upcoming"), INT_FORMAT), Col(TEXTS["next_date"], _text("next"), DATE_FORMAT)]
    _, row = b.table(ws, "ExecutiveSummary", b.t("exec_summary"), cols, summary, 1)

    act_cols = b.cols.table("Activities", skip=("act_id", "executive"), tone=("appointment", "status"))
    cols = [b.cols.field(exec_col)] + b.cols.context("account_name", "rep") + act_cols
    _, row = b.table(ws, "ExecutiveVisits", b.t("exec_visits"), cols, visits, row)

    overdue.sort(key=lambda a: -a["_days"])
    cols = (b.cols.context("account_name", "rep") + b.cols.table("Activities", tone=("status",))
            + [Col(TEXTS["days_overdue"], _text("_days"), INT_FORMAT, tone=lambda r: "bad")])
    b.table(ws, "OverdueActivities", b.t("overdue_activities"), cols, overdue, row)
    b.freeze(ws, 3)


def _reviews(b: _Book, data: RollupData) -> None:
    ws = b.sheet("reviews")
    closed = b.spec.meaning("done", "closed")
    open_rows = []
    for r in data.rows["Reviews"]:
        if r.get("done") in closed:
            continue
        d = _overdue("Reviews", b.spec, r, data.today)
        open_rows.append({**r, "_days": (data.today - d).days if d else None})
    open_rows.sort(key=lambda r: (_day(r.get("due")) or date.max, name_key(r.get("account_name") or "")))
    cols = (b.cols.context("account_name", "rep") + b.cols.table("Reviews")
            + [Col(TEXTS["days_overdue"], _text("_days"), INT_FORMAT, tone=lambda r: "bad" if r.get("_days") else None)])
    b.table(ws, "OpenActions", b.t("open_actions"), cols, open_rows, 1)
    b.freeze(ws, 3)


def _success_cases(b: _Book, data: RollupData) -> None:
    ws = b.sheet("success_cases")
    cols = b.cols.context("rep", "period") + b.cols.table("SuccessCases")
    b.table(ws, "NewSuccessCases", b.t("new_cases"), cols, new_cases(data, b.spec), 1)
    b.freeze(ws, 3)


def _issues(b: _Book, data: RollupData) -> None:
    ws = b.sheet("issues")
    labels: dict[tuple, str | None] = {}

    def label(i: dict) -> dict:
        where = (i.get("table"), i.get("field"))
        if where not in labels:
            labels[where] = _label_of(b.spec, where[0], where[1], b.lang)
        i["field_label"] = labels[where]
        return i

    missing = []
    for m in data.missing or []:  # the plans to chase come first
        iss = m.issue(data.roster_path)
        missing.append({"rep": m.rep, "account_name": m.account_name, "account_id": m.account_id,
                        "period": m.period, "source_file": data.roster_path, "code": iss.code,
                        "severity": iss.severity, "raw": m.rep, "field_label": _label_of(b.spec, None, "rep", b.lang),
                        "message": iss.message(b.lang)})
    cols = b.cols.context("rep", "account_name", "period") + [
        Col(TEXTS["severity"], _severity(b.lang),
            tone=lambda r: {"error": "bad", "warning": "warn"}.get(r.get("severity"))),
        Col(TEXTS["code"], _text("code")), Col(TEXTS["file"], _text("source_file")),
        Col(TEXTS["sheet"], _text("sheet")), Col(TEXTS["cell"], _text("cell")),
        Col(TEXTS["field"], _text("field_label")), Col(TEXTS["raw"], _text("raw")),
        Col(TEXTS["message"], _text("message"), width=60),
    ]
    b.table(ws, "DataIssues", b.t("data_issues"), cols, _Chain(missing, data.issues.map(label)), 1)
    b.freeze(ws, 3)


class _Chain:
    """A short list followed by a stream, as one sequence of records."""

    def __init__(self, first: list[dict], rest: _Stream):
        self.first, self.rest = first, rest

    def __len__(self) -> int:
        return len(self.first) + len(self.rest)

    def head(self, n: int) -> list[dict]:
        return self.first[:n] + (self.rest.head(n - len(self.first)) if n > len(self.first) else [])

    def __iter__(self):
        yield from self.first
        yield from self.rest


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


# -- public API --------------------------------------------------------------------------------

def write_rollup(store: Any, spec: Spec, settings: Settings, out_path: str | os.PathLike, *,
                 period: str | None = None, lang: str = "ja", roster: str | os.PathLike | None = None,
                 now: datetime | None = None) -> Path:
    """Write the roll-up workbook of ``period`` (default: the latest period with a plan)
    to ``out_path`` atomically and return the path.  ``roster``: a roster file whose
    lines without a plan are listed as missing; ``now`` (default:
    :func:`xltools.clock.now`): the "generated at" time, and its local date is the date
    the overdue and not-met-recently lists compare against."""
    if lang not in LANGS:
        raise RollupError(f"language must be one of {', '.join(LANGS)}, got {lang!r}")
    out = Path(out_path)
    if out.suffix.lower() != ".xlsx":
        raise RollupError(f"{out}: the roll-up is an .xlsx workbook / 出力ファイルは .xlsx にしてください")
    if not out.parent.is_dir():
        raise RollupError(f"{out.parent}: 出力先のフォルダがありません / output folder does not exist")
    from xltools.workbook.generate import save_atomic

    with _Snapshot(store) as snapshot:
        data = gather(store, spec, settings, snapshot, period=period, roster=roster, now=now, lang=lang)
        book = build_rollup(data, spec, settings, lang)
        del data  # the book keeps the rows it shows; the rest can go before the big write
        return save_atomic(book, out)


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


def _rag(b: _Book, verdict: str | None) -> str:
    """Red / amber / green of a verdict, by the tone the spec gives the verdict."""
    return b.t(_RAG.get(b.cols.choice_tone("verdict", verdict), "no_rag"))


def _rag_col(b: _Book) -> Col:
    return Col(TEXTS["rag"], lambda r: _rag(b, r.get("coverage_verdict")),
               tone=lambda r: b.cols.choice_tone("verdict", r.get("coverage_verdict")))


def _basename(path: Any) -> str | None:
    """A file name without the folders it was collected from (local paths stay local)."""
    return path.replace("\\", "/").rsplit("/", 1)[-1] if isinstance(path, str) and path else None


def won_in_period(data: RollupData, spec: Spec) -> int:
    """Σ amount of the won opportunities closing in their plan's target period (the same
    window as ``period_pipeline``, whose won part this is)."""
    won = spec.the("stage", "won")
    window = {v["version_id"]: (_day(v.get("target_start")), _day(v.get("target_end"))) for v in data.versions}
    total = 0
    for r in data.rows["Opportunities"]:
        if r.get("stage") != won or not isinstance(r.get("amount"), (int, float)):
            continue
        start, end = window.get(r.get("version_id"), (None, None))
        d = _day(r.get("expected_close"))
        if start and end and d and start <= d <= end:
            total += r["amount"]
    return total


def change_value(b: _Book, r: dict, side: str) -> Any:
    """The old or new value of a change record, shown in the roll-up's language."""
    v = r.get(side)
    if v is None:
        return None
    contacts = b.spec.table("Contacts")
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


def biggest_changes(changes: list[dict]) -> list[dict]:
    """Changes ranked for the dashboard: coverage crossing a threshold and stance changes
    first, then by the size of the amount."""
    first = ("chg_verdict", "chg_stance", "chg_rep")
    return sorted(changes, key=lambda r: (r["kind"] not in first, -r["amount"]))


def dashboard_lists(b: _Book, data: RollupData, accounts: list[dict]) -> dict[str, list[dict]]:
    """The dashboard's exception lists, each in its order (worst / soonest first)."""
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
    visits = []
    horizon = today + timedelta(days=rs.visit_days)
    for a in data.rows["Activities"]:
        if a.get("contact") and a.get("status") in open_status:
            planned.add((a["version_id"], name_key(a["contact"])))
        d = _day(a.get("planned_date"))
        if (a.get("executive") and a.get("appointment") in unbooked and a.get("status") not in closed
                and d is not None and today <= d <= horizon):
            visits.append(a)
    visits.sort(key=lambda a: (name_key(a["executive"]), _day(a["planned_date"])))
    dms = []
    for c in data.rows["Contacts"]:
        if c.get("status") in gone or c.get("role") not in deciders:
            continue
        if c.get("stance") in risky or c.get("stance") is None:
            c["_planned"] = bool(c.get("name")) and (c["version_id"], name_key(c["name"])) in planned
            dms.append(c)
    dms.sort(key=lambda c: (c["_planned"], name_key(c.get("account_name") or ""), name_key(c.get("name") or "")))
    # plans to chase: missing from the roster, rejected (the latest file at its path), not updated
    plans = []
    missing = COLLECT_UI["missing"](b.lang)
    for m in data.missing or []:
        plans.append({"rep": m.rep, "account_name": m.account_name, "status": missing, "_tone": "bad"})
    latest: dict[str, dict] = {}
    for x in data.files:
        latest[x.get("path")] = x  # files come in collection order
    for x in latest.values():
        if x.get("result") == "rejected":
            plans.append({"rep": x.get("rep"), "account_name": x.get("account_name"),
                          "status": COLLECT_UI["rejected"](b.lang), "file": _basename(x.get("path")),
                          "collected_at": _local(x.get("collected_at")), "_tone": "bad"})
    limit = today - timedelta(days=rs.plan_stale_days)
    for v in accounts:
        at = _local(v.get("collected_at"))
        if at is not None and at.date() <= limit:
            plans.append({"rep": v.get("rep"), "account_name": v.get("account_name"),
                          "status": b.t("stale_plan", days=(today - at.date()).days),
                          "file": _basename(v.get("source_file")), "collected_at": at, "_tone": "warn"})
    return {"thin": thin, "dms": dms, "visits": visits, "plans": plans, "changes": biggest_changes(data.changes)}


def _dashboard(b: _Book, data: RollupData, accounts: list[dict]) -> None:
    from openpyxl.chart import BarChart, LineChart, Reference

    ws = b.sheet("dashboard")
    th, n = b.settings.thresholds, b.settings.report.dashboard_rows
    made = data.generated_at.strftime("%Y-%m-%d")
    b.title(ws, 1, b.t("dash_title") + (f"  {data.period}" if data.period else ""), size=16)
    b.title(ws, 2, b.t("dash_sub", period=data.period or b.t("all_periods"), unit=b.unit.label(b.lang), made=made),
            size=10)
    target, inside = _sum(accounts, "sales_target"), _sum(accounts, "period_pipeline")
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
        count = len(data.missing) if key == "missing" and data.missing is not None else results.get(key, 0)
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
    contacts, acts = b.spec.table("Contacts"), b.spec.table("Activities")
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
    from openpyxl.worksheet.pagebreak import Break
    from openpyxl.worksheet.page import PageMargins
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
                title_row = int("".join(ch for ch in t.ref.split(":")[0] if ch.isdigit())) - 1
                ws.row_breaks.append(Break(id=title_row - 1))
