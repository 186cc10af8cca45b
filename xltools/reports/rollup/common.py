"""The roll-up's texts, number formats, columns and small value helpers."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable, Iterable

from xltools.errors import UsageError, XltoolsError
from xltools.spec.config import Settings
from xltools.spec.periods import Period, PeriodError, parse_period
from xltools.spec.spec import Field, Label, Spec

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
    "portfolio": Label("ポートフォリオ", "Portfolio"),
    "whitespace": Label("ホワイトスペース", "Whitespace"),
    "submissions": Label("提出状況", "Submissions"),
    "file_log": Label("ファイル履歴", "File log"),
    "pipeline": Label("パイプライン", "Pipeline"),
    "coverage": Label("カバレッジ", "Coverage"),
    "relationships": Label("リレーション", "Relationships"),
    "activities": Label("活動", "Activities"),
    "reviews": Label("改善アクション", "Reviews"),
    "success_cases": Label("成功事例", "Success cases"),
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


class RollupWorkerError(XltoolsError):
    """The second process writing the roll-up's biggest sheets failed or died (nothing is
    written: the previous roll-up stays as it was)."""

    code = "report-worker"
    template = Label("ロールアップのシート「{sheet}」を書く処理が{how_ja}停止しました。出力ファイルは書き込まれていません。",
                     "the process writing the roll-up sheet {sheet} stopped {how_en}; no output file was written")


def can_fork(processes: int, snapshot: Any) -> bool:
    """Whether the roll-up may give work to a forked process: two processes asked, a
    platform with ``fork``, a single thread (only the forking thread lives on in the child)
    and a database a second connection sees (``snapshot`` None: no database read there)."""
    import os
    import threading

    return (processes >= 2 and hasattr(os, "fork") and threading.active_count() == 1
            and (snapshot is None or snapshot.reopenable()))


def worker_value(value: Any, sheets: str) -> Any:
    """What a forked worker of the roll-up answered, or the error to raise for it: it died
    (a signal, an exit status) or raised (an xltools error as it is, anything else named)."""
    from xltools.workbook.workers import WorkerDied

    if isinstance(value, WorkerDied):
        how = value.how()
        raise RollupWorkerError(sheet=sheets, how_ja=how[0], how_en=how[1])
    if isinstance(value, XltoolsError):
        raise value
    if isinstance(value, BaseException):
        detail = f"{type(value).__name__}: {value}"
        raise RollupWorkerError(sheet=sheets, how_ja=f"エラーで（{detail}）", how_en=f"with an error ({detail})")
    return value


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


class _Key:
    """A column's value: the record's value of ``key`` (the writer reads it directly)."""

    __slots__ = ("key",)

    def __init__(self, key: str):
        self.key = key

    def __call__(self, r: dict) -> Any:
        return r.get(self.key)


class _ChoiceLabel:
    """A column's value: the label of the record's choice key ``key`` of ``list_name``
    (a value that is not a key of the list as it is).  ``labels``: key -> label, for the
    writer's direct look-up."""

    __slots__ = ("cols", "list_name", "key", "labels")

    def __init__(self, cols: _Columns, list_name: str, key: str):
        self.cols, self.list_name, self.key = cols, list_name, key
        self.labels = {c.key: c.label(cols.lang) for c in _choices_of(cols.spec, list_name)}

    def __call__(self, r: dict) -> Any:
        return self.cols.choice_label(self.list_name, r.get(self.key))


class _ChoiceTone:
    """A column's tone: the tone of the record's choice key ``key`` of ``list_name``.
    ``tones``: key -> tone, for the writer's direct look-up."""

    __slots__ = ("cols", "list_name", "key", "tones")

    def __init__(self, cols: _Columns, list_name: str, key: str):
        self.cols, self.list_name, self.key = cols, list_name, key
        self.tones = {c.key: c.tone for c in _choices_of(cols.spec, list_name)}

    def __call__(self, r: dict) -> str | None:
        return self.cols.choice_tone(self.list_name, r.get(self.key))


def _choices_of(spec: Spec, list_name: str) -> tuple:
    try:
        return spec.choices(list_name).choices
    except KeyError:
        return ()


class _KeyLabel:
    """A column's value: the label in ``labels`` of the record's value of ``key``, else
    that value as it is (the writer reads both directly)."""

    __slots__ = ("key", "labels")

    def __init__(self, key: str, labels: dict[Any, str]):
        self.key, self.labels = key, labels

    def __call__(self, r: dict) -> Any:
        v = r.get(self.key)
        label = self.labels.get(v) if v is not None else None
        return label if label is not None else v


class _KeyTone:
    """A column's tone: the tone in ``tones`` of the record's value of ``key`` (None for
    any other value); the writer reads it directly."""

    __slots__ = ("key", "tones")

    def __init__(self, key: str, tones: dict[Any, str]):
        self.key, self.tones = key, tones

    def __call__(self, r: dict) -> str | None:
        return self.tones.get(r.get(self.key))


def _text(key: str) -> Callable[[dict], Any]:
    return _Key(key)


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
        return Col(label, _ChoiceLabel(self, choices, k) if choices else _Key(k),
                   self.fmt(f), tone=_ChoiceTone(self, choices, k) if tone and choices else None,
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
