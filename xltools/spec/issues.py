"""Validation results: issue types with stable codes, issues with positions, and reports.

Modelled on frictionless: every issue type is a registered record with a stable
``code``, a ``severity`` and message templates in Japanese and English; an
:class:`Issue` carries its position (file, sheet, cell, field) and the raw value;
a :class:`FileReport` has ``valid``, ``stats`` and ``issues``.  Tests assert codes
and positions, never message text.  The README's table of codes is generated
from :data:`ISSUE_TYPES`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from xltools.messages import Params

if TYPE_CHECKING:
    from xltools.spec.model import PlanData

SEVERITIES = ("error", "warning", "info")
#: the code of a file xltools itself failed on (a bug, a dead reader): read again next time
INTERNAL = "E-INTERNAL"
_RANK = {s: i for i, s in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class IssueType:
    code: str
    severity: str
    ja: str
    en: str
    scope: str = "cell"  # file | cell | plan

    def message(self, lang: str, **params: Any) -> str:
        tpl = self.en if lang == "en" else self.ja
        try:
            return tpl.format(**params)
        except (KeyError, IndexError):
            return tpl


ISSUE_TYPES: dict[str, IssueType] = {}


def _t(code: str, severity: str, ja: str, en: str, scope: str = "cell") -> IssueType:
    assert code not in ISSUE_TYPES, code
    assert severity in SEVERITIES
    assert code[0] == {"error": "E", "warning": "W", "info": "I"}[severity], code
    it = IssueType(code, severity, ja, en, scope)
    ISSUE_TYPES[code] = it
    return it


# -- file level ---------------------------------------------------------------------
_t("E-FILE-UNREADABLE", "error", "ファイルを読み込めません（壊れているか、Excelブックではありません）：{detail}",
   "The file cannot be read (damaged or not an Excel workbook): {detail}", "file")
_t("E-FILE-FORMAT", "error", "対応していない形式です（{detail}）。.xlsx で保存し直してください。",
   "Unsupported format ({detail}). Save the workbook as .xlsx.", "file")
_t("E-FILE-ENCRYPTED", "error", "パスワードで保護されたブックは読み込めません。パスワードを外して再提出してください。",
   "Password-protected workbooks cannot be read. Remove the password and resubmit.", "file")
_t("E-FILE-TOO-LARGE", "error", "ファイルが大きすぎます（{detail}）。", "The file is too large ({detail}).", "file")
_t("E-FILE-UNSAFE", "error", "安全でない内容を含むため読み込みを中止しました（{detail}）。",
   "Reading stopped: the file contains unsafe content ({detail}).", "file")
_t("E-FILE-LOCK", "error", "Excel のロックファイル（~$…）です。元のブックを提出してください。",
   "This is an Excel lock file (~$...), not a workbook. Submit the workbook itself.", "file")
_t("E-NOT-A-PLAN", "error", "アカウントプランのブックではありません（{detail}）。",
   "This workbook is not an xltools account plan ({detail}).", "file")
_t("E-TEMPLATE-VERSION", "error", "テンプレートのバージョン {value} には対応していません（対応：{detail}）。",
   "Template version {value} is not supported (supported: {detail}).", "file")
_t("E-INTERNAL", "error", "xltools の内部エラーのため、このファイルを確認できませんでした（{detail}）。"
   "ファイルの問題とは限りません。お手数ですが、このファイルを添えて開発担当に報告してください。",
   "xltools failed on this file with an internal error ({detail}). The file may well be fine: "
   "please report this, with the file.", "file")
_t("E-SHEET-TOO-LARGE", "error", "シートの行数が多すぎます（{detail}）。不要な行を削除してください。",
   "A sheet has too many rows ({detail}). Delete the unused rows.", "file")
# -- structure ----------------------------------------------------------------------
_t("E-NAME-MISSING", "error", "項目「{label}」（名前 {field}）がブックにありません。", "Field '{label}' (name {field}) is missing from the workbook.")
_t("E-TABLE-MISSING", "error", "表「{label}」（テーブル {table}）がブックにありません。", "Table '{label}' ({table}) is missing from the workbook.")
_t("E-COLUMN-MISSING", "error", "表 {table} に列「{label}」がありません。", "Table {table} has no column '{label}'.")
_t("W-COLUMN-UNKNOWN", "warning", "表 {table} の見出し「{value}」は定義にない列です。この列の値は取り込まれません。",
   "Column '{value}' of table {table} is not in the template; its values are not stored.")
_t("W-STRAY-VALUE", "warning", "入力欄ではないセルに値があります。取り込まれないため、所定の欄に入力してください。",
   "This cell is not an input field; its value is not stored. Move it to the right field.")
_t("I-ROW-BELOW-TABLE", "info", "表 {table} のすぐ下に入力された行を表の一部として読み込みました。",
   "A row typed just below table {table} was read as part of the table.")
_t("W-FORMULA-OVERWRITTEN", "warning", "計算式のセルが上書きされています。値は使われず、再計算されます。",
   "A formula cell was overwritten; the value is ignored and recomputed.")
_t("I-META-MISMATCH", "info", "{label} がシートと隠しシート _meta で異なります（シートの値を採用）：{detail}",
   "{label} differs between the sheet and the hidden _meta sheet (the sheet wins): {detail}")
# -- values -------------------------------------------------------------------------
_t("E-REQUIRED", "error", "「{label}」は必須です。", "'{label}' is required.")
_t("E-TYPE", "error", "「{label}」の値「{value}」を{expected}として読めません。",
   "'{label}': cannot read '{value}' as {expected}.")
_t("E-CHOICE", "error", "「{label}」の値「{value}」は選択肢にありません（{detail}）。",
   "'{label}': '{value}' is not one of the choices ({detail}).")
_t("I-CHOICE-OPEN", "info", "「{label}」の値「{value}」はリストにありませんが、そのまま保存します。",
   "'{label}': '{value}' is not on the list; it is stored as typed.")
_t("E-RANGE", "error", "「{label}」の値 {value} は範囲外です（{detail}）。", "'{label}': {value} is out of range ({detail}).")
_t("E-ERROR-VALUE", "error", "「{label}」のセルがエラー値 {value} です。数式や参照を直すか、値を入力してください。",
   "'{label}': the cell holds the error value {value}. Fix the formula or reference, or type the value.")
_t("I-PLACEHOLDER", "info", "「{label}」の「{value}」は未入力として扱います。", "'{label}': '{value}' is treated as empty.")
_t("I-AMOUNT-ROUNDED", "info", "「{label}」の値 {value} の1円未満を四捨五入し、{detail} 円として読み込みました。",
   "'{label}': {value} has a fraction of a yen; it was rounded to {detail} yen.")
_t("W-NOT-COUNTED", "warning", "「{label}」の「{value}」はブックの数式では数えられない形で入力されています"
   "（xltools は {detail} と読み取りました）。ブックの合計・判定と xltools の値が食い違うため、{expected}で入力し直してください。",
   "'{label}': '{value}' is typed in a form the workbook's own formulas cannot count (xltools read it as "
   "{detail}), so the workbook's totals differ from xltools'. Re-enter it as {expected}.")
_t("E-SECTION-EMPTY", "error", "必須のセクション「{label}」が未入力です。", "Required section '{label}' is empty.", "plan")
_t("E-DUPLICATE-ID", "error", "ID「{value}」が表 {table} で重複しています。", "ID '{value}' appears more than once in table {table}.")
_t("E-UNKNOWN-CONTACT", "error", "「{value}」はキーマン表（Contacts）にいません。", "'{value}' is not in the Contacts table.")
_t("E-UNKNOWN-MANAGER", "error", "上長「{value}」はキーマン表（Contacts）にいません。", "Manager '{value}' is not in the Contacts table.")
_t("W-UNKNOWN-KEY-PERSON", "warning", "キーマン「{value}」はキーマン表（Contacts）にいません。", "Key person '{value}' is not in the Contacts table.")
_t("W-PERIOD-MISMATCH", "warning", "対象期間 {value} がブック作成時の期間 {detail} と異なります。",
   "Plan period {value} differs from the period the workbook was made for ({detail}).")
# -- business rules -----------------------------------------------------------------
_t("W-COVERAGE-LOW", "warning", "カバレッジ倍率 {value} 倍は {detail} 倍未満です。案件を積み上げてください。",
   "Coverage ratio {value}x is below {detail}x. Build more pipeline.", "plan")
_t("I-COVERAGE-HIGH", "info", "カバレッジ倍率 {value} 倍は {detail} 倍を超えています。案件の実現性を確認してください。",
   "Coverage ratio {value}x is above {detail}x. Check that the pipeline is realistic.", "plan")
_t("W-TARGET-UNREACHABLE", "warning", "目標期間内に受注予定の加重見込み {value} が売上目標 {detail} に届きません。",
   "The weighted forecast closing in the target period ({value}) is below the sales target ({detail}).", "plan")
_t("W-DECISION-MAKER-UNCOVERED", "warning", "決裁者「{value}」のスタンスが{detail}ですが、予定された活動がありません。",
   "Decision maker '{value}' is {detail} and has no planned activity.")
_t("W-ORG-STALE", "warning", "組織図の更新日が {detail} 日以上前です。", "The org chart was last updated more than {detail} days ago.")
_t("W-APPOINTMENT-LATE", "warning", "{detail} 日以内の活動のアポが未依頼です。早めに依頼してください。",
   "An activity within {detail} days has no appointment requested. Book it now.")
_t("W-SINGLE-THREADED", "warning", "キーマンとの接点が {detail} に偏っています（シングルスレッド）。",
   "Coverage is single-threaded: every contact is through {detail}.", "plan")
_t("W-OPP-STALE", "warning", "受注予定日を過ぎていますがステージが受注/失注になっていません。",
   "The expected close date has passed but the stage is not won or lost.")
_t("I-INITIATIVE-NO-OPP", "info", "重点施策「{value}」に紐づく案件がありません。", "Initiative '{value}' has no opportunity.")
_t("W-ACTION-OVERDUE", "warning", "改善アクションの期限を過ぎていますが完了していません。", "A review action is past its due date and not done.")
_t("W-WIN-RATE-COVERAGE", "warning", "実績の勝率 {detail} から必要なカバレッジは {value} 倍ですが、現在のカバレッジはそれを下回ります。",
   "At the historical win rate ({detail}) the plan needs {value}x coverage; it has less.", "plan")
# -- collection ---------------------------------------------------------------------
_t("E-CONFLICT", "error", "同じ顧客・期間のプランが別の担当者から提出されています（{detail}）。",
   "Another rep submitted a plan for the same account and period ({detail}).", "file")
_t("E-DUPLICATE-PLAN", "error", "同じ顧客・期間のプランが別のブックでも提出されています（{detail}）。どちらか一方にまとめてください。",
   "A plan for the same account and period was also submitted in another workbook ({detail}). Keep only one.", "file")
_t("W-MISSING-SUBMISSION", "warning", "{detail} のプランが提出されていません。", "No plan received for {detail}.", "file")
# -- generation (roster rows) ---------------------------------------------------------
_t("E-ROSTER-REQUIRED", "error", "名簿の {row} 行目：「{label}」（{cell}）が空欄です。この行のブックは作成しません。",
   "Roster row {row}: '{label}' ({cell}) is empty. No workbook is made for this row.")
_t("E-ROSTER-VALUE", "error", "名簿の {row} 行目：「{label}」（{cell}）の値「{value}」を読めません（{detail}）。この行のブックは作成しません。",
   "Roster row {row}: '{label}' ({cell}) cannot be read: '{value}' ({detail}). No workbook is made for this row.")
_t("E-ROSTER-DUPLICATE", "error", "名簿の {row} 行目：{detail} は {first} 行目と同じ担当営業・顧客の組み合わせです。"
   "この行のブックは作成しません。",
   "Roster row {row}: {detail} is the same account manager and account as row {first}. "
   "No workbook is made for this row.")
_t("E-GENERATE-FAILED", "error", "名簿の {row} 行目のブックを作成できませんでした：{detail}",
   "Roster row {row}: the workbook could not be written: {detail}", "file")


@dataclass
class Issue:
    code: str
    sheet: str | None = None
    cell: str | None = None
    field: str | None = None
    raw: Any = None
    params: Params = dataclasses.field(default_factory=dict)
    file: str | None = None
    table: str | None = None
    row: int | None = None  # 1-based data row inside a table

    @property
    def type(self) -> IssueType:
        return ISSUE_TYPES[self.code]

    @property
    def severity(self) -> str:
        return self.type.severity

    def message(self, lang: str = "ja") -> str:
        p = {"value": "" if self.raw is None else self.raw, "field": self.field or "",
             "table": self.table or "", "label": self.field or "", "detail": "", "expected": ""}
        for k, v in self.params.items():
            # a parameter may be bilingual: {"ja": ..., "en": ...} or a spec Label
            if isinstance(v, dict) and set(v) >= {"ja", "en"}:
                v = v[lang if lang in v else "ja"]
            elif hasattr(v, "ja") and hasattr(v, "en"):
                v = v.en if lang == "en" else v.ja
            p[k] = v
        return self.type.message(lang, **p)

    def to_dict(self, lang: str = "ja") -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "sheet": self.sheet, "cell": self.cell,
                "field": self.field, "table": self.table, "row": self.row,
                "raw": _jsonable(self.raw), "message": self.message(lang)}


#: a value as JSON has it
Json = str | int | float | bool | None | list["Json"] | dict[str, "Json"]


def _jsonable(v: object) -> str | int | float | bool | None:
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return str(v)


@runtime_checkable
class _IsoFormat(Protocol):
    """A date, time or datetime (or a pandas Timestamp): shown as ISO 8601 text."""

    def isoformat(self) -> str: ...


def _jsonable_deep(v: object) -> Json:
    if isinstance(v, dict):
        return {str(k): _jsonable_deep(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable_deep(x) for x in v]
    if isinstance(v, _IsoFormat):
        return v.isoformat()
    return _jsonable(v)


def sort_issues(issues: list[Issue]) -> list[Issue]:
    """Most severe first, then by sheet and cell position."""
    from xltools.cells import cell_sort_key
    return sorted(issues, key=lambda i: (_RANK[i.severity], i.sheet or "", cell_sort_key(i.cell), i.code))


@dataclass
class FileReport:
    """The result of checking one file."""

    file: str
    issues: list[Issue] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)  # counts, timings, the annotated copy's path
    plan: PlanData | None = None  # when the file could be read

    @property
    def valid(self) -> bool:
        return not any(i.severity == "error" for i in self.issues)

    @property
    def readable(self) -> bool:
        return self.plan is not None

    def counts(self) -> dict[str, int]:
        c = {s: 0 for s in SEVERITIES}
        for i in self.issues:
            c[i.severity] += 1
        return c

    def add(self, code: str, **kw: Any) -> Issue:
        iss = Issue(code, file=self.file, **kw)
        self.issues.append(iss)
        return iss

    def to_dict(self, lang: str = "ja") -> dict[str, Any]:
        """The JSON shape: ``figures`` are the plan's computed figures (xltools.spec.derive:
        ``period_pipeline``, ``coverage_ratio``, ...), the ones collect stores."""
        figures = {k: _jsonable_deep(v) for k, v in self.plan.derived.items()} if self.plan is not None else None
        return {"file": self.file, "valid": self.valid,
                "stats": dict(self.stats, **{f"{k}s": v for k, v in self.counts().items()}),
                "figures": figures,
                "issues": [i.to_dict(lang) for i in sort_issues(self.issues)]}


def issue_codes_markdown(lang: str = "en") -> str:
    """The README table of issue codes, generated from the registry."""
    lines = ["| code | severity | scope | message (ja) | message (en) |", "|---|---|---|---|---|"]
    for it in sorted(ISSUE_TYPES.values(), key=lambda t: (_RANK[t.severity], t.code)):
        lines.append(f"| `{it.code}` | {it.severity} | {it.scope} | {it.ja} | {it.en} |")
    return "\n".join(lines)
