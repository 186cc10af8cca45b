"""What the code relies on in the template spec, declared once and checked at load.

Business meaning lives in the YAML: which stage is won or lost, which stance is a risk,
which employment states mean the person is gone, which statuses close an activity.  The
code asks the spec for a *meaning* (``spec.the("stage", "won")``,
``spec.meaning("stance", "risk")``), never for a literal key, and it names tables through
the constants of :class:`T`.  This module lists every table, column, field and meaning
the code needs; :func:`check_contract` runs when a spec is loaded, so a spec that renames
``Reviews`` or drops the ``lost`` stage fails at once with a message naming what is
missing instead of loading and then silently never firing a rule.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from xltools.spec.spec import Spec


class T:
    """Table names (the workbook contract: Excel table names)."""

    FINANCIALS = "Financials"
    OUR_BUSINESS = "OurBusiness"
    INITIATIVES = "Initiatives"
    OPPORTUNITIES = "Opportunities"
    CONTACTS = "Contacts"
    ACTIVITIES = "Activities"
    SELECTION = "SelectionScores"
    KPIS = "KPIs"
    REVIEWS = "Reviews"
    SUCCESS_CASES = "SuccessCases"
    ASKS = "Asks"


#: table -> the columns the code reads or computes
TABLES: dict[str, tuple[str, ...]] = {
    T.FINANCIALS: ("fiscal_year", "revenue", "growth_rate"),
    T.OUR_BUSINESS: ("fiscal_year", "our_revenue"),
    T.INITIATIVES: ("initiative",),
    T.OPPORTUNITIES: ("opp_id", "opportunity", "department", "initiative", "solution", "amount",
                      "probability", "stage", "expected_close", "recurring", "contract_years", "ltv",
                      "weighted", "key_person"),
    T.CONTACTS: ("contact_id", "name", "department", "title", "reports_to", "role", "stance",
                 "influence", "our_owner", "last_contact", "status"),
    T.ACTIVITIES: ("planned_date", "contact", "purpose", "executive", "appointment", "status"),
    T.ASKS: ("ask", "ask_of", "due", "status", "related_opp"),
    T.SELECTION: ("criterion", "weight", "score"),
    T.KPIS: ("kpi", "target", "actual", "achievement"),
    T.REVIEWS: ("item", "action", "owner", "due", "done"),
    T.SUCCESS_CASES: ("case_id", "title", "customer", "industry", "department", "challenge", "solution",
                      "products", "amount", "shareable", "author"),
}

#: single-value fields the code reads
FIELDS: tuple[str, ...] = (
    "account_name", "account_id", "rep", "period", "amount_unit", "industry", "sales_target",
    "target_period", "org_updated", "team_members",
)

#: computed figures: every formula field or column of the spec, and nothing else, is one
#: of these, and :mod:`xltools.spec.derive` computes each exactly as its formula does
FIGURES: tuple[str, ...] = (
    "target_applied", "target_start", "target_end", "period_pipeline", "coverage_ratio",
    "coverage_verdict", "period_weighted", "outside_period_total", "plan_total", "weighted_total",
    "close_q1", "close_q2", "close_q3", "close_q4", "close_q5", "close_q6", "close_q7", "close_q8",
    "close_other", "ltv_total", "selection_score", "tier",
    "Financials.growth_rate", "Opportunities.ltv", "Opportunities.weighted", "KPIs.achievement",
)

#: (table, column) -> the choice list the column must use
CHOICE_COLUMNS: dict[tuple[str, str], str] = {
    (T.OPPORTUNITIES, "stage"): "stage",
    (T.OPPORTUNITIES, "recurring"): "recurring",
    (T.OPPORTUNITIES, "solution"): "solution",
    (T.ASKS, "ask_of"): "ask_of",
    (T.ASKS, "status"): "ask_status",
    (T.CONTACTS, "role"): "role",
    (T.CONTACTS, "stance"): "stance",
    (T.CONTACTS, "influence"): "level",
    (T.CONTACTS, "status"): "employment",
    (T.ACTIVITIES, "appointment"): "appointment",
    (T.ACTIVITIES, "status"): "activity_status",
    (T.REVIEWS, "done"): "done",
    (T.SUCCESS_CASES, "shareable"): "shareable",
    (T.SELECTION, "criterion"): "selection_criterion",
}

ONE, SOME = "exactly one", "at least one"
#: (choice list, meaning) -> how many choices must carry it
MEANINGS: dict[tuple[str, str], str] = {
    ("stage", "won"): ONE,
    ("stage", "lost"): ONE,
    ("stage", "closed"): SOME,
    ("stance", "support"): SOME,
    ("stance", "risk"): SOME,
    ("role", "decision_maker"): ONE,
    ("role", "champion"): ONE,
    ("employment", "gone"): SOME,
    ("appointment", "not_requested"): ONE,
    ("appointment", "unbooked"): SOME,
    ("activity_status", "open"): SOME,
    ("activity_status", "closed"): SOME,
    ("activity_status", "cancelled"): ONE,
    ("done", "closed"): SOME,
    ("shareable", "private"): ONE,
    ("verdict", "below"): ONE,
    ("verdict", "within"): ONE,
    ("verdict", "above"): ONE,
    ("recurring", "recurring"): ONE,
    ("ask_status", "open"): SOME,
    ("ask_status", "closed"): SOME,
    ("whitespace", "won"): ONE,
    ("whitespace", "open"): ONE,
    ("whitespace", "lost"): ONE,
    ("whitespace", "none"): ONE,
}
#: attributes the code reads from every choice of a list
CHOICE_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "stage": ("probability",),
    "amount_unit": ("factor",),
}


def contract_problems(spec: "Spec") -> list[str]:
    """Everything the code needs that ``spec`` lacks, as readable sentences."""
    out: list[str] = []
    tables = {t.name: t for t in spec.tables}
    for name, columns in TABLES.items():
        t = tables.get(name)
        if t is None:
            out.append(f"table {name!r} is missing (the code reads its columns {list(columns)}; renamed?)")
            continue
        have = {c.key for c in t.columns}
        for col in columns:
            if col not in have:
                out.append(f"table {name!r} has no column {col!r}")
    keys = {f.key for f in spec.fields}
    for key in FIELDS:
        if key not in keys:
            out.append(f"field {key!r} is missing")
    computed = {f.key for f in spec.fields if f.computed}
    computed |= {f"{t.name}.{c.key}" for t in spec.tables for c in t.columns if c.computed}
    for key in FIGURES:
        if key not in computed:
            out.append(f"figure {key!r} is missing or has no formula")
    for key in sorted(computed - set(FIGURES)):
        out.append(f"formula {key!r} has no derivation in xltools.spec.derive (add it to contract.FIGURES)")
    for (tname, col), lst in CHOICE_COLUMNS.items():
        t = tables.get(tname)
        if t is not None and col in {c.key for c in t.columns} and t.column(col).choices != lst:
            out.append(f"column {tname}.{col} must use choice list {lst!r}")
    for (lst, tag), how in MEANINGS.items():
        if lst not in spec.choice_lists:
            out.append(f"choice list {lst!r} is missing")
            continue
        n = len(spec.choice_lists[lst].meaning(tag))
        if (how == ONE and n != 1) or (how == SOME and n < 1):
            out.append(f"choice list {lst!r}: {how} choice must mean {tag!r} (means: [{tag}]), found {n}")
    for lst, attrs in CHOICE_ATTRIBUTES.items():
        choices = spec.choice_lists[lst].choices if lst in spec.choice_lists else ()
        for c in choices:
            for a in attrs:
                if getattr(c, a) is None:
                    out.append(f"choice {lst}.{c.key} needs {a!r}")
    return out


def check_contract(spec: "Spec") -> None:
    """Raise :class:`~xltools.spec.SpecError` naming everything the code needs and the spec lacks."""
    from xltools.errors import SpecContractError

    problems = contract_problems(spec)
    if problems:
        raise SpecContractError(where=spec.path or "spec", problems="; ".join(problems))
