"""The relationship map's data: its constants and texts, the people of the Contacts table,
the cards, pages and flags (:mod:`xltools.checking.relmap`)."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any, Iterable

from xltools.spec.contract import T
from xltools.spec.derive import day as _day
from xltools.spec.model import Row
from xltools.spec.spec import Label, Spec
from xltools.workbook.generate import TONES as TONE_COLOURS  # (fill, ink) per tone, as the cells show them

#: the sheet of the pictures
SHEET = Label("関係図", "Relationship map")
#: at most this many cards on one page, in a grid of at most MAX_COLS x MAX_ROWS slots
MAX_CARDS = 40
MAX_COLS = 10
MAX_ROWS = 7
#: leaf reports of one manager are stacked in columns of at most this many cards
STACK_ROWS = 4
#: a card inside its slot (slot units)
CARD_LEFT, CARD_RIGHT, CARD_TOP, CARD_BOTTOM = 0.1, 0.95, 0.05, 0.8
BAR_Y = 0.9
#: the picture: inches (fits the printable area of A4 landscape with xltools' margins)
FIG_W, FIG_H = 10.6, 6.75
DPI = 160
#: the display size in the workbook (pixels at 96 dpi) and the sheet cells that hold it
PX_W, PX_H = round(FIG_W * 96), round(FIG_H * 96)
COLUMN_WIDTH = 146  # characters: 7 px each + 5 px padding >= PX_W
ROWS_PER_PICTURE, ROW_POINTS = 2, 245  # 490 pt >= PX_H * 0.75

PLAIN = ("FFFFFF", "404040")
GONE = ("F2F2F2", "A6A6A6")
FLAG_COLOUR = "C00000"
#: lines of flags and notes under the chart
BAND_LINES = 7

TEXTS: dict[str, Label] = {
    "title": Label("関係図　{account}　{period}", "Relationship map — {account} {period}"),
    "as_of": Label("{date} 現在", "as of {date}"),
    "page": Label("{n} / {of}", "{n} of {of}"),
    "dept": Label("部署：{names}", "Department: {names}"),
    "dept_part": Label("部署：{names}（{n}）", "Department: {names} ({n})"),
    "no_dept": Label("（部署未記入）", "(no department)"),
    "owner": Label("当社：{v}", "Ours: {v}"),
    "last": Label("接触：{v}", "Met: {v}"),
    "never": Label("未接触", "never"),
    "influence": Label("影響度{v}", "infl. {v}"),
    "upline": Label("↑上長：{v}", "↑ reports to {v}"),
    "flags": Label("要対応", "Needs attention"),
    "no_flags": Label("決裁者・推進者とも把握済み、要対応事項はありません。", "Decision maker and champion known; nothing needs attention."),
    "legend": Label("凡例", "Legend"),
    "legend_gone": Label("異動・退職（灰色）", "Transferred or left (grey)"),
    "legend_line": Label("線：上長 → 部下", "Lines: manager → report"),
    "legend_flag": Label("!：要対応（下記）／接触：最終接触日", "!: needs attention (below); Met: last contact"),
    "flag_no_decision_maker": Label("決裁者が特定されていません（在籍者に役割「{role}」がいません）。",
                                    "No decision maker known (no active person has the role {role})."),
    "flag_no_champion": Label("推進者がいません（在籍者に役割「{role}」がいません）。",
                              "No champion (no active person has the role {role})."),
    "flag_uncovered": Label("{stances}の決裁者に予定された活動がありません：{names}",
                            "Decision makers whose stance is {stances}, with no planned activity: {names}"),
    "flag_stale": Label("{days}日以上接触していないキーマン（{n}名）：{names}",
                        "Key persons not met for {days} days or more ({n}): {names}"),
    "more": Label("ほか{n}名", "and {n} more"),
    "more_notes": Label("ほかに注記 {n} 件", "{n} more notes"),
    "note_unknown": Label("上長が表にいないため最上位に表示：{names}",
                          "Manager not in the table, shown at the top: {names}"),
    "note_cycle": Label("上長の指定が循環しています（{names}）。{first} を最上位に表示。",
                        "Reports-to goes round in a circle ({names}); {first} shown at the top."),
    "note_no_reports_to": Label("上長が1人も入力されていないため、階層なしで並べています。",
                                "No reports-to is filled in: the people are shown side by side, without hierarchy."),
    "note_duplicate": Label("同じ氏名が複数あります（上長の線は最初の行の人へ）：{names}",
                            "The same name appears more than once (reports-to lines go to the first row): {names}"),
    "placeholder": Label("キーマンが入力されていません（④の表に入力すると、xltools が関係図を描きます）。",
                         "No key persons yet (fill in the table on sheet 4 and xltools draws the map)."),
}
_SEP = {"ja": "、", "en": ", "}
_OR = {"ja": "／", "en": " or "}


def _t(key: str, lang: str, **params: Any) -> str:
    text = TEXTS[key](lang)
    return text.format(**params) if params else text


# -- the data -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Person:
    """One named row of the Contacts table, as the map shows it."""

    index: int  # position among the named contacts (0-based, table order)
    row: int  # 1-based data row of the table
    name: str
    title: str = ""
    department: str = ""
    role: str = ""  # labels in the map's language
    stance: str = ""
    influence: str = ""
    owner: str = ""
    last_contact: date | None = None
    gone: bool = False
    status: str = ""  # the employment label
    tone: str | None = None  # the stance's tone
    manager: str = ""  # reports_to as typed


@dataclass(frozen=True)
class Card:
    person: Person
    x: float  # slot column of the card's slot (left), page grid
    y: float  # slot row (top)
    flags: tuple[str, ...] = ()  # flag keys that concern this person ("uncovered", "stale")
    upline: str = ""  # the manager when drawn on another page

    @property
    def colours(self) -> tuple[str, str]:
        if self.person.gone:
            return GONE
        return TONE_COLOURS.get(self.person.tone or "", PLAIN)


@dataclass(frozen=True)
class Page:
    subtitle: str
    cards: tuple[Card, ...]
    lines: tuple[tuple[tuple[float, float], ...], ...]  # polylines in slot units
    width: int  # grid slots used
    height: int


@dataclass(frozen=True)
class Flag:
    key: str  # no_decision_maker | no_champion | uncovered | stale
    text: str
    people: tuple[int, ...] = ()  # Person.index


@dataclass(frozen=True)
class RelMap:
    title: str
    as_of: str
    lang: str
    people: tuple[Person, ...]
    pages: tuple[Page, ...]
    flags: tuple[Flag, ...]
    notes: tuple[str, ...]
    legend: tuple[tuple[str, tuple[str, str]], ...]  # (label, (fill, edge))

    @property
    def cards(self) -> list[Card]:
        return [c for p in self.pages for c in p.cards]


def _label(spec: Spec, list_name: str, key: Any, lang: str) -> str:
    if key in (None, ""):
        return ""
    try:
        return spec.choices(list_name).get(key).label(lang)
    except KeyError:
        return str(key)


def _list(spec: Spec, column: str) -> str:
    """The choice list of a Contacts column (xltools.spec.contract.CHOICE_COLUMNS)."""
    name = spec.table(T.CONTACTS).column(column).choices
    assert name is not None  # the contract gives each of these columns its list
    return name


def _text(v: Any) -> str:
    """One line of text: whitespace runs as one space, control characters dropped."""
    if v is None:
        return ""
    return " ".join("".join(ch for ch in str(v) if unicodedata.category(ch) != "Cc" or ch.isspace()).split())


def people_of(spec: Spec, rows: Iterable[Row], lang: str) -> list[Person]:
    """The named contacts of ``rows`` (PlanData rows of Contacts), in table order."""
    gone = spec.meaning(_list(spec, "status"), "gone")
    stance_list = spec.choices(_list(spec, "stance"))
    out: list[Person] = []
    for r in rows:
        name = _text(r["name"])
        if not name:
            continue
        stance = r["stance"]
        try:
            tone = stance_list.get(stance).tone if stance else None
        except KeyError:
            tone = None
        out.append(Person(
            index=len(out), row=r.index, name=name, title=_text(r["title"]), department=_text(r["department"]),
            role=_label(spec, _list(spec, "role"), r["role"], lang),
            stance=_label(spec, stance_list.name, stance, lang),
            influence=_label(spec, _list(spec, "influence"), r["influence"], lang),
            owner=_text(r["our_owner"]), last_contact=_day(r["last_contact"]),
            gone=r["status"] in gone, status=_label(spec, _list(spec, "status"), r["status"], lang), tone=tone,
            manager=_text(r["reports_to"])))
    return out
