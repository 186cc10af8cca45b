"""Every computed figure of a plan, computed exactly as the workbook's formulas do.

The spec gives each formula field and column a ``definition`` (ja/en) and a ``formula``;
this module is the Python side of the same definitions, and
``tests/test_one_truth.py`` recalculates filled workbooks in LibreOffice to prove that
the two agree to the yen.  ``xltools check``, collect (the stored ``plan_versions``
columns), the exports and every report use these figures; nothing recomputes them.

* **Target period** = ``target_period`` when filled, else the plan's ``period``;
  ``target_start`` / ``target_end`` are its first and last day.
* **In-period pipeline** (``period_pipeline``) = Σ amount of opportunities whose
  ``expected_close`` lies in the target period and whose stage does not mean *lost*.
* **Coverage** = in-period pipeline ÷ ``sales_target``; the verdict compares it with the
  settings' thresholds.  ``outside_period_total`` is the rest of the live pipeline.
* **Weighted amount** of a row = amount × probability / 100, where a blank probability is
  the stage's default (validate fills it in) and *lost* counts 0; ``weighted_total`` sums
  every row, ``period_weighted`` the rows closing in the target period.
* Quarter breakdown ``close_q1`` .. ``close_q8``: live amounts per fiscal quarter, from Q1
  of the plan's fiscal year through Q4 of the next; ``close_other`` the rest.
* LTV, growth rate (against the row directly above), KPI achievement, selection score
  (weighted mean over the scored criteria) and tier; ``ltv_total`` the LTV of every
  opportunity not lost.
* The **whitespace map** (:func:`whitespace`): customer department × our solution ->
  won / in progress / lost / none, from the stages' meanings.
* What the summary sheet lists (:func:`top_opportunities`, :func:`key_persons`,
  :func:`executive_pairings`, :func:`upcoming_activities`, :func:`open_asks`): which
  rows, in which order; the sheet's helper formulas rank the rows the same way (ties keep
  the table's order).

Amounts are whole yen: sums are taken exactly and rounded half up once (as a
spreadsheet's ROUND does), never with Python's round-half-to-even.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Iterable

from xltools.spec.config import Settings
from xltools.spec.contract import T
from xltools.spec.model import Row
from xltools.spec.periods import Period, PeriodError, fiscal_quarter_of, parse_period
from xltools.spec.spec import Spec

#: quarters in the breakdown: this fiscal year and the next
BREAKDOWN_QUARTERS = 8


def round_yen(value: Any) -> int:
    """Half up to a whole yen (2.5 -> 3, -2.5 -> -3), exactly for decimal input."""
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    return int(d.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def day(value: Any) -> date | None:
    """A date value (a datetime counts by its date), else None."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def _period(value: Any, start_month: int) -> Period | None:
    if value in (None, ""):
        return None
    try:
        return parse_period(str(value), start_month)
    except PeriodError:
        return None


def target_period(fields: dict[str, Any], plan_period: Any, start_month: int) -> Period | None:
    """``target_period`` when filled (and readable), else the plan period."""
    return _period(fields.get("target_period"), start_month) or _period(plan_period, start_month)


def breakdown_quarters(plan_period: Period) -> list[Period]:
    """The eight quarters of ``close_q1`` .. ``close_q8``: the plan's fiscal year and the next."""
    fy, m = plan_period.fiscal_year, plan_period.start_month
    return [Period(fy + i // 4, i % 4 + 1, m) for i in range(BREAKDOWN_QUARTERS)]


def in_period(row: Row, period: Period | None) -> bool:
    d = day(row["expected_close"])
    return period is not None and d is not None and period.start <= d < period.end


class Deriver:
    """The figures of one plan (``spec`` with the company's settings applied)."""

    def __init__(self, spec: Spec, settings: Settings):
        self.spec, self.settings = spec, settings
        self.start_month = settings.fiscal_year_start_month
        self.lost = spec.the("stage", "lost")
        self.recurring = spec.the("recurring", "recurring")
        self.verdicts = {tag: spec.the("verdict", tag) for tag in ("below", "within", "above")}

    # -- rows ------------------------------------------------------------------------------
    def weighted(self, row: Row) -> Decimal | None:
        """amount × probability / 100 (exact); lost counts 0; no amount: None."""
        amount, prob = row["amount"], row["probability"]
        if not _is_number(amount):
            return None
        if row["stage"] == self.lost or not _is_number(prob):
            return Decimal(0)
        return Decimal(str(amount)) * Decimal(str(prob)) / 100

    def ltv(self, row: Row) -> int | None:
        amount = row["amount"]
        if not _is_number(amount) or amount == 0:
            return None
        if row["recurring"] != self.recurring:
            one_off: int = amount
            return one_off
        years = row["contract_years"] if _is_number(row["contract_years"]) else 0
        return round_yen(Decimal(str(amount)) * max(Decimal(1), Decimal(str(years))))

    @staticmethod
    def growth_rates(rows: list[Row]) -> None:
        """Revenue ÷ the revenue of the worksheet row directly above − 1."""
        by_row = {r.row: r["revenue"] for r in rows}
        for r in rows:
            rev, prev = r["revenue"], by_row.get(r.row - 1)
            r.values["growth_rate"] = rev / prev - 1 if _nonzero(rev) and _nonzero(prev) else None

    @staticmethod
    def achievements(rows: list[Row]) -> None:
        for r in rows:
            target, actual = r["target"], r["actual"]
            r.values["achievement"] = ((actual if _is_number(actual) else 0) / target
                                       if _nonzero(target) else None)

    # -- the plan --------------------------------------------------------------------------
    def verdict(self, ratio: float | None) -> str | None:
        if ratio is None:
            return None
        th = self.settings.thresholds
        if ratio < th.coverage_low:
            return self.verdicts["below"]
        if ratio > th.coverage_high:
            return self.verdicts["above"]
        return self.verdicts["within"]

    def plan(self, fields: dict[str, Any], tables: dict[str, list[Row]], plan_period: Any) -> dict[str, Any]:
        """Plan-level figures (``derived``); row figures are written into the rows."""
        opps = tables.get(T.OPPORTUNITIES, [])
        weights = {}
        for r in opps:
            w = self.weighted(r)
            weights[id(r)] = w
            r.values["weighted"] = None if w is None else round_yen(w)
            r.values["ltv"] = self.ltv(r)
        self.growth_rates(tables.get(T.FINANCIALS, []))
        self.achievements(tables.get(T.KPIS, []))

        d: dict[str, Any] = {}
        live = [r for r in opps if r["stage"] != self.lost and _is_number(r["amount"])]
        d["plan_total"] = sum(r["amount"] for r in live)
        d["weighted_total"] = round_yen(sum((w for w in weights.values() if w is not None), Decimal(0)))
        d["ltv_total"] = sum(r["ltv"] for r in live if _is_number(r["ltv"]))
        tp = target_period(fields, plan_period, self.start_month)
        d["target_applied"] = str(tp) if tp else None
        d["target_start"] = tp.start if tp else None
        d["target_end"] = tp.end - timedelta(days=1) if tp else None
        target: Any = fields.get("sales_target")  # compared only once _nonzero says it is a number
        if tp is None:
            d.update(period_pipeline=None, period_weighted=None, outside_period_total=None, coverage_ratio=None)
        else:
            inside = [r for r in live if in_period(r, tp)]
            d["period_pipeline"] = sum(r["amount"] for r in inside)
            d["period_weighted"] = round_yen(sum((wt for r in opps
                                                  if in_period(r, tp) and (wt := weights[id(r)]) is not None),
                                                 Decimal(0)))
            d["outside_period_total"] = d["plan_total"] - d["period_pipeline"]
            d["coverage_ratio"] = d["period_pipeline"] / target if _nonzero(target) and target > 0 else None
        d["coverage_verdict"] = self.verdict(d["coverage_ratio"])

        quarters: dict[str, int] = {}
        for r in live:
            if (when := day(r["expected_close"])) is not None:
                q = str(fiscal_quarter_of(when, self.start_month))
                quarters[q] = quarters.get(q, 0) + r["amount"]
        d["close_quarters"] = dict(sorted(quarters.items()))
        pp = _period(plan_period, self.start_month)
        window = breakdown_quarters(pp) if pp else []
        for f in self.spec.fields:
            if f.quarter:
                d[f.key] = quarters.get(str(window[f.quarter - 1]), 0) if window else None
        in_window = sum(quarters.get(str(q), 0) for q in window)
        d["close_other"] = d["plan_total"] - in_window if window else None
        d.update(self.selection(tables.get(T.SELECTION, [])))
        return d

    def selection(self, rows: Iterable[Row]) -> dict[str, Any]:
        """Σ weight × score ÷ Σ weight of the scored criteria; tier by the thresholds."""
        num = den = 0.0
        for r in rows:
            weight, score = r["weight"], r["score"]
            if not _is_number(weight):
                continue
            if _is_number(score):
                num += weight * score
                if score > 0:
                    den += weight
        score = num / den if den else None
        th = self.settings.thresholds
        tier = None if score is None else "A" if score >= th.tier_a else "B" if score >= th.tier_b else "C"
        return {"selection_score": score, "tier": tier}


# -- the whitespace map ------------------------------------------------------------------------

def _fold(text: Any) -> str:
    """How the workbook's ``=`` compares texts: case-insensitively."""
    return str(text).casefold()


def departments(*tables: Iterable[Row], column: str = "department") -> list[str]:
    """The distinct non-blank departments of the rows, in order of first appearance (the
    first spelling of each; texts that differ only in case are one department)."""
    seen: dict[str, str] = {}
    for rows in tables:
        for r in rows:
            d = r.get(column)
            if d not in (None, "") and _fold(d) not in seen:
                seen[_fold(d)] = str(d)
    return list(seen.values())


def whitespace(rows: Iterable[Row], spec: Spec, departments_: Iterable[str] | None = None,
               solutions: Iterable[str] | None = None) -> dict[tuple[str, str], str]:
    """The whitespace map of one account: ``{(department, solution): status}``.

    ``rows`` are Opportunities rows (``department``, ``solution``, ``stage`` as PlanData
    holds them: choice keys, or the typed text of an ``open`` list).  ``departments_``
    defaults to the rows' distinct departments (:func:`departments`), ``solutions`` to the
    keys of the spec's ``solution`` list (the company's list once the settings are
    applied); every pair gets a status, a key of the spec's ``whitespace`` list:

    * *won* (``means: [won]``) when an opportunity of that department and solution has a
      stage that means won;
    * else *in progress* (``means: [open]``) when one has a stage that is not closed
      (a blank stage counts as in progress);
    * else *lost* (``means: [lost]``) when one has a stage that means lost;
    * else *none* (``means: [none]``): the whitespace, nothing proposed yet.

    Departments compare as the workbook does (case-insensitively); a department not in
    ``departments_`` and a solution not in ``solutions`` are left out.  The generated
    whitespace sheet computes the same statuses with SUMPRODUCT over the Opportunities
    table; a roll-up across accounts merges these maps.
    """
    rows = list(rows)
    depts = list(departments_) if departments_ is not None else departments(rows)
    sols = list(solutions) if solutions is not None else spec.choices("solution").keys()
    won, lost = spec.meaning("stage", "won"), spec.meaning("stage", "lost")
    closed = spec.meaning("stage", "closed")
    status = {tag: spec.the("whitespace", tag) for tag in ("won", "open", "lost", "none")}
    seen: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        d, sol = r.get("department"), r.get("solution")
        if d in (None, "") or sol in (None, ""):
            continue
        stage = r.get("stage")
        kind = "won" if stage in won else "lost" if stage in lost else "closed" if stage in closed else "open"
        seen.setdefault((_fold(d), str(sol)), set()).add(kind)
    out = {}
    for d in depts:
        for sol in sols:
            kinds = seen.get((_fold(d), sol), set())
            tag = next((t for t in ("won", "open", "lost") if t in kinds), "none")
            out[(d, sol)] = status[tag]
    return out


# -- what the summary sheet lists -------------------------------------------------------------

def _ranked(rows: Iterable[Row], key: Callable[[Row], Any], n: int | None) -> list[Row]:
    """The rows with a key (``key(row)`` not None), smallest key first, ties in table order."""
    keyed = [(k, i, r) for i, r in enumerate(rows) if (k := key(r)) is not None]
    keyed.sort(key=lambda t: (t[0], t[1]))
    return [r for _k, _i, r in keyed][:n]


def top_opportunities(rows: Iterable[Row], spec: Spec, period: Period | None, n: int = 5) -> list[Row]:
    """The ``n`` largest opportunities by amount whose expected close lies in ``period``
    (the target period) and whose stage does not mean lost; ties in table order."""
    lost = spec.meaning("stage", "lost")
    return _ranked(rows, lambda r: -r["amount"] if (_is_number(r.get("amount")) and r.get("stage") not in lost
                                                    and in_period(r, period)) else None, n)


def key_persons(rows: Iterable[Row], spec: Spec, n: int = 8) -> list[Row]:
    """Contacts still in post (status not gone), decision makers and champions first,
    then by influence (the order of the ``level`` list, blank last); ties in table order."""
    gone = spec.meaning("employment", "gone")
    key_roles = spec.meaning("role", "decision_maker") | spec.meaning("role", "champion")
    levels = spec.choices("level").keys()

    def key(r: Row) -> int | None:
        if r.get("name") in (None, "") or r.get("status") in gone:
            return None
        level = levels.index(r["influence"]) + 1 if r.get("influence") in levels else len(levels) + 1
        return (0 if r.get("role") in key_roles else 10) + level
    return _ranked(rows, key, n)


def executive_pairings(rows: Iterable[Row], spec: Spec, n: int = 5) -> list[Row]:
    """Activities with one of our executives that are not closed (done or cancelled), by
    planned date (a blank date last); ties in table order."""
    closed = spec.meaning("activity_status", "closed")

    def key(r: Row) -> int | None:
        if r.get("executive") in (None, "") or r.get("status") in closed:
            return None
        d = day(r.get("planned_date"))
        return d.toordinal() if d else date.max.toordinal()
    return _ranked(rows, key, n)


def upcoming_activities(rows: Iterable[Row], spec: Spec, today: date, days: int = 90,
                        n: int = 8) -> list[Row]:
    """Activities not closed planned from ``today`` through ``today + days``, by date."""
    closed = spec.meaning("activity_status", "closed")
    end = today + timedelta(days=days)

    def key(r: Row) -> int | None:
        d = day(r.get("planned_date"))
        if d is None or r.get("status") in closed or not today <= d <= end:
            return None
        return d.toordinal()
    return _ranked(rows, key, n)


def open_asks(rows: Iterable[Row], spec: Spec, n: int = 5) -> list[Row]:
    """Asks to management whose status is not closed, by due date (blank last)."""
    closed = spec.meaning("ask_status", "closed")

    def key(r: Row) -> int | None:
        if r.get("ask") in (None, "") or r.get("status") in closed:
            return None
        d = day(r.get("due"))
        return d.toordinal() if d else date.max.toordinal()
    return _ranked(rows, key, n)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)


def _nonzero(v: Any) -> bool:
    return _is_number(v) and v != 0
