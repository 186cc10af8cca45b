"""Business rules on a validated plan (:class:`~xltools.spec.model.PlanData`).

Each rule is a small function registered with :func:`rule` together with the one
issue code it emits; :data:`RULES` is the ordered registry and :func:`run_rules`
runs them all.  Thresholds come from ``settings.thresholds``; ``today`` is
injectable so tests are independent of the calendar.

Positions: a row rule points at the cell of the offending column in that row; a
plan-level rule points at the cell of the relevant field (coverage -> the
``coverage_ratio`` cell, falling back to ``sales_target``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from xltools import clock
from xltools.checking.validate import name_key, plan_period
from xltools.errors import SpecRulesTableError, WinRateError
from xltools.messages import Bilingual
from xltools.spec.config import Settings, Thresholds
from xltools.spec.contract import T
from xltools.spec.derive import day as _day
from xltools.spec.issues import ISSUE_TYPES, Issue
from xltools.spec.model import PlanData, Row
from xltools.spec.periods import Period
from xltools.spec.spec import Spec


@dataclass(frozen=True)
class RuleContext:
    plan: PlanData
    spec: Spec
    settings: Settings
    today: date
    period: Period | None  # the plan period
    win_rate: float | None = None

    @property
    def th(self) -> Thresholds:
        return self.settings.thresholds

    def rows(self, table: str) -> list[Row]:
        """The plan's rows of ``table``; a table the spec does not have is an error, not []."""
        try:
            self.spec.table(table)
        except KeyError:
            raise SpecRulesTableError(table=table) from None
        return self.plan.rows(table)

    def choice_label(self, list_name: str, key: str | None) -> Bilingual | str:
        """A bilingual message parameter for a choice key."""
        if key is None:
            return ""
        try:
            lab = self.spec.choices(list_name).get(key).label
        except KeyError:
            return str(key)
        return {"ja": lab.ja, "en": lab.en}


@dataclass(frozen=True)
class RuleDef:
    code: str
    check: Callable[[RuleContext], Iterable[Issue]]

    @property
    def name(self) -> str:
        return self.check.__name__


#: every business rule, in the order they run
RULES: list[RuleDef] = []

_Check = TypeVar("_Check", bound=Callable[[RuleContext], Iterable[Issue]])


def rule(code: str) -> Callable[[_Check], _Check]:
    """Register a rule function that emits issues with ``code``."""
    if code not in ISSUE_TYPES:
        raise ValueError(f"rule code {code!r} is not registered in xltools.spec.issues")

    def deco(fn: _Check) -> _Check:
        RULES.append(RuleDef(code, fn))
        return fn

    return deco


def run_rules(plan: PlanData, spec: Spec, settings: Settings, *, today: date | None = None,
              win_rate: float | None = None) -> list[Issue]:
    """Every rule's issues for ``plan`` (``win_rate``: historical, 0 < rate <= 1)."""
    if win_rate is not None and not (0 < win_rate <= 1):
        raise WinRateError(value=win_rate)
    today = today if today is not None else clock.today(clock.now())
    ctx = RuleContext(plan=plan, spec=spec, settings=settings, today=today,
                      period=plan_period(plan, settings.fiscal_year_start_month), win_rate=win_rate)
    out: list[Issue] = []
    for r in RULES:
        for iss in r.check(ctx):
            if iss.code != r.code:  # a rule emits exactly its registered code
                raise AssertionError(f"rule {r.name} emitted {iss.code}, registered {r.code}")
            iss.file = iss.file or plan.file
            out.append(iss)
    return out


# -- positions -------------------------------------------------------------------------

def row_issue(code: str, table: str, row: Row, column: str, raw: Any = None,
              **params: Any) -> Issue:
    """An issue on the ``column`` cell of a table row."""
    cell = row.cells.get(column) or next(iter(row.cells.values()), None)
    return Issue(code, sheet=row.sheet, cell=cell, field=column, raw=raw, params=params,
                 table=table, row=row.index)


def field_issue(code: str, plan: PlanData, keys: tuple[str, ...], raw: Any = None,
                **params: Any) -> Issue:
    """An issue on the first of ``keys`` whose cell is known (plan-level rules)."""
    for key in keys:
        if key in plan.field_cells:
            sheet, cell = plan.field_cells[key]
            return Issue(code, sheet=sheet, cell=cell, field=key, raw=raw, params=params)
    return Issue(code, field=keys[0], raw=raw, params=params)


def _num(v: float, rounding: str = ROUND_HALF_UP) -> str:
    """Two decimals at most; ``ROUND_FLOOR`` / ``ROUND_CEILING`` keep a ratio shown below or
    above its threshold on its own side (2.9997 is "2.99", never "3", below 3)."""
    text = f"{Decimal(str(v)).quantize(Decimal('0.01'), rounding=rounding):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _yen(n: int | float) -> Bilingual:
    n = int(round(n))
    return {"ja": f"{n:,}円", "en": f"JPY {n:,}"}


def _iso(d: date) -> str:
    return d.isoformat()


# -- coverage and target ---------------------------------------------------------------
_COVERAGE_CELLS = ("coverage_ratio", "sales_target")


@rule("W-COVERAGE-LOW")
def coverage_low(ctx: RuleContext) -> Iterator[Issue]:
    ratio = ctx.plan.derived.get("coverage_ratio")
    if ratio is not None and ratio < ctx.th.coverage_low:
        yield field_issue("W-COVERAGE-LOW", ctx.plan, _COVERAGE_CELLS, raw=round(ratio, 2),
                          value=_num(ratio, ROUND_FLOOR), detail=_num(ctx.th.coverage_low))


@rule("I-COVERAGE-HIGH")
def coverage_high(ctx: RuleContext) -> Iterator[Issue]:
    ratio = ctx.plan.derived.get("coverage_ratio")
    if ratio is not None and ratio > ctx.th.coverage_high:
        yield field_issue("I-COVERAGE-HIGH", ctx.plan, _COVERAGE_CELLS, raw=round(ratio, 2),
                          value=_num(ratio, ROUND_CEILING), detail=_num(ctx.th.coverage_high))


@rule("W-TARGET-UNREACHABLE")
def target_unreachable(ctx: RuleContext) -> Iterator[Issue]:
    """The weighted forecast of the target period (``period_weighted``) below the target."""
    target = ctx.plan.fields.get("sales_target")
    weighted = ctx.plan.derived.get("period_weighted")
    if not target or weighted is None:
        return
    if weighted < target:
        yield field_issue("W-TARGET-UNREACHABLE", ctx.plan, ("sales_target",), raw=weighted,
                          value=_yen(weighted), detail=_yen(target),
                          period=str(ctx.plan.derived.get("target_applied")))


@rule("W-WIN-RATE-COVERAGE")
def win_rate_coverage(ctx: RuleContext) -> Iterator[Issue]:
    ratio = ctx.plan.derived.get("coverage_ratio")
    if ctx.win_rate is None or ratio is None:
        return
    needed = 1 / ctx.win_rate
    if ratio < needed:
        yield field_issue("W-WIN-RATE-COVERAGE", ctx.plan, _COVERAGE_CELLS, raw=round(ratio, 2),
                          value=_num(needed), detail=f"{_num(ctx.win_rate * 100)}%")


# -- relationship map ------------------------------------------------------------------

@rule("W-DECISION-MAKER-UNCOVERED")
def decision_maker_uncovered(ctx: RuleContext) -> Iterator[Issue]:
    cancelled = ctx.spec.the("activity_status", "cancelled")
    deciders = ctx.spec.meaning("role", "decision_maker")
    risky = ctx.spec.meaning("stance", "risk")
    gone = ctx.spec.meaning("employment", "gone")  # transferred or left: not on the map, no one to meet
    covered = {name_key(a["contact"]) for a in ctx.rows(T.ACTIVITIES)
               if a["contact"] and (d := _day(a["planned_date"])) is not None and d >= ctx.today
               and a["status"] != cancelled}
    for c in ctx.rows(T.CONTACTS):
        if (c["role"] in deciders and c["stance"] in risky and c["name"] and c.get("status") not in gone
                and name_key(c["name"]) not in covered):
            yield row_issue("W-DECISION-MAKER-UNCOVERED", T.CONTACTS, c, "name", raw=c["name"],
                            detail=ctx.choice_label("stance", c["stance"]))


@rule("W-ORG-STALE")
def org_stale(ctx: RuleContext) -> Iterator[Issue]:
    updated = _day(ctx.plan.fields.get("org_updated"))
    days = ctx.th.org_stale_days
    if updated is not None and updated < ctx.today - timedelta(days=days):
        yield field_issue("W-ORG-STALE", ctx.plan, ("org_updated",), raw=_iso(updated), detail=days)


@rule("W-SINGLE-THREADED")
def single_threaded(ctx: RuleContext) -> Iterator[Issue]:
    contacts = [c for c in ctx.rows(T.CONTACTS) if c["name"]]
    for column in ("our_owner", "department"):
        filled = [c for c in contacts if c[column]]
        values = {name_key(c[column]): c[column] for c in filled}
        if len(filled) >= 2 and len(values) == 1:
            (only,) = values.values()
            yield row_issue("W-SINGLE-THREADED", T.CONTACTS, filled[0], column, raw=only, detail=only)


# -- activities, opportunities, initiatives, reviews -----------------------------------

@rule("W-APPOINTMENT-LATE")
def appointment_late(ctx: RuleContext) -> Iterator[Issue]:
    days = ctx.th.appointment_lead_days
    horizon = ctx.today + timedelta(days=days)
    not_requested = ctx.spec.the("appointment", "not_requested")
    open_status = ctx.spec.meaning("activity_status", "open") | {None}
    for a in ctx.rows(T.ACTIVITIES):
        d = _day(a["planned_date"])
        if (d is not None and ctx.today <= d <= horizon and a["appointment"] == not_requested
                and a["status"] in open_status):
            yield row_issue("W-APPOINTMENT-LATE", T.ACTIVITIES, a, "appointment", raw=_iso(d), detail=days)


def _past_due(ctx: RuleContext, code: str, table: str, date_key: str, status_key: str) -> Iterator[Issue]:
    """Rows of ``table`` whose ``date_key`` is before today while their ``status_key`` (a
    choice list of the same name) is not one the spec tags ``closed``."""
    closed = ctx.spec.meaning(status_key, "closed")
    for r in ctx.rows(table):
        d = _day(r[date_key])
        if d is not None and d < ctx.today and r[status_key] not in closed:
            yield row_issue(code, table, r, date_key, raw=_iso(d))


@rule("W-OPP-STALE")
def opportunity_stale(ctx: RuleContext) -> Iterator[Issue]:
    return _past_due(ctx, "W-OPP-STALE", T.OPPORTUNITIES, "expected_close", "stage")


@rule("I-INITIATIVE-NO-OPP")
def initiative_without_opportunity(ctx: RuleContext) -> Iterator[Issue]:
    # the Opportunities columns whose dropdown is fed from Initiatives.initiative
    refs = [c.key for c in ctx.spec.table(T.OPPORTUNITIES).columns
            if c.source == f"{T.INITIATIVES}.initiative"]
    linked = {name_key(o[k]) for o in ctx.rows(T.OPPORTUNITIES) for k in refs if o[k]}
    for i in ctx.rows(T.INITIATIVES):
        if i["initiative"] and name_key(i["initiative"]) not in linked:
            yield row_issue("I-INITIATIVE-NO-OPP", T.INITIATIVES, i, "initiative", raw=i["initiative"])


@rule("W-ACTION-OVERDUE")
def action_overdue(ctx: RuleContext) -> Iterator[Issue]:
    return _past_due(ctx, "W-ACTION-OVERDUE", T.REVIEWS, "due", "done")
