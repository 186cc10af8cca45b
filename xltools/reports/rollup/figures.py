"""The roll-up's figures: rows per account and rep, quarters, trend, month-over-month
changes and the new success cases -- all from the figures collect stored."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterable

from xltools.checking.validate import name_key
from xltools.reports.rollup.common import _day, _local, _ratio, _t
from xltools.spec.config import Settings
from xltools.spec.contract import T
from xltools.spec.derive import Deriver
from xltools.spec.model import PlanData
from xltools.spec.periods import fiscal_quarter_of, parse_period
from xltools.spec.spec import Spec

if TYPE_CHECKING:
    from xltools.reports.rollup.data import RollupData


# -- figures ---------------------------------------------------------------------------------

def _verdict(ratio: float | None, spec: Spec, settings: Settings) -> str | None:
    """Key of the ``verdict`` choice list for a coverage ratio (:mod:`xltools.spec.derive`)."""
    return Deriver(spec, settings).verdict(ratio)


def account_rows(data: RollupData, spec: Spec, settings: Settings) -> list[dict]:
    """One record per current plan, with the figures collect stored for it (in-period
    pipeline and coverage exactly as the workbook and ``check`` show them); the verdict is
    that coverage judged by this report's thresholds.  The records are the versions
    themselves (``data.versions``), their ``coverage_verdict`` set to that verdict: a
    version's many fields are held once, however many sheets show them."""
    rows = sorted(data.versions, key=lambda v: (name_key(v.get("rep") or ""), name_key(v.get("account_name") or "")))
    deriver = Deriver(spec, settings)
    for v in rows:
        v["coverage_verdict"] = deriver.verdict(v.get("coverage_ratio"))
    return rows


def _sum(items: Iterable[dict], key: str) -> int:
    return sum(a.get(key) or 0 for a in items)


def rep_rows(accounts: list[dict], spec: Spec, settings: Settings) -> list[dict]:
    """Per rep: the accounts' figures added up; coverage = Σ in-period pipeline ÷ Σ target."""
    groups: dict[str, list[dict]] = defaultdict(list)
    names: dict[str, str] = {}
    for a in accounts:
        k = name_key(a.get("rep") or "")
        groups[k].append(a)
        names.setdefault(k, a.get("rep"))
    out = []
    for k, items in groups.items():
        target, inside = _sum(items, "sales_target"), _sum(items, "period_pipeline")
        ratio = _ratio(inside, target)
        out.append({"rep": names[k], "accounts": len(items), "sales_target": target, "period_pipeline": inside,
                    "outside_period_total": _sum(items, "outside_period_total"),
                    "plan_total": _sum(items, "plan_total"), "period_weighted": _sum(items, "period_weighted"),
                    "weighted_total": _sum(items, "weighted_total"),
                    "coverage_ratio": ratio, "coverage_verdict": _verdict(ratio, spec, settings)})
    return out


def pipeline_row(spec: Spec, settings: Settings) -> Callable[[dict], dict]:
    """Adds an opportunity's weighted amount and the fiscal quarter of its expected close."""
    start = settings.fiscal_year_start_month
    lost = spec.the("stage", "lost")
    quarters: dict[date, str] = {}  # close dates repeat: each one's quarter worked out once

    def add(r: dict) -> dict:
        d = _day(r.get("expected_close"))
        if d:
            q = quarters.get(d)
            if q is None:
                q = quarters[d] = str(fiscal_quarter_of(d, start))
            r["quarter"] = q
        else:
            r["quarter"] = None
        r["weighted"] = r.get("weighted") or 0  # stored by collect (xltools.spec.derive)
        r["live"] = r.get("stage") != lost
        return r

    return add


def quarter_rows(pipeline: Iterable[dict], lang: str) -> list[dict]:
    """Count, amount and weighted amount per close quarter (lost opportunities left out)."""
    groups = _quarter_groups()
    for r in pipeline:
        _count_quarter(groups, r)
    return _quarter_list(groups, lang)


def _quarter_groups() -> dict[str | None, list[int]]:
    return defaultdict(lambda: [0, 0, 0])


def _count_quarter(groups: dict[str | None, list[int]], r: dict) -> None:
    if r["live"]:
        g = groups[r["quarter"]]
        g[0] += 1
        g[1] += r.get("amount") or 0
        g[2] += r["weighted"]


def _quarter_list(groups: dict[str | None, list[int]], lang: str) -> list[dict]:
    keys = sorted((k for k in groups if k), key=lambda k: parse_period(k)) + ([None] if None in groups else [])
    return [{"quarter": k or _t("no_date", lang), "count": groups[k][0], "amount": groups[k][1],
             "weighted": groups[k][2]} for k in keys]


@dataclass
class OpportunityFigures:
    """What the dashboard, the summary and the whitespace sheets take from the
    opportunities, read in one pass (:func:`opportunity_figures`)."""

    won: int  # :func:`won_in_period`
    quarters: list[dict]  # :func:`quarter_rows`
    pairs: dict[Any, set[tuple[Any, Any]]]  # plan_id -> its (solution, stage) pairs


#: the columns :func:`opportunity_figures` reads
OPPORTUNITY_FIGURE_KEYS = ("plan_id", "version_id", "solution", "stage", "amount", "expected_close", "weighted")


def opportunity_figures(data: RollupData, spec: Spec, settings: Settings, lang: str) -> OpportunityFigures:
    """:func:`won_in_period`, :func:`quarter_rows` of the pipeline and each plan's
    (solution, stage) pairs, from one pass over the streamed opportunities."""
    add = pipeline_row(spec, settings)
    won_stage, window = spec.the("stage", "won"), _target_windows(data)
    groups = _quarter_groups()
    pairs: dict[Any, set[tuple[Any, Any]]] = defaultdict(set)
    won = 0
    for r in data.rows[T.OPPORTUNITIES].only(*OPPORTUNITY_FIGURE_KEYS):
        pairs[r.get("plan_id")].add((r.get("solution"), r.get("stage")))
        won += _won_amount(r, won_stage, window)
        _count_quarter(groups, add(r))
    return OpportunityFigures(won, _quarter_list(groups, lang), pairs)


def _overdue(table: str, spec: Spec, row: dict, today: date) -> date | None:
    """The first overdue date of ``row`` by the spec's ``overdue_unless`` columns, or None."""
    for c in spec.table(table).columns:
        if c.overdue_unless:
            other, keys = c.overdue_unless
            d = _day(row.get(c.key))
            if d is not None and d < today and row.get(other) not in keys:
                return d
    return None


def trend_rows(data: RollupData) -> list[dict]:
    """Per collection month, the plans as they stood at the end of that month: for each
    account and period the latest version collected by then (conflicting versions left
    out; a plan's versions ordered by file time like the store does)."""
    versions = [v for v in data.history if v.get("collected_at") is not None and not v.get("conflict_with")]
    months = sorted({_local(v["collected_at"]).strftime("%Y-%m") for v in versions})
    out = []
    for m in months:
        upto = [v for v in versions if _local(v["collected_at"]).strftime("%Y-%m") <= m]
        latest_of_plan: dict[str, dict] = {}
        for v in sorted(upto, key=lambda v: (v.get("file_mtime") or v["collected_at"], v["version_id"])):
            latest_of_plan[v["plan_id"]] = v
        slot: dict[tuple, dict] = {}
        for v in sorted(latest_of_plan.values(), key=lambda v: (v["collected_at"], v["version_id"])):
            acct = name_key(v.get("account_id") or "") or "name:" + name_key(v.get("account_name") or "")
            slot[(acct, v.get("period"))] = v
        snap = list(slot.values())
        target, inside = _sum(snap, "sales_target"), _sum(snap, "period_pipeline")
        out.append({"month": m, "plans": len(snap), "sales_target": target, "period_pipeline": inside,
                    "plan_total": _sum(snap, "plan_total"), "period_weighted": _sum(snap, "period_weighted"),
                    "weighted_total": _sum(snap, "weighted_total"), "coverage_ratio": _ratio(inside, target)})
    return out


def _prev_version(versions_of_plan: list[dict], v: dict, before: date) -> dict | None:
    """The plan's version as it stood at the end of the month before ``before``: the latest
    of its versions (``versions_of_plan``) collected before that day (conflicting ones left out)."""
    older = [h for h in versions_of_plan if h["version_id"] != v["version_id"]
             and h.get("collected_at") is not None and not h.get("conflict_with")
             and _local(h["collected_at"]).date() < before]
    return max(older, key=lambda h: (_local(h["collected_at"]), h["version_id"]), default=None)


@dataclass(frozen=True)
class DealMove:
    """A deal in both versions of a plan that moved: ``slipped`` (``old`` / ``new``: fiscal
    quarters, the new one later) or ``resized`` (``old`` / ``new``: amounts)."""

    kind: str
    name: Any  # the deal's name, else its ID
    old: Any
    new: Any
    row: dict  # the deal's row in the newer version


def deal_moves(before: PlanData, after: PlanData, start_month: int, *,
               closed: Iterable[Any] = ()) -> list[DealMove]:
    """Deals of ``after`` found in ``before`` (by opportunity ID, else by name; the first
    row of a key counts) whose expected close moved to a later fiscal quarter or whose
    amount changed, in ``after``'s row order (a deal's slip before its resize).  Deals whose
    stage is in ``closed`` in either version are left out.  The roll-up's month changes and
    the APS pack's change list both read this."""
    closed = set(closed)
    old: dict[tuple[str, str], dict] = {}
    for r in before.rows(T.OPPORTUNITIES):
        for k in (("id", r.get("opp_id")), ("name", r.get("opportunity"))):
            if k[1] is not None and name_key(k[1]):
                old.setdefault((k[0], name_key(k[1])), r)
    out: list[DealMove] = []
    for r in after.rows(T.OPPORTUNITIES):
        o = old.get(("id", name_key(r.get("opp_id")))) if r.get("opp_id") is not None else None
        if o is None and r.get("opportunity"):
            o = old.get(("name", name_key(r.get("opportunity"))))
        if o is None or r.get("stage") in closed or o.get("stage") in closed:
            continue
        name = r.get("opportunity") or r.get("opp_id")
        d_old, d_new = _day(o.get("expected_close")), _day(r.get("expected_close"))
        if d_old and d_new:
            q_old, q_new = fiscal_quarter_of(d_old, start_month), fiscal_quarter_of(d_new, start_month)
            if q_new.start > q_old.start:
                out.append(DealMove("slipped", name, str(q_old), str(q_new), r))
        a_old, a_new = o.get("amount"), r.get("amount")
        if _is_amount(a_old) and _is_amount(a_new) and a_old != a_new:
            out.append(DealMove("resized", name, a_old, a_new, r))
    return out


def _is_amount(v: Any) -> bool:
    return isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)


def month_changes(store: Any, spec: Spec, settings: Settings, history: list[dict], current: list[dict],
                  today: date) -> list[dict]:
    """What changed in each current plan since the end of last month (the month before
    ``today``'s): :func:`xltools.reports.history.diff_plans` (deals added / won / lost / removed,
    stance changes, key persons added or gone, a new rep), deals that slipped to a later
    fiscal quarter or changed amount, and coverage that crossed a threshold (stored
    coverage judged by the settings).  Records: rep, account_name, account_id, kind (a
    ``chg_*`` text key), subject, old, new, ``amount`` (the size of the change, for
    ranking), version_no and prev_version_no; ordered by rep and account."""
    from xltools.reports.history import diff_plans, load_plans

    first = today.replace(day=1)
    by_plan: dict[Any, list[dict]] = defaultdict(list)
    for h in history:
        by_plan[h.get("plan_id")].append(h)
    pairs = []
    for v in current:
        if v.get("collected_at") is None or _local(v["collected_at"]).date() < first:
            continue  # not updated this month
        prev = _prev_version(by_plan.get(v.get("plan_id"), []), v, first)
        if prev is not None:
            pairs.append((prev, v))
    plans = load_plans(store, [x["version_id"] for pair in pairs for x in pair])
    start = settings.fiscal_year_start_month
    deriver = Deriver(spec, settings)
    won, lost = spec.the("stage", "won"), spec.the("stage", "lost")
    out: list[dict] = []
    for prev, v in pairs:
        before, after = plans.get(prev["version_id"]), plans.get(v["version_id"])
        if before is None or after is None:
            continue
        base = {"rep": v.get("rep"), "account_name": v.get("account_name"), "account_id": v.get("account_id"),
                "version_no": v.get("version_no"), "prev_version_no": prev.get("version_no")}

        def add(kind: str, subject: Any = None, old: Any = None, new: Any = None, amount: Any = None,
                fmt: str | None = None, **extra: Any) -> None:
            out.append({**base, "kind": kind, "subject": subject, "old": old, "new": new,
                        "amount": abs(amount or 0), "fmt": fmt, **extra})

        ch = diff_plans(before, after, before_id=prev["version_id"], after_id=v["version_id"], spec=spec)
        if ch.rep:
            add("chg_rep", None, ch.rep[0], ch.rep[1])
        for kind, items in (("chg_won", ch.opportunities_won), ("chg_lost", ch.opportunities_lost),
                            ("chg_added", ch.opportunities_added), ("chg_dropped", ch.opportunities_dropped)):
            for o in items:
                add(kind, o.get("opportunity") or o.get("opp_id"), None, o.get("amount"), o.get("amount"), "amount")
        for m in deal_moves(before, after, start, closed=(won, lost)):
            if m.kind == "slipped":
                add("chg_slipped", m.name, m.old, m.new, m.row.get("amount"))
            else:
                add("chg_resized", m.name, m.old, m.new, m.new - m.old, "amount")
        for c in ch.stance_changes:
            add("chg_stance", c["name"], c["old"], c["new"])
        for c in ch.contacts_added:
            add("chg_person_added", c["name"], None, c.get("department"))
        for c in ch.contacts_left:
            add("chg_person_gone", c["name"], None, c["reason"])
        v_old, v_new = deriver.verdict(prev.get("coverage_ratio")), deriver.verdict(v.get("coverage_ratio"))
        if v_old != v_new:
            add("chg_verdict", None, prev.get("coverage_ratio"), v.get("coverage_ratio"),
                (v.get("period_pipeline") or 0) - (prev.get("period_pipeline") or 0), "ratio",
                verdicts=(v_old, v_new))
    out.sort(key=lambda r: (name_key(r["rep"] or ""), name_key(r["account_name"] or "")))
    return out


def new_cases(data: RollupData, spec: Spec) -> list[dict]:
    """Success cases of the period's plans that no earlier period had (same title and
    customer); private ones (``shareable`` meaning private) never leave the database."""
    def key(r: dict) -> tuple[str, str]:
        return name_key(r.get("title") or ""), name_key(r.get("customer") or "")

    before = {key(r) for r in data.earlier_cases}
    private = spec.meaning("shareable", "private")
    seen: set[tuple[str, str]] = set()
    out = []
    for r in data.rows[T.SUCCESS_CASES]:
        k = key(r)
        if r.get("shareable") in private or k in before or k in seen:
            continue
        seen.add(k)
        out.append(r)
    return out


def won_in_period(data: RollupData, spec: Spec) -> int:
    """Σ amount of the won opportunities closing in their plan's target period (the same
    window as ``period_pipeline``, whose won part this is)."""
    won, window = spec.the("stage", "won"), _target_windows(data)
    total = 0
    for r in data.rows[T.OPPORTUNITIES]:
        total += _won_amount(r, won, window)
    return total


def _target_windows(data: RollupData) -> dict[Any, tuple[date | None, date | None]]:
    return {v["version_id"]: (_day(v.get("target_start")), _day(v.get("target_end"))) for v in data.versions}


def _won_amount(r: dict, won: str, window: dict[Any, tuple[date | None, date | None]]) -> Any:
    if r.get("stage") != won or not isinstance(r.get("amount"), (int, float)):
        return 0
    start, end = window.get(r.get("version_id"), (None, None))
    d = _day(r.get("expected_close"))
    if start and end and d and start <= d <= end:
        return r["amount"]
    return 0


def biggest_changes(changes: list[dict]) -> list[dict]:
    """Changes ranked for the dashboard: coverage crossing a threshold and stance changes
    first, then by the size of the amount."""
    first = ("chg_verdict", "chg_stance", "chg_rep")
    return sorted(changes, key=lambda r: (r["kind"] not in first, -r["amount"]))


# -- the passes over the streamed contacts and activities ------------------------------------

#: the columns :func:`contact_scan` and :func:`activity_scan` read
CONTACT_SCAN_KEYS = ("plan_id", "stance", "status", "role", "last_contact", "name")


def activity_scan_keys(spec: Spec) -> set[str]:
    keys = {"executive", "planned_date", "status"}
    for c in spec.table(T.ACTIVITIES).columns:  # what :func:`_overdue` reads
        if c.overdue_unless:
            keys |= {c.key, c.overdue_unless[0]}
    return keys


@dataclass
class ContactScan:
    """One pass over the streamed contacts for the relationships sheet: per plan the count
    of each stance value as stored (``(plan_id, stance) -> n``), the row IDs of the decision
    makers at risk, and those of the contacts not met recently, longest first."""

    stances: dict[tuple[Any, Any], int]
    risk: list[int]
    stale: list[int]


def contact_scan(spec: Spec, settings: Settings, today: date, rows: Iterable[tuple[int, dict]]) -> ContactScan:
    """:class:`ContactScan` of ``rows``, the (row ID, record) pairs of the contacts
    (:data:`CONTACT_SCAN_KEYS`) in sheet order."""
    limit = today - timedelta(days=settings.thresholds.contact_stale_days)
    stances: dict[tuple[Any, Any], int] = {}
    risk: list[int] = []  # row IDs: the lists are read again when written
    stale: list[tuple[bool, int, int, int]] = []  # sort key, position, row ID
    # meanings from the spec: people gone, decision makers, stances that are a risk
    gone, deciders = spec.meaning("employment", "gone"), spec.meaning("role", "decision_maker")
    risky = spec.meaning("stance", "risk")
    for i, (rid, c) in enumerate(rows):
        k = (c["plan_id"], c.get("stance"))
        stances[k] = stances.get(k, 0) + 1
        if c.get("status") in gone:
            continue
        if c.get("role") in deciders and (c.get("stance") in risky or c.get("stance") is None):
            risk.append(rid)
        last = _day(c.get("last_contact"))
        if c.get("name") and (last is None or last <= limit):
            stale.append((last is not None, -((today - last).days if last else 0), i, rid))
    stale.sort()
    return ContactScan(stances, risk, [k[-1] for k in stale])


@dataclass
class ActivityScan:
    """One pass over the streamed activities for the activities sheet: per executive (in
    name order) the visits, the upcoming ones and the next date; the row IDs of the visits
    of an executive (by executive and planned date) and of the overdue activities (longest
    overdue first)."""

    executives: list[dict]
    visits: list[int]
    overdue: list[int]


def activity_scan(spec: Spec, today: date, rows: Iterable[tuple[int, dict]]) -> ActivityScan:
    """:class:`ActivityScan` of ``rows``, the (row ID, record) pairs of the activities
    (:func:`activity_scan_keys`) in sheet order."""
    closed = set()
    for c in spec.table(T.ACTIVITIES).columns:
        if c.overdue_unless:
            closed |= set(c.overdue_unless[1])
    # per row kept: sort key, position, row ID (and what the summary needs)
    visits: list[tuple[str, date, int, int, str, date | None, bool]] = []
    overdue: list[tuple[int, int, int]] = []
    for i, (rid, a) in enumerate(rows):
        if a.get("executive"):
            planned = _day(a.get("planned_date"))
            visits.append((name_key(a["executive"]), planned or date.max, i, rid, a["executive"], planned,
                           a.get("status") not in closed))
        d = _overdue(T.ACTIVITIES, spec, a, today)
        if d is not None:
            overdue.append((-(today - d).days, i, rid))
    visits.sort()
    summary: dict[str, dict] = {}
    for k, _, _, _, name, planned, still_open in visits:
        s = summary.setdefault(k, {"executive": name, "count": 0, "upcoming": 0, "next": None})
        s["count"] += 1
        if planned is not None and planned >= today and still_open:
            s["upcoming"] += 1
            s["next"] = planned if s["next"] is None else min(s["next"], planned)
    overdue.sort()
    return ActivityScan(list(summary.values()), [v[3] for v in visits], [k[-1] for k in overdue])
