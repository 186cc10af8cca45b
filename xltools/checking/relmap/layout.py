"""The relationship map's layout: the reports-to forest (cycles cut), the cards of one page
in grid slots, and the split into pages that fit A4 landscape."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from xltools.checking.relmap.model import (
    _SEP,
    BAR_Y,
    CARD_BOTTOM,
    CARD_LEFT,
    CARD_TOP,
    MAX_CARDS,
    MAX_COLS,
    MAX_ROWS,
    STACK_ROWS,
    Person,
    _t,
)
from xltools.checking.validate import name_key

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


def _shift(b: _Block, dx: float, dy: float) -> tuple[list[tuple[int, float, float]], list[list[tuple[float, float]]]]:
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
    cards: list[tuple[int, float, float]] = []
    lines: list[list[tuple[float, float]]] = []
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
    cards: list[tuple[int, float, float]] = []
    lines: list[list[tuple[float, float]]] = []
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
