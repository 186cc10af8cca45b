"""Generate account-plan workbooks from the template spec.

One workbook per rep x account x period.  What a workbook contains is driven by the
typed :class:`~xltools.spec.Spec` (sections, fields, tables, choices, formulas); this
module only decides how it looks.  The contract other tools rely on:

* a ``veryHidden`` sheet ``_meta`` with key/value rows in ``spec.meta_keys`` order;
* a workbook-scoped defined name per single-value field, equal to its key, pointing at
  the value cell;
* an Excel table per list section with the spec's table name and headers equal to the
  column labels of the workbook language;
* localised sheet names (``Section.label``); first the Summary (the account on a page,
  :mod:`xltools.workbook.summary`), the Whitespace map (:mod:`xltools.workbook.whitespace`), then the
  Guide and the section sheets.

Besides those: a ``veryHidden`` sheet ``_lists`` holding the dropdown lists
(defined names ``_list_<choice list>``), and defined names ``_src_<Table>_<column>``
for dropdowns fed from the workbook itself (a table column plus the unlocked rows
below it).  Names starting with ``_`` never collide with field keys.
"""
from __future__ import annotations

import os
import re
import uuid
from copy import copy
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from xltools import __version__, clock
from xltools.cells import a1, col_letter
from xltools.errors import UsageError
from xltools.spec.config import Settings
from xltools.spec.derive import breakdown_quarters
from xltools.spec.model import PlanData
from xltools.spec.periods import Period, PeriodError, parse_period
from xltools.spec.spec import LANGS, Field, Label, Section, Spec, SpecError, Table
from xltools.workbook import charts, printing, summary, whitespace
from xltools.workbook.layout import HINT_ROW, TITLE_ROW, SheetLayout, TablePos, sheet_layout
from xltools.workbook.xlwrite import clean_text, display_width, write_formula, write_text, write_value

META_SHEET = "_meta"
LISTS_SHEET = "_lists"
LIST_NAME_PREFIX = "_list_"
SOURCE_NAME_PREFIX = "_src_"
FONTS = {"ja": ("Meiryo UI", 10), "en": ("Calibri", 11)}
TABLE_STYLE = "TableStyleLight15"
PROMPT_TITLE_MAX = 32
PROMPT_MAX = 255
ERROR_MAX = 225

# colours: input, calculated, labels, headers, tones (Excel's own good/bad/neutral palette)
INPUT_FILL = "FFF2CC"
FORMULA_FILL = "E7E6E6"
LABEL_FILL = "DDEBF7"
HEADER_FILL = "1F4E78"
HEADER_REQUIRED_FILL = "C65911"
REQUIRED_FONT = "C00000"
#: fill of a cell the workbook's formulas cannot count (a number typed as text)
NOT_COUNTED_FILL = "F8CBAD"
BORDER_COLOUR = "BFBFBF"
TONES = {"good": ("C6EFCE", "006100"), "bad": ("FFC7CE", "9C0006"),
         "warn": ("FFEB9C", "9C5700"), "muted": ("D9D9D9", "595959")}

#: number formats by field type (ratio is language-dependent, see _number_format)
NUMBER_FORMATS = {
    "amount": "#,##0", "integer": "#,##0", "number": "General", "percent": '0"%"',
    "date": "yyyy/mm/dd", "month": "0", "rating": "0", "fraction": "0.0%", "score": "0.00",
    "text": "@", "longtext": "@", "id": "@", "period": "@", "choice": "@",
}
RATIO_FORMATS = {"ja": '0.0"倍"', "en": '0.0"x"'}
#: readable names for number formats and colours in style names ("xl Input (date)")
STYLE_TAGS = {"#,##0": "amount", "General": "general", '0"%"': "percent", "yyyy/mm/dd": "date", "0": "whole",
              "0.0%": "fraction", "0.00": "score", "@": "text", RATIO_FORMATS["ja"]: "ratio",
              RATIO_FORMATS["en"]: "ratio", INPUT_FILL: "input", FORMULA_FILL: "calculated",
              REQUIRED_FONT: "required", NOT_COUNTED_FILL: "not counted", **{fill: tone for tone, (fill, _font) in TONES.items()}}
#: numeric checks (warning style, so a rep can still override): type -> (kind, low, high)
NUMERIC_CHECKS = {"rating": ("whole", 1, 5), "month": ("whole", 1, 12), "percent": ("decimal", 0, 100)}
#: type checks for the other numbers and dates (warning style): type -> (kind, low, high, message)
TYPE_CHECKS = {"amount": ("decimal", "-1E+15", "1E+15", "dv_number"),
               "integer": ("whole", "-2147483647", "2147483647", "dv_number"),
               "number": ("decimal", "-1E+15", "1E+15", "dv_number"),
               "date": ("date", "1", "2958465", "dv_date")}


class GenerateError(UsageError, ValueError):
    """The plan cannot be generated from these arguments."""


#: every text the generator writes besides spec labels (Japanese and English)
TEXTS: dict[str, Label] = {
    "hint": Label("黄色のセルに入力してください（灰色のセルは自動計算です）。▼のセルはリストから選べます。"
               "表の行が足りないときは、表のすぐ下の行に続けて入力してください。",
               "Type in the yellow cells (grey cells are calculated). Cells with ▼ offer a list. "
               "When a table runs out of rows, keep typing in the rows just below it."),
    "guide_sheet": Label("使い方", "Guide"),
    "unit_open": Label("（金額単位：", " (amounts in "),
    "unit_close": Label("）", ")"),
    "guide_title": Label("アカウントプラン 記入ガイド", "Account plan: how to fill it in"),
    "plan_title": Label("このプラン", "This plan"),
    "purpose_title": Label("このプランの目的", "Purpose"),
    "purpose_1": Label("重点顧客ごとに四半期単位で作成するアカウントプランです。顧客の事業と戦略を理解し、"
                    "チームで顧客組織全体をカバーし、顧客の課題にソリューションで応えて売上目標を達成するための計画です。",
                    "One account plan per key account and quarter: understand the customer's business and "
                    "strategy, cover the whole customer organisation as a team, answer the customer's problems "
                    "with solutions and reach the sales target."),
    "purpose_2": Label("売上計画は目標の {low}〜{high} 倍の案件を積み上げます。リレーションマップではキーマン全員のスタンスを明らかにし、"
                    "活動プランで当社役員と顧客役員の接点をつくります。",
                    "Build a pipeline of {low} to {high} times the target. Mark the stance of every key person in "
                    "the relationship map, and plan activities that bring our executives to theirs."),
    "purpose_3": Label("プランはアカウントプランニングセッションで発表・議論し、毎月提出します。提出されたプランは会社の資産として保存され、"
                    "担当が替わっても引き継がれます。",
                    "Present and debate the plan in the Account Planning Session and submit it every month. "
                    "Submitted plans are kept as a company asset and survive a change of rep."),
    "howto_title": Label("記入のしかた", "How to fill it in"),
    "howto_1": Label("必須のシート：{sheets}。上から順に、黄色のセルに入力してください。",
                  "Required sheets: {sheets}. Work from the top and type in the yellow cells."),
    "howto_2": Label("▼が出るセルはリストから選びます。キーマン・面談相手・関連施策・関連案件は、このブックの表に入力した内容が選択肢になります。",
                  "Cells with ▼ offer a list. Key persons, contacts, initiatives and related opportunities "
                  "are picked from what you entered in this workbook's tables."),
    "howto_3": Label("金額は「{unit_label}」で選んだ単位（{units}）で入力します。",
                  "Enter amounts in the unit chosen as '{unit_label}' ({units})."),
    "howto_4": Label("日付は yyyy/mm/dd の形で入力します（例：2026/10/01）。", "Enter dates as yyyy/mm/dd (e.g. 2026/10/01)."),
    "howto_5": Label("表の行が足りないときは、表のすぐ下の行に続けて入力してください。その行も取り込まれます。",
                  "When a table runs out of rows, keep typing just below it: those rows are read too."),
    "howto_6": Label("シートは保護されています（パスワードなし）。見出しの文字、名前の定義、隠しシートは変更しないでください。"
                  "マクロは使っていません。",
                  "Sheets are protected (no password). Do not change header texts, defined names or hidden "
                  "sheets. The workbook contains no macros."),
    "legend_title": Label("色の見方", "Colour legend"),
    "legend_input": Label("入力欄", "Input cell"),
    "legend_formula": Label("自動計算（編集できません）", "Calculated (locked)"),
    "legend_required": Label("必須の項目・列（赤字・オレンジの見出し）", "Required field or column (red label, orange header)"),
    "legend_overdue": Label("期限を過ぎた日付", "Overdue date"),
    "legend_not_counted": Label("文字として入力された数値・日付やリストにない値（ブックの集計に入りません）",
                             "A number or date typed as text, or a value not in the list (the workbook's totals "
                             "leave it out)"),
    "tone_good": Label("良い状態", "Good"),
    "tone_bad": Label("要注意", "Needs attention"),
    "tone_warn": Label("確認", "Check"),
    "tone_muted": Label("未確認", "Not yet known"),
    "checklist_title": Label("記入状況チェック（自動計算）", "Completion checklist (calculated)"),
    "col_sheet": Label("シート", "Sheet"),
    "col_kind": Label("区分", "Kind"),
    "col_fields_done": Label("必須項目 入力済", "Required fields filled"),
    "col_fields_total": Label("必須項目 数", "Required fields"),
    "col_tables_done": Label("必須列がそろった表", "Tables complete"),
    "col_tables_total": Label("必須の表", "Required tables"),
    "col_status": Label("状態", "Status"),
    "required": Label("必須", "Required"),
    "optional": Label("任意", "Optional"),
    "complete": Label("完了", "Complete"),
    "incomplete": Label("未完了", "Incomplete"),
    "dv_title": Label("入力値の確認", "Check the value"),
    "dv_choice": Label("リストから選んでください。", "Pick a value from the list."),
    "dv_source": Label("一覧にない名前です。元の表に追加してから選ぶことをお勧めします。このまま入力しますか？",
                    "This name is not in the list; add it to the source table first. Keep it anyway?"),
    "dv_range": Label("{low}〜{high} の数値を入力してください。", "Enter a number from {low} to {high}."),
    "dv_number": Label("数値で入力してください。文字のまま（例：1,200万）だと読み取りはできますが、"
                    "このブックの合計や判定には入りません。このまま入力しますか？",
                    "Enter a number. Text such as '12 million' is still read by xltools, but this "
                    "workbook's totals leave it out. Keep it anyway?"),
    "dv_date": Label("日付（yyyy/mm/dd）で入力してください。文字のままだと、このブックの期間別の集計に入りません。"
                  "このまま入力しますか？",
                  "Enter a date (yyyy/mm/dd). As text it is left out of this workbook's totals by period. "
                  "Keep it anyway?"),
}


# -- arguments ------------------------------------------------------------------------------

@dataclass
class PlanInfo:
    """Who and what one workbook is for."""

    account_name: str
    rep: str
    period: str
    account_id: str | None = None
    target: int | None = None  # yen
    lang: str = "ja"
    team_members: str | None = None
    plan_id: str | None = None
    predecessor_plan_id: str | None = None
    generated_at: datetime | str | None = None
    relationship_map: bool = False  # draw the prefill's 関係図 sheet (xltools.generation.write_plan)


# -- formulas ---------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\[@(?P<this>[a-z][a-z0-9_]*)\]"
    r"|\[(?P<table>[A-Z][A-Za-z0-9]*)\.(?P<col>[a-z][a-z0-9_]*)\]"
    r"|\{choice:(?P<list>[a-z_][a-z0-9_]*)\.(?P<key>[^}]+)\}"
    r"|\{choice_values:(?P<vlist>[a-z_][a-z0-9_]*)\.(?P<attr>[a-z_]+)\}"
    r"|\{choice_labels:(?P<llist>[a-z_][a-z0-9_]*)\}"
    r"|\{cfg:(?P<cfg>[a-z_][a-z0-9_]*)\}"
    r"|\{q(?P<q>[1-8])_(?P<edge>start|end)\}")
_LEFTOVER = re.compile(r"\{(?:choice|cfg|q[0-9])[^}]*\}|\[@")
_CHOICE_REF = re.compile(r"\{choice:([a-z_][a-z0-9_]*)\.")


def escape_header(header: str) -> str:
    """A header text inside a structured reference: ``'`` ``[`` ``]`` ``#`` escaped with ``'``."""
    return re.sub(r"([\[\]#'])", r"'\1", header)


def _excel_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def translate_formula(spec: Spec, settings: Settings, f: Field, lang: str, period: Period) -> str:
    """``f.formula`` in Excel syntax for a workbook in ``lang`` for ``period`` (template
    syntax: see the top of the YAML).  Structured references use the long forms
    ``Table[[Header]]`` and ``Table[[#This Row],[Header]]`` that both Excel and
    LibreOffice evaluate."""
    if not f.formula:
        raise SpecError(f"{f.key}: not a formula field")
    window = breakdown_quarters(period)

    def sub(m: re.Match) -> str:
        if m.group("this"):
            if not f.table:
                raise SpecError(f"{f.key}: [@{m.group('this')}] is only allowed in table columns")
            header = spec.table(f.table).column(m.group("this")).label(lang)
            return f"{f.table}[[#This Row],[{escape_header(header)}]]"
        if m.group("table"):
            header = spec.table(m.group("table")).column(m.group("col")).label(lang)
            return f"{m.group('table')}[[{escape_header(header)}]]"
        if m.group("list"):
            return _excel_string(spec.choices(m.group("list")).get(m.group("key")).label(lang))
        if m.group("vlist"):
            values = [getattr(c, m.group("attr")) for c in spec.choices(m.group("vlist")).choices]
            return "{" + ",".join(_number(v or 0) for v in values) + "}"
        if m.group("llist"):
            return "{" + ",".join(_excel_string(x) for x in spec.choices(m.group("llist")).labels(lang)) + "}"
        if m.group("cfg"):
            return _number(settings.cfg_value(m.group("cfg")))
        quarter = window[int(m.group("q")) - 1]
        d = quarter.start if m.group("edge") == "start" else quarter.end
        return f"DATE({d.year},{d.month},{d.day})"

    try:
        out = _TOKEN.sub(sub, f.formula)
    except KeyError as e:
        raise SpecError(f"{f.table or f.section} > {f.key}: formula refers to {e}") from None
    left = _LEFTOVER.search(out)
    if left:
        raise SpecError(f"{f.table or f.section} > {f.key}: unknown formula token {left.group(0)!r}")
    return out


def _number_format(f: Field, lang: str) -> str:
    if f.type == "ratio":
        return RATIO_FORMATS[lang]
    if f.formula and NUMBER_FORMATS.get(f.type) == "@":
        return "General"  # a formula in a text-formatted cell turns into text when edited
    return NUMBER_FORMATS.get(f.type, "General")


# -- styles -------------------------------------------------------------------------------------

class _Styles:
    """Named styles registered once per workbook; cells get a copy of the style array,
    which is what openpyxl does for ``cell.style = name`` minus the lookups."""

    def __init__(self, wb, lang: str):
        from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Protection, Side
        from openpyxl.utils.indexed_list import IndexedList

        self.wb, self.lang = wb, lang
        name, size = FONTS[lang]
        self._Font, self._Fill, self._Align, self._Prot, self._Named = Font, PatternFill, Alignment, Protection, NamedStyle
        base = Font(name=name, sz=size, family=3 if lang == "ja" else 2, charset=128 if lang == "ja" else None)
        self.font = base
        # the workbook default font (style 0 and the Normal style)
        wb._fonts = IndexedList([base])
        normal = wb._named_styles["Normal"]
        normal.font = copy(base)
        side = Side(style="thin", color=BORDER_COLOUR)
        self.border = Border(left=side, right=side, top=side, bottom=side)
        self._arrays: dict[str, Any] = {}
        self._Border = Border

    def _font(self, **kw):
        return self._Font(name=self.font.name, sz=kw.pop("sz", self.font.sz), family=self.font.family,
                          charset=self.font.charset, **kw)

    def _fill(self, rgb: str):
        return self._Fill(fill_type="solid", start_color=rgb, end_color=rgb)

    def array(self, key: str):
        """The style array for ``key`` (``"kind | number format or colour"``), its named style
        created on first use."""
        arr = self._arrays.get(key)
        if arr is None:
            ns = self._make(key)
            self.wb.add_named_style(ns)
            arr = self._arrays[key] = ns.as_tuple()
        return arr

    @staticmethod
    def display_name(key: str) -> str:
        """The name Excel shows in its Cell Styles gallery, e.g. ``xl Input (date)``."""
        kind, _, detail = key.partition(" | ")
        if not detail:
            return kind
        tag = STYLE_TAGS.get(detail) or re.sub(r"[^A-Za-z0-9%#,./]+", "", detail) or "custom"
        return f"{kind} ({tag})"

    def apply(self, cell, name: str):
        cell._style = copy(self.array(name))
        return cell

    def _make(self, name: str):
        kind, _, fmt = name.partition(" | ")
        locked = self._Prot(locked=True)
        unlocked = self._Prot(locked=False)
        al = self._Align
        kw: dict[str, Any] = {"font": self._font(), "protection": locked}
        if kind == "xl Title":
            kw["font"] = self._font(b=True, sz=self.font.sz + 4, color=HEADER_FILL)
        elif kind == "xl Heading":
            kw["font"] = self._font(b=True, sz=self.font.sz + 1, color=HEADER_FILL)
        elif kind == "xl Hint":
            kw["font"] = self._font(i=True, color="595959")
        elif kind == "xl Paragraph":
            kw["alignment"] = al(wrap_text=True, vertical="top")
        elif kind == "xl Text":  # one line that may run into the empty cells to its right
            pass
        elif kind in ("xl Label", "xl Label required"):
            kw["font"] = self._font(b=kind.endswith("required"),
                                    color=REQUIRED_FONT if kind.endswith("required") else None)
            kw["fill"] = self._fill(LABEL_FILL)
            kw["border"] = self.border
            kw["alignment"] = al(vertical="center", wrap_text=True)
        elif kind in ("xl Header", "xl Header required"):
            kw["font"] = self._font(b=True, color="FFFFFF")
            kw["fill"] = self._fill(HEADER_REQUIRED_FILL if kind.endswith("required") else HEADER_FILL)
            kw["alignment"] = al(horizontal="center", vertical="center", wrap_text=True)
            kw["border"] = self.border
        elif kind in ("xl Input", "xl Input long"):
            kw["fill"] = self._fill(INPUT_FILL)
            kw["border"] = self.border
            kw["protection"] = unlocked
            # top-aligned, so that a row grown by wrapped text reads as one line of a table
            kw["alignment"] = al(wrap_text=kind.endswith("long"), vertical="top")
        elif kind == "xl Calculated":
            kw["fill"] = self._fill(FORMULA_FILL)
            kw["border"] = self.border
            kw["alignment"] = al(vertical="top")
        elif kind in ("xl Open column", "xl Open column long"):
            kw["protection"] = unlocked
            kw["alignment"] = al(wrap_text=kind.endswith("long"), vertical="top")
        elif kind in ("xl Cell", "xl Cell centred"):  # a presentation sheet's calculated cell
            kw["border"] = self.border
            kw["alignment"] = al(vertical="center", shrink_to_fit=True,
                                 horizontal="center" if kind.endswith("centred") else None)
        elif kind == "xl Label single":  # a label on one line (shrunk to fit, never wrapped)
            kw["font"] = self._font()
            kw["fill"] = self._fill(LABEL_FILL)
            kw["border"] = self.border
            kw["alignment"] = al(vertical="center", shrink_to_fit=True)
        elif kind == "xl Figure":  # a key figure on the summary
            kw["font"] = self._font(b=True, sz=self.font.sz + 1)
            kw["border"] = self.border
            kw["alignment"] = al(vertical="center", shrink_to_fit=True)
        elif kind == "xl Sample":  # legend samples: fill given in fmt
            kw["fill"] = self._fill(fmt)
            kw["border"] = self.border
            fmt = ""
        elif kind == "xl Sample font":
            kw["font"] = self._font(b=True, color=fmt)
            kw["border"] = self.border
            fmt = ""
        else:
            raise KeyError(name)
        return self._Named(name=self.display_name(name), number_format=fmt or "General", **kw)


#: text columns at least this wide wrap (案件名, 次のアクション...): long text is never cut on paper
WRAP_MIN_WIDTH = 18


def _wraps(f: Field) -> bool:
    return f.type == "longtext" or (f.type == "text" and (f.width or 0) >= WRAP_MIN_WIDTH)


def _input_style(f: Field, lang: str) -> str:
    kind = "xl Input long" if _wraps(f) else "xl Input"
    return f"{kind} | {_number_format(f, lang)}"


def _column_style(f: Field, lang: str) -> str:
    kind = "xl Open column long" if _wraps(f) else "xl Open column"
    return f"{kind} | {_number_format(f, lang)}"


def _calc_style(f: Field, lang: str) -> str:
    return f"xl Calculated | {_number_format(f, lang)}"


# -- the builder ----------------------------------------------------------------------------------

def _check_names(spec: Spec, lang: str) -> None:
    """Names Excel compares case-insensitively must be unique, or Excel repairs the file
    (and openpyxl renames or refuses): field keys against table names, and sheet names
    (``History`` is reserved by Excel)."""
    seen: dict[str, str] = {}
    for n in [f.key for f in spec.fields] + [t.name for t in spec.tables]:
        other = seen.setdefault(n.casefold(), n)
        if other != n:  # keys are lower case, table names CamelCase: a clash differs in case
            raise SpecError(f"the name {n!r} clashes with {other!r}: field keys and table names must differ "
                            f"ignoring case")
    sheets = [summary.TEXTS["sheet"](lang), whitespace.TEXTS["sheet"](lang), TEXTS["guide_sheet"](lang),
              *(s.label(lang) for s in spec.sections), summary.HELPER_SHEET, LISTS_SHEET, META_SHEET]
    folded = [n.casefold() for n in sheets]
    if len(set(folded)) != len(folded) or "history" in folded:
        raise SpecError(f"sheet names must be unique ignoring case and not 'History': {sheets}")


def _merge(ws, min_row: int, min_col: int, max_row: int, max_col: int) -> None:
    """Merge a range whose cells other than the top-left one are empty and unstyled.
    (``ws.merge_cells`` also rewrites every cell's borders, which costs more than the
    rest of the Guide sheet.)"""
    from openpyxl.worksheet.merge import MergedCellRange

    ws.merged_cells.add(MergedCellRange(ws, f"{a1(min_row, min_col)}:{a1(max_row, max_col)}"))


def plan_period(text: str | Period, settings: Settings) -> Period:
    if isinstance(text, Period):
        return text
    try:
        return parse_period(text, settings.fiscal_year_start_month)
    except PeriodError as e:
        raise GenerateError(str(e)) from None


def _check_info(info: PlanInfo) -> None:
    for attr in ("account_name", "rep"):
        v = getattr(info, attr)
        if not isinstance(v, str) or not v.strip():
            raise GenerateError(f"{attr} must not be empty")
    if info.lang not in LANGS:
        raise GenerateError(f"lang must be one of {', '.join(LANGS)}, got {info.lang!r}")
    if info.target is not None and (isinstance(info.target, bool) or not isinstance(info.target, int)
                                    or info.target < 0):
        raise GenerateError(f"target must be a non-negative whole number of yen, got {info.target!r}")


def _generated_at(value: datetime | str | None) -> tuple[str, datetime]:
    if value is None:
        now = clock.now().replace(microsecond=0)
        return now.isoformat(), now
    if isinstance(value, str):
        try:
            return value, datetime.fromisoformat(value)
        except ValueError:
            raise GenerateError(f"generated_at is not an ISO date-time: {value!r}") from None
    return value.isoformat(), value


class _Builder:
    """Builds one workbook in memory.  ``static`` collects every text it writes itself."""

    def __init__(self, spec: Spec, settings: Settings, info: PlanInfo, prefill: PlanData | None = None):
        from openpyxl import Workbook

        _check_info(info)
        self.spec = settings.apply(spec)
        self.settings = settings
        self.info = info
        self.lang = info.lang
        self.period = plan_period(info.period, settings)
        self.prefill = prefill
        self.finish: Callable[[Any], None] | None = None
        self.static: set[str] = set()
        self.wb = Workbook()
        self.styles = _Styles(self.wb, self.lang)
        self.layouts: dict[str, SheetLayout] = {}
        self.sheet_names: dict[str, str] = {}
        self.table_pos: dict[str, TablePos] = {}
        self.input_ranges: dict[str, list[str]] = {}  # sheet -> table input ranges (yellow)
        self.unit_factor = self._unit_factor()

    # -- small helpers -----------------------------------------------------------------------
    def t(self, key: str, **params: Any) -> str:
        text = TEXTS[key](self.lang)
        return text.format(**params) if params else text

    def tr(self, label: Label) -> str:
        return label(self.lang)

    def put_static(self, ws, row: int, col: int, text: str, style: str):
        cell = ws.cell(row=row, column=col)
        write_text(cell, text)
        self.styles.apply(cell, style)
        self.static.add(text)
        return cell

    def sheet_ref(self, section_key: str) -> str:
        return "'" + self.sheet_names[section_key].replace("'", "''") + "'"

    def define(self, name: str, ref: str) -> None:
        from openpyxl.workbook.defined_name import DefinedName

        self.wb.defined_names[name] = DefinedName(name, attr_text=ref)

    def _unit_factor(self) -> int:
        unit = (self.prefill.fields.get("amount_unit") if self.prefill else None) or \
            self.spec.field("amount_unit").default
        try:
            return int(self.spec.choices("amount_unit").get(unit).factor or 1)
        except KeyError:
            return 1

    # -- workbook ----------------------------------------------------------------------------
    def build(self):
        _check_names(self.spec, self.lang)
        wb = self.wb
        first = wb.active
        first.title = summary.TEXTS["sheet"](self.lang)
        space = wb.create_sheet(whitespace.TEXTS["sheet"](self.lang))
        guide = wb.create_sheet(self.t("guide_sheet"))
        self.static.update((first.title, space.title, guide.title))
        rows = self.table_rows = self._table_rows()
        chart_kinds = charts.chart_sections(self.spec)
        for s in self.spec.sections:
            self.sheet_names[s.key] = s.label(self.lang)
            layout = sheet_layout(s, self.lang, rows, charts.min_header_row(chart_kinds.get(s.key)))
            self.layouts[s.key] = layout
            self.table_pos.update(layout.tables)
        self._properties()
        for s in self.spec.sections:
            self._section(s, wb.create_sheet(self.sheet_names[s.key]))
        self._guide(guide)
        summary.add_summary(self, first)
        whitespace.add_whitespace(self, space, self.summary_helper)
        self._lists()
        self._meta()
        if self.finish is not None:
            self.finish(wb)
        wb.active = 0
        return wb

    def _table_rows(self) -> dict[str, int]:
        rows = {}
        for t in self.spec.tables:
            n = len(self.prefill.rows(t.name)) if self.prefill else 0
            if t.prefill and not n:
                n = len(self.spec.choices(t.column(t.prefill["column"]).choices).choices)
            rows[t.name] = max(t.rows, n)
        return rows

    def _properties(self) -> None:
        p = self.wb.properties
        iso, dt = _generated_at(self.info.generated_at)
        self.generated_at = iso
        p.creator = "xltools"
        p.lastModifiedBy = "xltools"
        p.title = clean_text(f"{self.info.account_name} {self.period}")[:255]
        p.subject = self.spec.template
        p.created = dt.astimezone(timezone.utc).replace(tzinfo=None) if dt.tzinfo else dt  # core.xml is UTC

    # -- hidden sheets -----------------------------------------------------------------------
    def _lists(self) -> None:
        ws = self.wb.create_sheet(LISTS_SHEET)
        ws.sheet_state = "veryHidden"
        used = sorted({f.choices for f in self.spec.iter_all_fields() if f.choices and not f.formula},
                      key=list(self.spec.choice_lists).index)
        for i, name in enumerate(used, 1):
            labels = self.spec.choices(name).labels(self.lang)
            write_text(ws.cell(row=1, column=i), name)
            for r, label in enumerate(labels, 2):
                write_text(ws.cell(row=r, column=i), label)
            letter = col_letter(i)
            self.define(f"{LIST_NAME_PREFIX}{name}", f"'{LISTS_SHEET}'!${letter}$2:${letter}${len(labels) + 1}")
        ws.protection.sheet = True

    def _meta(self) -> None:
        ws = self.wb.create_sheet(META_SHEET)
        ws.sheet_state = "veryHidden"
        info = self.info
        values = {
            "template": self.spec.template, "template_version": self.spec.version,
            "plan_id": info.plan_id or str(uuid.uuid4()), "account_id": info.account_id,
            "account_name": info.account_name, "rep": info.rep, "period": str(self.period),
            "language": self.lang, "generated_at": self.generated_at,
            "generator_version": __version__,
            # a hand-over names the plan it continues (single plan via PlanInfo, roster via the prefill)
            "predecessor_plan_id": info.predecessor_plan_id
            or (self.prefill.meta.get("predecessor_plan_id") if self.prefill is not None else None),
        }
        self.meta = values
        for r, key in enumerate(self.spec.meta_keys, 1):
            write_text(ws.cell(row=r, column=1), key)
            v = values.get(key)
            if v not in (None, ""):
                write_text(ws.cell(row=r, column=2), str(v))
        ws.column_dimensions["A"].width = 22
        ws.column_dimensions["B"].width = 40
        ws.protection.sheet = True

    # -- section sheets ----------------------------------------------------------------------
    def _section(self, s: Section, ws) -> None:
        layout = self.layouts[s.key]
        self.put_static(ws, TITLE_ROW, 2, s.title(self.lang), "xl Title")
        self.put_static(ws, HINT_ROW, 2, self.t("hint"), "xl Hint")
        for g, row, col in layout.group_titles:
            self._heading(ws, row, col, g.title(self.lang), g.fields)
        for pos in layout.fields.values():
            self._field(ws, s, pos)
        for tp in layout.tables.values():
            self._table(ws, s, tp)
        charts.add_charts(self, ws, s.key, layout)
        for col, w in layout.widths.items():
            ws.column_dimensions[col_letter(col)].width = w
        for row, h in layout.heights.items():
            ws.row_dimensions[row].height = h
        printing.fit_row_heights(ws)  # prefilled long text is never cut
        self._input_fill(ws)
        ws.freeze_panes = layout.freeze
        ws.print_title_rows = layout.print_title_rows
        self._page_setup(ws)
        self._print_area(ws, layout)
        self._protect(ws)

    def _heading(self, ws, row: int, col: int, text: str, fields: Iterable[Field]) -> None:
        """A group or table title; over amounts it names the workbook's amount unit (a
        formula on ``amount_unit``, so it follows the rep's choice)."""
        if not any(f.type == "amount" for f in fields):
            self.put_static(ws, row, col, text, "xl Heading")
            return
        cell = ws.cell(row=row, column=col)
        self.styles.apply(cell, "xl Heading")
        unit = self.spec.field("amount_unit").key
        write_formula(cell, "=" + _excel_string(text) + "&" + _excel_string(self.t("unit_open")) + "&" + unit
                      + "&" + _excel_string(self.t("unit_close")))

    def _field(self, ws, s: Section, pos) -> None:
        f = pos.field
        label_style = "xl Label required" if f.required else "xl Label"
        if f.quarter:  # a real fiscal quarter (FY2026Q3); a formula, so never read as a rep's text
            label = ws.cell(row=pos.row, column=pos.label_col)
            self.styles.apply(label, label_style)
            write_formula(label, "=" + _excel_string(str(breakdown_quarters(self.period)[f.quarter - 1])))
        else:
            self.put_static(ws, pos.row, pos.label_col, f.label(self.lang), label_style)
        cell = ws.cell(row=pos.row, column=pos.col)
        if f.formula:
            self.styles.apply(cell, _calc_style(f, self.lang))
            write_formula(cell, translate_formula(self.spec, self.settings, f, self.lang, self.period))
        else:
            self.styles.apply(cell, _input_style(f, self.lang) if f.is_input else _calc_style(f, self.lang))
            value = self._field_value(f)
            if value is not None:
                write_value(cell, self._display(f, value))
            self._validation(ws, f, pos.ref)
            self._not_counted_rule(ws, f, pos.ref)
        self.define(f.key, f"{self.sheet_ref(s.key)}!{pos.abs_ref}")
        self._tone_rules(ws, f, pos.ref)

    def _field_value(self, f: Field) -> Any:
        info = self.info
        from_info = {"account_name": info.account_name, "rep": info.rep, "period": str(self.period),
                     "account_id": info.account_id, "team_members": info.team_members,
                     "sales_target": info.target}
        if from_info.get(f.key) is not None:
            return from_info[f.key]
        if self.prefill is not None and self.prefill.fields.get(f.key) is not None:
            return self.prefill.fields[f.key]
        return f.default

    def _display(self, f: Field, value: Any) -> Any:
        """A PlanData value as the workbook shows it: choice keys as labels in the workbook
        language, yen as the amount unit; anything else (text a rep typed) as it is."""
        if f.choices and isinstance(value, str):
            try:
                return self.spec.choices(f.choices).get(value).label(self.lang)
            except KeyError:
                return value
        if f.type == "amount" and isinstance(value, (int, float)) and not isinstance(value, bool):
            if self.unit_factor != 1:
                q, r = divmod(value, self.unit_factor)
                return int(q) if r == 0 else value / self.unit_factor
        return value

    def _table(self, ws, s: Section, tp: TablePos) -> None:
        """Header, pre-sized rows and everything a rep needs to fill a table.

        Input columns get no cell records: the column's own style (unlocked, number
        format) covers the table rows and the rows below, and one conditional format per
        sheet paints the table's input cells yellow (see :meth:`_input_fill`).  That keeps a
        workbook at a few hundred cells instead of thousands (generation speed).  Formula
        and locked columns get real cells in every pre-sized row."""
        from openpyxl.cell.cell import Cell
        from openpyxl.worksheet.table import Table as XlTable
        from openpyxl.worksheet.table import TableStyleInfo

        t = tp.table
        self._heading(ws, tp.title_row, tp.first_col, t.label(self.lang), t.columns)
        fixed = {}  # column -> (style array, formula or None)
        for i, c in enumerate(t.columns):
            col = tp.first_col + i
            self.put_static(ws, tp.header_row, col, c.label(self.lang),
                            "xl Header required" if c.required else "xl Header")
            if c.is_input:
                dim = ws.column_dimensions[col_letter(col)]
                dim._style = copy(self.styles.array(_column_style(c, self.lang)))
                self.input_ranges.setdefault(ws.title, []).append(tp.column_range(c.key, spare=False))
            else:
                formula = translate_formula(self.spec, self.settings, c, self.lang, self.period) if c.formula else None
                fixed[col] = (self.styles.array(_calc_style(c, self.lang)), formula)
        cells = ws._cells
        for r in range(tp.first_row, tp.last_row + 1):
            for col, (arr, formula) in fixed.items():
                cell = Cell(ws, row=r, column=col)
                cell._style = copy(arr)
                if formula:
                    cell.value = formula
                cells[(r, col)] = cell
        self._table_values(ws, tp)
        xt = XlTable(displayName=t.name, ref=tp.ref)
        xt.tableStyleInfo = TableStyleInfo(name=TABLE_STYLE, showRowStripes=False)
        # column names exactly equal to the header cells (openpyxl would otherwise read them
        # back from the sheet, materialising every cell of the table)
        xt._initialise_columns()
        for tc, c in zip(xt.tableColumns, t.columns):
            tc.name = c.label(self.lang)
        ws.add_table(xt)
        for c in t.columns:
            if c.formula:
                self._tone_rules(ws, c, tp.column_range(c.key, spare=False))
                continue
            rng = tp.column_range(c.key)
            if c.is_input:
                self._validation(ws, c, rng)
                self._not_counted_rule(ws, c, rng)
            self._tone_rules(ws, c, rng)
            if c.overdue_unless:
                self._overdue_rule(ws, tp, c)
        self._sources(s, tp)

    def _sources(self, s: Section, tp: TablePos) -> None:
        """Defined names for columns other columns take their dropdown from."""
        for f in self.spec.iter_all_fields():
            if not f.source:
                continue
            tname, _, ckey = f.source.partition(".")
            if tname != tp.table.name:
                continue
            name = f"{SOURCE_NAME_PREFIX}{tname}_{ckey}"
            if name not in self.wb.defined_names:
                self.define(name, f"{self.sheet_ref(s.key)}!{tp.column_range(ckey, absolute=True)}")

    def _table_values(self, ws, tp: TablePos) -> None:
        t = tp.table
        rows = self.prefill.rows(t.name) if self.prefill else []
        choice_rows = None
        if t.prefill:
            prefill_col = t.column(t.prefill["column"])
            choice_rows = list(self.spec.choices(prefill_col.choices).choices)
        if rows:
            for i, row in enumerate(rows):
                values = dict(row.values)
                if choice_rows is not None:
                    self._choice_row_values(t, values)
                self._write_row(ws, tp, i, values)
        elif choice_rows is not None:
            for i, choice in enumerate(choice_rows):
                values = {prefill_col.key: choice.key}
                self._choice_row_values(t, values)
                self._write_row(ws, tp, i, values)

    def _choice_row_values(self, t: Table, values: dict) -> None:
        """A prefilled row (selection criterion, KPI): columns named like an attribute of
        the choice (``weight``) take that attribute from the company settings."""
        prefill_col = t.column(t.prefill["column"])
        try:
            choice = self.spec.choices(prefill_col.choices).get(values.get(prefill_col.key))
        except KeyError:
            return
        for c in t.columns:
            attr = getattr(choice, c.key, None) if c.key not in ("key", "label", "aliases", "tone") else None
            if attr is not None:
                values[c.key] = attr

    def _write_row(self, ws, tp: TablePos, i: int, values: dict) -> None:
        r = tp.first_row + i
        for c in tp.table.columns:
            if c.formula:
                continue
            v = values.get(c.key)
            if v is None:
                continue
            cell = ws.cell(row=r, column=tp.col(c.key))
            if c.is_input:  # a cell record overrides the column style: give it the input style
                self.styles.apply(cell, _input_style(c, self.lang))
            write_value(cell, self._display(c, v))

    # -- validation, conditional formats --------------------------------------------------------
    def _validation(self, ws, f: Field, sqref: str) -> None:
        from openpyxl.worksheet.datavalidation import DataValidation

        dv = None
        if f.choices:
            dv = DataValidation(type="list", formula1=f"{LIST_NAME_PREFIX}{f.choices}", allow_blank=True)
            if f.open:
                dv.showErrorMessage = False
            else:
                dv.showErrorMessage, dv.errorStyle = True, "stop"
                dv.error, dv.errorTitle = self.t("dv_choice")[:ERROR_MAX], self.t("dv_title")
        elif f.source:
            tname, _, ckey = f.source.partition(".")
            dv = DataValidation(type="list", formula1=f"{SOURCE_NAME_PREFIX}{tname}_{ckey}", allow_blank=True)
            dv.showErrorMessage, dv.errorStyle = True, "warning"
            dv.error, dv.errorTitle = self.t("dv_source")[:ERROR_MAX], self.t("dv_title")
        elif f.type in NUMERIC_CHECKS:
            kind, low, high = NUMERIC_CHECKS[f.type]
            dv = DataValidation(type=kind, operator="between", formula1=str(low), formula2=str(high),
                                allow_blank=True)
            dv.showErrorMessage, dv.errorStyle = True, "warning"
            dv.error, dv.errorTitle = self.t("dv_range", low=low, high=high)[:ERROR_MAX], self.t("dv_title")
        elif f.type in TYPE_CHECKS:
            kind, low, high, message = TYPE_CHECKS[f.type]
            dv = DataValidation(type=kind, operator="between", formula1=low, formula2=high, allow_blank=True)
            dv.showErrorMessage, dv.errorStyle = True, "warning"
            dv.error, dv.errorTitle = self.t(message)[:ERROR_MAX], self.t("dv_title")
        elif f.help:
            dv = DataValidation(allow_blank=True)
        if dv is None:
            return
        if f.help:
            dv.showInputMessage = True
            dv.promptTitle = f.label(self.lang)[:PROMPT_TITLE_MAX]
            dv.prompt = f.help(self.lang)[:PROMPT_MAX]
            self.static.add(dv.prompt)
        dv.add(sqref)
        ws.add_data_validation(dv)

    def _tone_rules(self, ws, f: Field, sqref: str) -> None:
        """Colour the labels of choices that carry a tone (stance, verdict...)."""
        from openpyxl.formatting.rule import CellIsRule
        from openpyxl.styles import Font, PatternFill

        lists = [f.choices] if f.choices else []
        if f.formula:
            lists += _CHOICE_REF.findall(f.formula)
        for name in dict.fromkeys(lists):
            for ch in self.spec.choices(name).choices:
                if ch.tone is None:
                    continue
                fill, font = TONES[ch.tone]
                ws.conditional_formatting.add(sqref, CellIsRule(
                    operator="equal", formula=[_excel_string(ch.label(self.lang))],
                    fill=PatternFill(bgColor=fill, fill_type="solid"), font=Font(color=font)))

    def _not_counted_rule(self, ws, f: Field, sqref: str) -> None:
        """Highlight a value the workbook's formulas cannot count: a number or date typed as
        text, or (closed lists) a value that is not one of the list's labels."""
        from openpyxl.formatting.rule import FormulaRule
        from openpyxl.styles import PatternFill

        first = sqref.split()[0].split(":")[0].replace("$", "")
        if f.type in NUMERIC_CHECKS or f.type in TYPE_CHECKS:
            cond = f"AND(LEN({first})>0,NOT(ISNUMBER({first})))"
        elif f.choices and not f.open:
            cond = f"AND(LEN({first})>0,ISNA(MATCH({first},{LIST_NAME_PREFIX}{f.choices},0)))"
        else:
            return
        ws.conditional_formatting.add(sqref, FormulaRule(
            formula=[cond], stopIfTrue=True, fill=PatternFill(bgColor=NOT_COUNTED_FILL, fill_type="solid")))

    def _input_fill(self, ws) -> None:
        """Yellow for the tables' input cells, added last so that it has the lowest priority
        (a stance or overdue colour wins)."""
        from openpyxl.formatting.rule import FormulaRule
        from openpyxl.styles import PatternFill

        ranges = self.input_ranges.get(ws.title)
        if ranges:
            ws.conditional_formatting.add(" ".join(ranges), FormulaRule(
                formula=["TRUE"], fill=PatternFill(bgColor=INPUT_FILL, fill_type="solid")))

    def _overdue_rule(self, ws, tp: TablePos, c: Field) -> None:
        from openpyxl.formatting.rule import FormulaRule
        from openpyxl.styles import Font, PatternFill

        other, keys = c.overdue_unless
        other_f = tp.table.column(other)
        me = f"${col_letter(tp.col(c.key))}{tp.first_row}"
        them = f"${col_letter(tp.col(other))}{tp.first_row}"
        labels = [self.spec.choices(other_f.choices).get(k).label(self.lang) for k in keys]
        conds = [f"ISNUMBER({me})", f"{me}<TODAY()"] + [f"{them}<>{_excel_string(x)}" for x in labels]
        fill, font = TONES["bad"]
        ws.conditional_formatting.add(tp.column_range(c.key), FormulaRule(
            formula=[f"AND({','.join(conds)})"], fill=PatternFill(bgColor=fill, fill_type="solid"),
            font=Font(color=font, b=True)))

    # -- sheet setup ------------------------------------------------------------------------
    def _page_setup(self, ws, portrait: bool = False) -> None:
        printing.page_setup(ws, lang=self.lang, account=clean_text(self.info.account_name), period=str(self.period),
                            portrait=portrait)

    def _print_area(self, ws, layout: SheetLayout) -> None:
        """Print only the used rows (a formula print area, see :mod:`xltools.workbook.printing`)."""
        tables = [printing.TableRows(tp.first_row, tp.input_last_row,
                                     tuple(tp.col(c.key) for c in tp.table.columns if c.is_input))
                  for tp in layout.tables.values()]
        fixed = max([layout.header_row or 0] + [p.row for p in layout.fields.values()] + [HINT_ROW])
        printing.set_print_area(self.wb, ws, printing.print_area_formula(ws.title, layout.last_col, fixed, tables))

    @staticmethod
    def _protect(ws) -> None:
        p = ws.protection
        p.sheet = True
        # allowed under protection: resizing, filtering and sorting, selecting
        p.formatColumns = p.formatRows = p.autoFilter = p.sort = False
        p.selectLockedCells = p.selectUnlockedCells = False

    # -- guide -----------------------------------------------------------------------------
    def _guide(self, ws) -> None:
        widths = {1: 2.5, 2: 30, 3: 12, 4: 16, 5: 16, 6: 18, 7: 14, 8: 12}
        for c, w in widths.items():
            ws.column_dimensions[col_letter(c)].width = w
        total_width = sum(w for c, w in widths.items() if c >= 2)
        row = 1
        self.put_static(ws, row, 2, self.t("guide_title"), "xl Title")
        row = 3
        # this plan: account, rep, period (formulas: the Overview is the single place to edit)
        self.put_static(ws, row, 2, self.t("plan_title"), "xl Heading")
        row += 1
        for key in ("account_name", "rep", "period"):
            f = self.spec.field(key)
            self.put_static(ws, row, 2, f.label(self.lang), "xl Label")
            cell = ws.cell(row=row, column=3)
            self.styles.apply(cell, "xl Calculated | General")
            write_formula(cell, f'=IF({key}="","",{key})')
            _merge(ws, row, 3, row, 5)
            row += 1
        row += 1

        def paragraph(text: str) -> None:
            nonlocal row
            self.put_static(ws, row, 2, text, "xl Paragraph")
            _merge(ws, row, 2, row, 8)
            lines = -(-display_width(text) // int(total_width * 0.9)) + text.count("\n")
            ws.row_dimensions[row].height = max(1, lines) * 16
            row += 1

        th = self.settings.thresholds
        self.put_static(ws, row, 2, self.t("purpose_title"), "xl Heading")
        row += 1
        for key in ("purpose_1", "purpose_2", "purpose_3"):
            paragraph(self.t(key, low=_number(th.coverage_low), high=_number(th.coverage_high)))
        row += 1
        self.put_static(ws, row, 2, self.t("howto_title"), "xl Heading")
        row += 1
        sep = "、" if self.lang == "ja" else ", "
        required = sep.join(s.label(self.lang) for s in self.spec.sections if s.required)
        unit_field = self.spec.field("amount_unit")
        units = "／".join(self.spec.choices(unit_field.choices).labels(self.lang)) if self.lang == "ja" else \
            " / ".join(self.spec.choices(unit_field.choices).labels(self.lang))
        steps = [self.t("howto_1", sheets=required), self.t("howto_2"),
                 self.t("howto_3", unit_label=unit_field.label(self.lang), units=units),
                 self.t("howto_4"), self.t("howto_5"), self.t("howto_6")]
        for i, text in enumerate(steps, 1):
            paragraph(f"{i}. {text}")
        row += 1
        row = self._legend(ws, row)
        row += 1
        self._checklist(ws, row)
        self._page_setup(ws)
        ws.page_setup.fitToHeight = 1  # the guide is one page
        self._protect(ws)

    def _table_complete(self, t: Table) -> str:
        """TRUE when the table has a row and every row with input has all required columns,
        as the checker counts it (a required column left empty is E-REQUIRED, not done)."""
        def col(c: Field) -> str:
            return f"{t.name}[[{escape_header(c.label(self.lang))}]]"

        written = f"(LEN({'&'.join(col(c) for c in t.columns if c.is_input)})>0)"
        missing = "+".join(f"SUMPRODUCT({written}*(LEN({col(c)})=0))" for c in t.required_columns)
        return f"AND(SUMPRODUCT(--{written})>0,{missing}=0)"

    def _legend(self, ws, row: int) -> int:
        self.put_static(ws, row, 2, self.t("legend_title"), "xl Heading")
        row += 1
        samples = [
            (f"xl Sample | {INPUT_FILL}", "legend_input"),
            (f"xl Sample | {FORMULA_FILL}", "legend_formula"),
            (f"xl Sample font | {REQUIRED_FONT}", "legend_required"),
            (f"xl Sample | {TONES['bad'][0]}", "legend_overdue"),
            (f"xl Sample | {NOT_COUNTED_FILL}", "legend_not_counted"),
        ]
        for style, key in samples:
            self.styles.apply(ws.cell(row=row, column=2), style)
            self.put_static(ws, row, 3, self.t(key), "xl Text")
            row += 1
        sep = "、" if self.lang == "ja" else ", "
        for tone, (fill, _font) in TONES.items():
            labels = [ch.label(self.lang) for cl in self.spec.choice_lists.values() for ch in cl.choices
                      if ch.tone == tone]
            if not labels:
                continue
            cell = ws.cell(row=row, column=2)
            self.styles.apply(cell, f"xl Sample | {fill}")
            self.put_static(ws, row, 3, f"{self.t('tone_' + tone)}：{sep.join(labels)}" if self.lang == "ja"
                            else f"{self.t('tone_' + tone)}: {sep.join(labels)}", "xl Text")
            row += 1
        return row

    def _checklist(self, ws, row: int) -> None:
        self.put_static(ws, row, 2, self.t("checklist_title"), "xl Heading")
        row += 1
        heads = ["col_sheet", "col_kind", "col_fields_done", "col_fields_total", "col_tables_done",
                 "col_tables_total", "col_status"]
        for i, key in enumerate(heads):
            self.put_static(ws, row, 2 + i, self.t(key), "xl Header")
        ws.row_dimensions[row].height = 32
        self.checklist_rows: dict[str, int] = {}
        done, todo = _excel_string(self.t("complete")), _excel_string(self.t("incomplete"))
        self.static.update({self.t("complete"), self.t("incomplete")})
        for s in self.spec.sections:
            row += 1
            self.checklist_rows[s.key] = row
            self.put_static(ws, row, 2, s.label(self.lang), "xl Label")
            self.put_static(ws, row, 3, self.t("required" if s.required else "optional"), "xl Label")
            req_fields = [f.key for f in s.fields if f.required]
            # an optional section never needs a row; its checklist shows done when nothing is required
            req_tables = [t for t in s.tables if t.required_columns] if s.required else []
            cells = {}
            for col, parts, total in (
                    (4, [f"(LEN({k})>0)" for k in req_fields], len(req_fields)),
                    (6, [self._table_complete(t) for t in req_tables], len(req_tables))):
                c_done = ws.cell(row=row, column=col)
                self.styles.apply(c_done, "xl Calculated | 0")
                # formulas even for constants: the reader treats formula cells as the
                # generator's own, while a plain number would read as a rep's stray value
                write_formula(c_done, "=" + "+".join(parts) if parts else "=0")
                c_total = ws.cell(row=row, column=col + 1)
                self.styles.apply(c_total, "xl Calculated | 0")
                write_formula(c_total, f"={total}")
                cells[col] = (c_done.coordinate, c_total.coordinate)
            status = ws.cell(row=row, column=8)
            self.styles.apply(status, "xl Calculated | General")
            (fd, ft), (td, tt) = cells[4], cells[6]
            write_formula(status, f"=IF(AND({fd}={ft},{td}={tt}),{done},{todo})")
        from openpyxl.formatting.rule import CellIsRule
        from openpyxl.styles import Font, PatternFill

        first = min(self.checklist_rows.values())
        for label, tone in ((done, "good"), (todo, "bad")):
            fill, font = TONES[tone]
            ws.conditional_formatting.add(f"H{first}:H{row}", CellIsRule(
                operator="equal", formula=[label], fill=PatternFill(bgColor=fill, fill_type="solid"),
                font=Font(color=font)))


# -- public API --------------------------------------------------------------------------------

def build_workbook(spec: Spec, settings: Settings, info: PlanInfo, prefill: PlanData | None = None, *,
                   finish: Callable[[Any], None] | None = None):
    """The workbook as an (unsaved) openpyxl ``Workbook``; ``finish(wb)``, when given, adds
    what a later stage draws from the plan's data (the relationship map of a hand-over)."""
    b = _Builder(spec, settings, info, prefill)
    b.finish = finish
    return b.build()


def save_atomic(wb, path: str | os.PathLike) -> Path:
    """Save ``wb`` to a temporary file next to ``path``, then rename it into place: a
    crash or a full disk never leaves a half-written workbook under the final name
    (:func:`xltools.workbook.outfile.save_workbook`)."""
    from xltools.workbook.outfile import save_workbook

    p = Path(path)
    if not p.parent.is_dir():
        raise GenerateError(f"{p.parent}: output folder does not exist")
    return save_workbook(wb, p)


def generate_workbook(spec: Spec, settings: Settings, info: PlanInfo, path: str | os.PathLike,
                      prefill: PlanData | None = None, *, finish: Callable[[Any], None] | None = None) -> Path:
    """Write one plan workbook (.xlsx content, whatever ``path`` ends in) to ``path``
    atomically and return the path."""
    return save_atomic(build_workbook(spec, settings, info, prefill, finish=finish), path)


def static_texts(spec: Spec, settings: Settings, lang: str) -> set[str]:
    """Every text the generator itself writes into visible cells of a ``lang`` workbook:
    titles, labels, headers, guide and legend texts, prefilled choice labels and input
    messages.  The reader uses it to tell the generator's text from a rep's."""
    b = _Builder(spec, settings, PlanInfo(account_name="-", rep="-", period="FY2000", lang=lang))
    b.build()
    spec = b.spec
    for t in spec.tables:
        if t.prefill:
            b.static.update(spec.choices(t.column(t.prefill["column"]).choices).labels(lang))
    for f in spec.fields:
        if f.default and f.choices:
            b.static.add(spec.choices(f.choices).get(f.default).label(lang))
    return b.static
