"""ホワイトスペース / Whitespace across accounts: where our solutions are sold, being sold
or not yet proposed, counted from the stored opportunities with the plan's own rule.

An account's status for a solution is :func:`xltools.spec.derive.whitespace` over all its
opportunities with the department set aside (one row of the plan's map per account): won
if any opportunity of that solution is won, else in progress if one is open, else lost if
one is lost, else none -- the statuses and their meaning are the spec's ``whitespace``
list.  Two sheets:

* ``WhitespaceByIndustry``: per industry, for each solution, how many accounts have it won,
  in progress, lost and not proposed (the whitespace to work on);
* ``WhitespaceByAccount``: every current plan, one column per solution, the status label
  coloured by its tone.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from xltools.checking.validate import name_key
from xltools.reports.rollup.book import _Book
from xltools.reports.rollup.common import INT_FORMAT, Col, _text
from xltools.reports.rollup.data import RollupData
from xltools.spec.contract import T
from xltools.spec.derive import whitespace
from xltools.spec.model import Row
from xltools.spec.spec import Label

WS_TEXTS: dict[str, Label] = {
    "by_industry": Label("業種別のホワイトスペース（顧客数：受注 / 商談中 / 失注 / 未提案）",
                         "Whitespace by industry (accounts: won / in progress / lost / not proposed)"),
    "by_account": Label("顧客別のホワイトスペース（当社ソリューション別の状況）",
                        "Whitespace by account (status per solution)"),
    "solution": Label("ソリューション", "Solution"),
    "accounts": Label("顧客数", "Accounts"),
    "no_industry": Label("業種なし", "No industry"),
}
ALL = "*"  # the one "department" of an account-level map


def _t(b: _Book, key: str) -> str:
    return WS_TEXTS[key](b.lang)


def account_statuses(rows: Any, spec, solutions: list[str]) -> dict[str, dict[str, str]]:
    """plan_id -> {solution: whitespace status key} for the given opportunity records
    (one pass; a plan's map depends only on which solution and stage pairs it has)."""
    by_plan: dict[str, set[tuple[Any, Any]]] = defaultdict(set)
    for r in rows:
        by_plan[r.get("plan_id")].add((r.get("solution"), r.get("stage")))
    return statuses_of(by_plan, spec, solutions)


def statuses_of(by_plan: dict[Any, set[tuple[Any, Any]]], spec, solutions: list[str]) -> dict[Any, dict[str, str]]:
    """plan_id -> {solution: whitespace status key} from each plan's (solution, stage) pairs."""
    return {pid: {sol: status for (_, sol), status in whitespace(
                [Row(values={"department": ALL, "solution": sol, "stage": stage}, sheet="", row=0, index=0)
                 for sol, stage in sorted(pairs, key=repr)], spec, [ALL], solutions).items()}
            for pid, pairs in by_plan.items()}


def whitespace_sheets(b: _Book, data: RollupData, pairs: dict[Any, set[tuple[Any, Any]]] | None = None) -> None:
    """The whitespace sheets; ``pairs``: each plan's (solution, stage) pairs when already
    read (:func:`xltools.reports.rollup.figures.opportunity_figures`), else read here."""
    spec = b.spec
    solutions = spec.choices("solution").keys()
    statuses = spec.choices("whitespace").choices
    none = spec.the("whitespace", "none")
    per_plan = (statuses_of(pairs, spec, solutions) if pairs is not None
                else account_statuses(data.rows[T.OPPORTUNITIES], spec, solutions))
    plans = sorted(data.versions, key=lambda v: (name_key(v.get("industry") or ""),
                                                 name_key(v.get("account_name") or "")))
    sol_label = {c.key: c.label for c in spec.choices("solution").choices}
    industry = spec.field("industry")

    def industry_label(key: Any) -> str:
        if key is None:
            return _t(b, "no_industry")
        return b.cols.choice_label(industry.choices, key) if industry.choices else str(key)

    # by industry: one row per (industry, solution), a column per status
    counts: dict[tuple[Any, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for v in plans:
        got = per_plan.get(v.get("plan_id"), {})
        for sol in solutions:
            counts[(v.get("industry"), sol)][got.get(sol, none)] += 1
    records = [{"industry": industry_label(ind), "solution": sol_label[sol](b.lang),
                "_total": sum(c.values()), **{s.key: c.get(s.key, 0) for s in statuses}}
               for (ind, sol), c in counts.items()]
    ws = b.sheet("whitespace")
    cols = [Col(industry.label, _text("industry")), Col(WS_TEXTS["solution"], _text("solution"))]
    cols += [Col(s.label, _text(s.key), INT_FORMAT,
                 tone=(lambda r, k=s.key, tone=s.tone: tone if r.get(k) else None)) for s in statuses]
    cols.append(Col(WS_TEXTS["accounts"], _text("_total"), INT_FORMAT))
    _, row = b.table(ws, "WhitespaceByIndustry", _t(b, "by_industry"), cols, records, 1)

    # by account: the status of every solution
    acc = []
    for v in plans:
        got = per_plan.get(v.get("plan_id"), {})
        acc.append({"rep": v.get("rep"), "account_name": v.get("account_name"),
                    "industry_label": industry_label(v.get("industry")),
                    **{f"ws_{sol}": got.get(sol, none) for sol in solutions}})

    def status_col(sol: str) -> Col:
        return Col(sol_label[sol], lambda r: b.cols.choice_label("whitespace", r[f"ws_{sol}"]),
                   tone=lambda r: b.cols.choice_tone("whitespace", r[f"ws_{sol}"]))

    acols = b.cols.context("rep", "account_name") + [Col(industry.label, _text("industry_label"))]
    acols += [status_col(sol) for sol in solutions]
    b.table(ws, "WhitespaceByAccount", _t(b, "by_account"), acols, acc, row)
    b.freeze(ws, 3)
