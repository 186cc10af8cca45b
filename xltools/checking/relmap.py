"""The relationship map (関係図): the Contacts table drawn as an org chart.

Two steps, kept apart:

* :func:`build_map` — pure data.  One :class:`Card` per named contact, placed by
  ``reports_to`` (people whose manager is not in the table, or who have none, are
  roots; a cycle is broken at its first row and reported), the reports-to lines as
  polylines, the notes and the plan's flags (no decision maker, no champion, decision
  makers at risk with no planned activity, key persons not met for
  ``thresholds.contact_stale_days``), split into :class:`Page`\\ s of at most
  :data:`MAX_CARDS` cards that fit a legible A4 landscape grid (by department, then by
  level when a department alone is too big).  Positions are in grid slots: a card
  fills one slot, ``x`` to the right, ``y`` downwards.
* :func:`render_png` — one PNG per page with matplotlib, in the IPAex Gothic font that
  ships inside the ``matplotlib-fontja`` package (the font file is named explicitly, so
  no system font is ever looked up).

:func:`add_to_workbook` puts the pictures on their own sheet 関係図 / Relationship map
right after the sheet of the Contacts table, one picture per printed A4 landscape page.

Meanings come from the spec: who is a decision maker or champion (``role``), which
stances are a risk (``stance``), who is gone (``employment``), the stance colours
(``tone``); "decision makers at risk with no planned activity" is the business rule
``W-DECISION-MAKER-UNCOVERED`` itself (:func:`xltools.checking.rules.decision_maker_uncovered`), less
the people who are gone.
"""
from __future__ import annotations

import io
import math
import unicodedata
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Sequence

from xltools import clock
from xltools.checking.validate import name_key
from xltools.spec.contract import T
from xltools.spec.derive import day as _day
from xltools.spec.model import PlanData, Row
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


# -- the hierarchy ------------------------------------------------------------------------------

@dataclass
class _Forest:
    parent: dict[int, int | None]
    unknown: list[int] = field(default_factory=list)  # manager typed, not in the table
    cycles: list[list[int]] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


def _forest(people: Sequence[Person]) -> _Forest:
    """Each person's manager (index) from ``reports_to``; cycles are cut at their first row."""
    first: dict[str, int] = {}
    dups: list[str] = []
    for p in people:
        k = name_key(p.name)
        if k in first:
            if people[first[k]].name not in dups:
                dups.append(people[first[k]].name)
        else:
            first[k] = p.index
    f = _Forest(parent={}, duplicates=dups)
    for p in people:
        if not p.manager:
            f.parent[p.index] = None
            continue
        boss = first.get(name_key(p.manager))
        if boss is None:
            f.unknown.append(p.index)
        f.parent[p.index] = boss
    # cycles: follow the managers with a colour per walk (each person visited once)
    state: dict[int, int] = {}  # 1 on the current walk, 2 done
    for start in range(len(people)):
        walk: list[int] = []
        i: int | None = start
        while i is not None and state.get(i) is None:
            state[i] = 1
            walk.append(i)
            i = f.parent[i]
        if i is not None and state.get(i) == 1:  # back on this walk: a cycle
            cycle = walk[walk.index(i):]
            cut = min(cycle)
            f.parent[cut] = None
            f.cycles.append(sorted(cycle))
        for j in walk:
            state[j] = 2
    return f


def _dfs_order(people: Sequence[Person], parent: dict[int, int | None]) -> list[int]:
    """Pre-order of the forest (roots in table order, children in table order), iterative."""
    kids: dict[int | None, list[int]] = {}
    for p in people:
        kids.setdefault(parent[p.index], []).append(p.index)
    out: list[int] = []
    stack = list(reversed(kids.get(None, [])))
    while stack:
        i = stack.pop()
        out.append(i)
        stack.extend(reversed(kids.get(i, [])))
    return out


# -- the layout of one page ---------------------------------------------------------------------

@dataclass
class _Block:
    w: int
    h: int
    cards: list[tuple[int, float, float]]  # (person index, x, y)
    lines: list[list[tuple[float, float]]]
    centre: float  # x of the root card's centre (or of the block)


def _shift(b: _Block, dx: float, dy: float) -> tuple[list, list]:
    cards = [(i, x + dx, y + dy) for i, x, y in b.cards]
    lines = [[(x + dx, y + dy) for x, y in line] for line in b.lines]
    return cards, lines


def _stack(leaves: list[int], rows: int) -> tuple[_Block, list[float]]:
    """Leaf reports in columns of at most ``rows`` cards, joined by a spine per column."""
    ncols = math.ceil(len(leaves) / rows)
    per_col = math.ceil(len(leaves) / ncols)
    cards, lines, entries = [], [], []
    mid = (CARD_TOP + CARD_BOTTOM) / 2
    for c in range(ncols):
        col = leaves[c * per_col:(c + 1) * per_col]
        spine = c + CARD_LEFT / 2
        entries.append(spine)
        lines.append([(spine, BAR_Y - 1), (spine, len(col) - 1 + mid)])
        for r, i in enumerate(col):
            cards.append((i, float(c), float(r)))
            lines.append([(spine, r + mid), (c + CARD_LEFT, r + mid)])
    return _Block(ncols, per_col, cards, lines, ncols / 2), entries


def _tree(i: int, kids: dict[int, list[int]], style: tuple[int, int] = (3, STACK_ROWS)) -> _Block:
    """The subtree of ``i``: the card on top, its reports below (leaf reports stacked)."""
    children = kids.get(i, [])
    if not children:
        return _Block(1, 1, [(i, 0.0, 0.0)], [], 0.5)
    leaves = [k for k in children if not kids.get(k)]
    units: list[tuple[_Block, list[float], bool]] = []  # (block, bar entries, is a subtree)
    rest = children
    if len(leaves) >= style[0]:
        block, ent = _stack(leaves, style[1])
        units.append((block, ent, False))
        rest = [k for k in children if kids.get(k)]
    for k in rest:
        b = _tree(k, kids, style)
        units.append((b, [b.centre], True))
    cards: list = []
    lines: list = []
    x, h = 0, 0
    drops: list[float] = []
    entries: list[float] = []
    centres: list[float] = []
    for b, ent, is_tree in units:
        c, ln = _shift(b, x, 1)
        cards += c
        lines += ln
        entries += [e + x for e in ent]
        if is_tree:
            drops.append(b.centre + x)
        centres.append(b.centre + x)
        x += b.w
        h = max(h, b.h)
    px = min(max((centres[0] + centres[-1]) / 2 - 0.5, 0.0), x - 1.0)
    centre = px + 0.5
    cards.insert(0, (i, px, 0.0))
    lines.append([(centre, CARD_BOTTOM), (centre, BAR_Y)])
    lo, hi = min(entries + [centre]), max(entries + [centre])
    if hi > lo:
        lines.append([(lo, BAR_Y), (hi, BAR_Y)])
    for d in drops:
        lines.append([(d, BAR_Y), (d, 1 + CARD_TOP)])
    return _Block(x, 1 + h, cards, lines, centre)


@dataclass
class _Grid:
    w: int
    h: int
    cards: list[tuple[int, float, float]]
    lines: list[list[tuple[float, float]]]


def _grid(members: Sequence[int], parent: dict[int, int | None], style: tuple[int, int] = (3, STACK_ROWS)) -> _Grid:
    """Trees of ``members`` (a manager outside them makes a root) on shelves of at most
    MAX_COLS slots: trees first, then the people without reports, in table order."""
    inside = set(members)
    kids: dict[int, list[int]] = {}
    roots: list[int] = []
    for i in members:
        boss = parent.get(i)
        if boss is None or boss not in inside:
            roots.append(i)
        else:
            kids.setdefault(boss, []).append(i)
    roots = [r for r in roots if kids.get(r)] + [r for r in roots if not kids.get(r)]
    cards: list = []
    lines: list = []
    x = y = shelf_h = width = 0
    for r in roots:
        b = _tree(r, kids, style)
        if x and x + b.w > MAX_COLS:
            y += shelf_h
            x = shelf_h = 0
        c, ln = _shift(b, x, y)
        cards += c
        lines += ln
        x += b.w
        shelf_h = max(shelf_h, b.h)
        width = max(width, x)
    return _Grid(width, y + shelf_h, cards, lines)


#: ways to lay a page out, tried in turn: (stack leaf reports from this many on, cards per stack column)
STYLES = ((3, STACK_ROWS), (2, STACK_ROWS), (1, STACK_ROWS), (1, STACK_ROWS + 1), (1, MAX_ROWS - 1))


def _layout(members: Sequence[int], parent: dict[int, int | None]) -> _Grid | None:
    """The first style whose grid fits a page, or None."""
    if len(members) > MAX_CARDS:
        return None
    for style in STYLES:
        g = _grid(members, parent, style)
        if g.w <= MAX_COLS and g.h <= MAX_ROWS:
            return g
    return None


def _fits(members: Sequence[int], parent: dict[int, int | None]) -> bool:
    return _layout(members, parent) is not None


def _split(members: list[int], parent: dict[int, int | None]) -> list[list[int]]:
    """Consecutive runs of ``members`` (in tree pre-order) that each fit a page."""
    out: list[list[int]] = []
    cur: list[int] = []
    for i in members:
        if cur and not _fits(cur + [i], parent):
            out.append(cur)
            cur = []
        cur.append(i)
    if cur:
        out.append(cur)
    return out


def _paginate(people: Sequence[Person], parent: dict[int, int | None],
              lang: str) -> list[tuple[str, list[int]]]:
    """Pages of people: all on one when they fit, else by department (small departments
    share a page), a department too big for a page split along its tree."""
    order = _dfs_order(people, parent)
    if _fits(order, parent):
        return [("", order)]
    depts: dict[str, list[int]] = {}
    for i in order:
        depts.setdefault(people[i].department, []).append(i)
    pages: list[tuple[str, list[int]]] = []
    cur_names: list[str] = []
    cur: list[int] = []

    def close() -> None:
        if cur:
            pages.append((_t("dept", lang, names=_SEP[lang].join(cur_names)), cur))

    for dept, members in depts.items():
        name = dept or _t("no_dept", lang)
        if cur and _fits(cur + members, parent):
            cur += members
            cur_names.append(name)
            continue
        close()
        cur_names, cur = [], []
        if _fits(members, parent):
            cur_names, cur = [name], list(members)
            continue
        parts = _split(members, parent)
        for n, part in enumerate(parts, 1):
            pages.append((_t("dept_part", lang, names=name, n=f"{n}/{len(parts)}"), part))
    close()
    return pages


# -- the flags ----------------------------------------------------------------------------------

def _names(people: Sequence[Person], idx: Iterable[int], lang: str, limit: int = 8) -> str:
    names = [people[i].name for i in idx]
    shown = _SEP[lang].join(names[:limit])
    if len(names) > limit:
        shown += _SEP[lang] + _t("more", lang, n=len(names) - limit)
    return shown


def _flags(spec: Spec, plan: PlanData, people: Sequence[Person], lang: str, today: date,
           stale_days: int) -> list[Flag]:
    from xltools.checking.rules import RuleContext, decision_maker_uncovered
    from xltools.spec.config import Settings

    out: list[Flag] = []
    rows = {r.index: r for r in plan.rows(T.CONTACTS)}
    by_row = {p.row: p for p in people}
    active = [p for p in people if not p.gone]
    for tag, key in (("decision_maker", "no_decision_maker"), ("champion", "no_champion")):
        keys = spec.meaning("role", tag)
        if not any(rows[p.row]["role"] in keys for p in active):
            role = _label(spec, "role", spec.the("role", tag), lang)
            out.append(Flag(key, _t("flag_" + key, lang, role=role)))
    ctx = RuleContext(plan=plan, spec=spec, settings=Settings(), today=today, period=None)
    # the rule's people who are still there (as the roll-up's decision makers at risk)
    uncovered = [by_row[i.row].index for i in decision_maker_uncovered(ctx)
                 if i.row in by_row and not by_row[i.row].gone]
    if uncovered:
        stances = _OR[lang].join(_label(spec, "stance", k, lang) for k in spec.choices("stance").keys()
                                  if k in spec.meaning("stance", "risk"))
        out.append(Flag("uncovered", _t("flag_uncovered", lang, stances=stances,
                                        names=_names(people, uncovered, lang)), tuple(uncovered)))
    limit = today - timedelta(days=stale_days)
    stale = [p.index for p in active if p.last_contact is None or p.last_contact <= limit]
    if stale:
        out.append(Flag("stale", _t("flag_stale", lang, days=stale_days, n=len(stale),
                                    names=_names(people, stale, lang)), tuple(stale)))
    return out


# -- the map ------------------------------------------------------------------------------------

def build_map(spec: Spec, plan: PlanData, lang: str = "ja", *, now: datetime | date | None = None,
              stale_days: int = 90, account: str | None = None, period: str | None = None) -> RelMap:
    """The relationship map of ``plan`` (pure data).  ``now``: the day the flags are
    judged against (default: :func:`xltools.clock.now`); ``stale_days``: a key person
    not met for that long is flagged (``thresholds.contact_stale_days``); ``account``,
    ``period``: the title (default: the plan's own)."""
    today = now if isinstance(now, date) and not isinstance(now, datetime) else clock.today(clock.resolve(now))
    lang = "en" if lang == "en" else "ja"
    people = people_of(spec, plan.rows(T.CONTACTS), lang)
    forest = _forest(people)
    notes: list[str] = []
    if forest.unknown:
        notes.append(_t("note_unknown", lang, names=_names(people, forest.unknown, lang)))
    for cycle in forest.cycles:
        notes.append(_t("note_cycle", lang, names=" → ".join(people[i].name for i in cycle),
                        first=people[min(cycle)].name))
    if len(people) > 1 and not any(p.manager for p in people):
        notes.append(_t("note_no_reports_to", lang))
    if forest.duplicates:
        notes.append(_t("note_duplicate", lang, names=_SEP[lang].join(forest.duplicates)))
    flags = _flags(spec, plan, people, lang, today, stale_days)
    flagged: dict[int, list[str]] = {}
    for f in flags:
        for i in f.people:
            flagged.setdefault(i, []).append(f.key)
    pages: list[Page] = []
    paged = _paginate(people, forest.parent, lang) if people else []
    page_of = {i: n for n, (_s, members) in enumerate(paged) for i in members}
    for n, (subtitle, members) in enumerate(paged):
        g = _layout(members, forest.parent) or _grid(members, forest.parent)
        cards = []
        for i, x, y in g.cards:
            boss = forest.parent.get(i)
            upline = ""
            if boss is not None and page_of.get(boss) != n:
                upline = f"{people[boss].name} (p.{page_of[boss] + 1})"
            cards.append(Card(people[i], x, y, tuple(flagged.get(i, ())), upline))
        pages.append(Page(subtitle, tuple(cards), tuple(tuple(line) for line in g.lines), g.w, g.h))
    legend = tuple((c.label(lang), TONE_COLOURS.get(c.tone or "", PLAIN))
                   for c in spec.choices(_list(spec, "stance")).choices)
    legend += ((_t("legend_gone", lang), GONE),)
    account = _text(account or plan.fields.get("account_name") or plan.meta.get("account_name"))
    period = _text(period or plan.fields.get("period") or plan.meta.get("period"))
    return RelMap(title=_t("title", lang, account=account, period=period).strip(),
                  as_of=_t("as_of", lang, date=today.strftime("%Y/%m/%d")), lang=lang,
                  people=tuple(people), pages=tuple(pages), flags=tuple(flags), notes=tuple(notes),
                  legend=legend)


# -- the picture --------------------------------------------------------------------------------

def font_path() -> str:
    """IPAex Gothic (IPA Font License), shipped inside the ``matplotlib-fontja`` package."""
    import importlib.util
    import os

    found = importlib.util.find_spec("matplotlib_fontja")  # located, not imported (it restyles matplotlib)
    if found is None or not found.submodule_search_locations:
        from xltools.errors import XltoolsError

        raise XltoolsError("the relationship map needs the matplotlib-fontja package (pip install matplotlib-fontja)"
                           " / 関係図には matplotlib-fontja パッケージが必要です")
    return os.path.join(list(found.submodule_search_locations)[0], "fonts", "ipaexg.ttf")


_FONT: list = []


def _width(text: str, size: float) -> float:
    """Width of ``text`` in points at font ``size``, measured on the shipped font."""
    if not _FONT:
        from matplotlib.ft2font import FT2Font

        _FONT.append(FT2Font(font_path()))
    f = _FONT[0]
    f.set_size(size, DPI)  # at the resolution it is drawn in: hinting changes the advances
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from")
        f.set_text(text, 0.0)
    return f.get_width_height()[0] / 64.0 * 72 / DPI


def _fit(text: str, points: float, size: float) -> str:
    """``text``, cut with … to what ``points`` of width hold at font ``size``."""
    if not text or _width(text, size) <= points:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if _width(text[:mid] + "…", size) <= points:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "…"


def _hex(rgb: str) -> str:
    return "#" + rgb


def render_png(m: RelMap, page: int = 0) -> bytes:
    """Page ``page`` of the map as a PNG (FIG_W x FIG_H inches at DPI)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.patches import Rectangle

    font = FontProperties(fname=font_path())
    lang = m.lang
    fig = Figure(figsize=(FIG_W, FIG_H), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, FIG_W * 72)
    ax.set_ylim(FIG_H * 72, 0)  # points, y downwards
    ax.axis("off")
    W, H = FIG_W * 72, FIG_H * 72

    def text(x, y, s, size, colour="#000000", **kw):
        # parse_math off: a "$" in a name is a dollar sign, never TeX
        ax.text(x, y, s, fontproperties=font, fontsize=size, color=colour, va=kw.pop("va", "top"),
                parse_math=False, **kw)

    pg = m.pages[page] if m.pages else None
    head = m.title + ("　" + pg.subtitle if pg and pg.subtitle else "")
    text(14, 10, _fit(head, W - 200, 13), 13)
    right = m.as_of + (("　" + _t("page", lang, n=page + 1, of=len(m.pages))) if len(m.pages) > 1 else "")
    text(W - 14, 12, right, 9, "#404040", ha="right")

    # the bottom band: flags (left), legend (right)
    notes = list(m.notes) if page == 0 else []
    lines_flags = [f.text for f in m.flags] if page == 0 else []
    band_top = H - 118
    area = (14, 34, W - 28, band_top - 42)  # x, y, w, h of the card grid
    if pg is None:
        text(W / 2, H / 2 - 40, _t("placeholder", lang), 12, "#404040", ha="center")
    else:
        _draw_grid(ax, text, pg, area, lang)
    ax.add_patch(Rectangle((14, band_top), W * 0.66 - 14, 104, fill=False, edgecolor="#BFBFBF", lw=0.6))
    y = band_top + 6
    if page == 0:
        text(22, y, _t("flags", lang), 9.5, _hex(FLAG_COLOUR) if lines_flags else "#006100")
        y += 14
        for s in (lines_flags or [_t("no_flags", lang)]):
            text(26, y, _fit("! " + s if lines_flags else s, W * 0.66 - 50, 8), 8,
                 _hex(FLAG_COLOUR) if lines_flags else "#404040")
            y += 12
        room = max(0, BAND_LINES - len(lines_flags or [1]))
        if len(notes) > room:  # the band holds BAND_LINES lines
            notes = notes[:max(0, room - 1)] + [_t("more_notes", lang, n=len(notes) - max(0, room - 1))]
        for s in notes:
            text(26, y, _fit("※ " + s, W * 0.66 - 50, 7.5), 7.5, "#404040")
            y += 11
    else:
        text(22, y, _t("flags", lang) + ": p.1", 9, "#404040")
    lx = W * 0.66 + 8
    ax.add_patch(Rectangle((lx, band_top), W - 14 - lx, 104, fill=False, edgecolor="#BFBFBF", lw=0.6))
    text(lx + 8, band_top + 6, _t("legend", lang), 9.5)
    ly = band_top + 22
    stances, last = m.legend[:-1], m.legend[-1]
    for n, (label, (fill, edge)) in enumerate(stances):
        cx = lx + 10 + (n % 2) * ((W - 14 - lx) / 2)
        cy = ly + (n // 2) * 15
        ax.add_patch(Rectangle((cx, cy), 16, 10, facecolor=_hex(fill), edgecolor=_hex(edge), lw=0.8))
        text(cx + 22, cy - 0.5, _fit(label, (W - 14 - lx) / 2 - 30, 8), 8)
    ly += ((len(stances) + 1) // 2) * 15
    label, (fill, edge) = last
    ax.add_patch(Rectangle((lx + 10, ly), 16, 10, facecolor=_hex(fill), edgecolor=_hex(edge), lw=0.8, ls="--"))
    text(lx + 32, ly - 0.5, _fit(label, W - 14 - lx - 40, 8), 8)
    ly += 17
    text(lx + 10, ly, _t("legend_line", lang), 8, "#404040")
    text(lx + 10, ly + 13, _t("legend_flag", lang), 8, _hex(FLAG_COLOUR))

    buf = io.BytesIO()
    with warnings.catch_warnings():  # a character the font lacks (an emoji) is drawn as a box
        warnings.filterwarnings("ignore", message="Glyph .* missing from")
        fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _draw_grid(ax, text, pg: Page, area, lang: str) -> None:
    from matplotlib.patches import FancyBboxPatch

    ax_x, ax_y, aw, ah = area
    sw = min(aw / max(pg.width, 1), 150.0)
    sh = min(ah / max(pg.height, 1), 78.0)
    x0 = ax_x + (aw - sw * pg.width) / 2

    def pt(x, y):
        return x0 + x * sw, ax_y + y * sh

    for line in pg.lines:
        xs, ys = zip(*(pt(x, y) for x, y in line))
        ax.plot(xs, ys, color="#7F7F7F", lw=0.8, solid_capstyle="butt")
    cw = (CARD_RIGHT - CARD_LEFT) * sw
    ch = (CARD_BOTTOM - CARD_TOP) * sh
    size = min(8.0, (ch - 5) / 6.9, cw / 9.5)
    # a date always fits (0.92: hinting makes small text a little wider than scaled)
    size = max(4.0, min(size, 0.92 * (cw - 6) * 10 / _width(_t("last", lang, v="2026/12/31"), 10.0)))
    for c in pg.cards:
        p = c.person
        fill, edge = c.colours
        left, top = pt(c.x + CARD_LEFT, c.y + CARD_TOP)
        ax.add_patch(FancyBboxPatch((left, top), cw, ch, boxstyle="round,pad=0,rounding_size=3",
                                    facecolor=_hex(fill), edgecolor=_hex(edge),
                                    lw=1.4 if c.flags else 0.8, linestyle="--" if p.gone else "-"))
        ink = "#808080" if p.gone else "#000000"
        pad = 3
        avail = cw - 2 * pad
        status = f"［{p.stance}］" if p.stance and not p.gone else ""
        if p.gone:
            status = f"［{p.status}］"
        tag = _width(status, size * 0.9) + 2 if status else 0
        inline = _width(p.name, size * 1.25) + tag <= avail  # else the stance leads the role line
        text(left + pad, top + 2.5, _fit(p.name, avail - (tag if inline else 0), size * 1.25), size * 1.25, ink)
        if status and inline:
            text(left + cw - pad, top + 3, status, size * 0.9, _hex(edge) if not p.gone else ink, ha="right")
        first = [status.strip("［］")] if status and not inline else []
        rows = [" ".join(v for v in (p.title, p.department) if v),
                "・".join(v for v in first + [p.role, _t("influence", lang, v=p.influence) if p.influence else ""]
                         if v),
                _t("owner", lang, v=p.owner) if p.owner else "",
                _t("last", lang, v=p.last_contact.strftime("%Y/%m/%d") if p.last_contact else _t("never", lang))]
        y = top + 2.5 + size * 1.25 * 1.35
        for n, s in enumerate(rows):
            colour = _hex(FLAG_COLOUR) if (n == 3 and "stale" in c.flags) else ink
            if s:
                text(left + pad, y, _fit(s, avail, size), size, colour)
            y += size * 1.22
        if c.flags:  # in the gap right of the card
            text(left + cw + 0.5, top + ch / 2, "!", size * 1.6, _hex(FLAG_COLOUR), va="center")
        if c.upline:
            text(left, top - 1, _fit(_t("upline", lang, v=c.upline), cw, size * 0.85), size * 0.85, "#404040",
                 va="bottom")


# -- the workbook -------------------------------------------------------------------------------

def remove_from_workbook(wb) -> int | None:
    """Delete the map sheet (either language) of ``wb``; its position, or None."""
    at = None
    for name in SHEET.all():
        if name in wb.sheetnames:
            at = wb.sheetnames.index(name)
            del wb[name]
    return at


def render_relmap_png(spec: Spec, plan: PlanData, lang: str = "ja", now: datetime | date | None = None, *,
                      settings=None) -> list[bytes]:
    """Every page of the relationship map of ``plan`` as PNG bytes (``xltools live map``
    puts them into the workbook open in Excel); no named contact: no page."""
    stale = settings.thresholds.contact_stale_days if settings is not None else 90
    m = build_map(spec, plan, lang, now=now, stale_days=stale)
    return [render_png(m, n) for n in range(len(m.pages))]


def add_to_workbook(wb, spec: Spec, plan: PlanData, lang: str = "ja", now: datetime | date | None = None, *,
                    settings=None, account: str | None = None, period: str | None = None) -> RelMap:
    """Draw the relationship map of ``plan`` onto the sheet 関係図 / Relationship map of
    the openpyxl workbook ``wb``, right after the sheet holding the Contacts table (an
    older map sheet is replaced), one picture per printed A4 landscape page.  A plan
    without any named contact gets no map sheet (and loses an old one).  Returns the map."""
    from openpyxl.drawing.image import Image
    from openpyxl.worksheet.pagebreak import Break, RowBreak

    from xltools.workbook.printing import page_setup

    stale = settings.thresholds.contact_stale_days if settings is not None else 90
    m = build_map(spec, plan, lang, now=now, stale_days=stale, account=account, period=period)
    old = remove_from_workbook(wb)
    if not m.pages:
        return m
    at = next((n + 1 for n, ws in enumerate(wb.worksheets) if T.CONTACTS in ws.tables), old)
    ws = wb.create_sheet(SHEET(m.lang), at)
    ws.column_dimensions["A"].width = COLUMN_WIDTH
    last = len(m.pages) * ROWS_PER_PICTURE
    for r in range(1, last + 1):
        ws.row_dimensions[r].height = ROW_POINTS
    ws.row_breaks = RowBreak()
    for n in range(len(m.pages)):
        img = Image(io.BytesIO(render_png(m, n)))
        img.width, img.height = PX_W, PX_H
        ws.add_image(img, f"A{1 + n * ROWS_PER_PICTURE}")
        if n:
            ws.row_breaks.append(Break(id=n * ROWS_PER_PICTURE))
    page_setup(ws, lang=m.lang, account=_text(account or plan.fields.get("account_name")
                                              or plan.meta.get("account_name")),
               period=_text(period or plan.fields.get("period") or plan.meta.get("period")))
    # not centred: LibreOffice centres the cell range, narrower there than the picture
    ws.print_options.horizontalCentered = False
    ws.print_area = f"A1:A{last}"
    ws.protection.sheet = True
    return m
