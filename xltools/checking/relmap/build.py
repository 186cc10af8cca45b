"""The relationship map as pure data: :func:`build_map` (people, pages, the plan's flags)."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Iterable, Sequence

from xltools import clock
from xltools.checking.relmap.layout import _forest, _grid, _layout, _paginate
from xltools.checking.relmap.model import (
    _OR,
    _SEP,
    GONE,
    PLAIN,
    Card,
    Flag,
    Page,
    Person,
    RelMap,
    _label,
    _list,
    _t,
    _text,
    people_of,
)
from xltools.spec.contract import T
from xltools.spec.model import PlanData
from xltools.spec.spec import Spec
from xltools.workbook.generate import TONES as TONE_COLOURS  # (fill, ink) per tone, as the cells show them

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
