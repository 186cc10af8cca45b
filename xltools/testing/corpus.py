"""A realistic corpus of filled account plans, for the demo, the tests and the benchmarks.

:func:`make_plan` invents what a rep would type into one plan -- a Japanese manufacturer's
customer with its strategy, key persons, opportunities, activities, reviews and success
cases -- as a :class:`~xltools.spec.model.PlanData`; :func:`~xltools.testing.folders.write_corpus` writes ``n`` of them
through the real generator (``generate_workbook(..., prefill=plan)``), in parallel.

Everything is driven by the spec: every input field and every input column of every
table is filled (columns this module has no vocabulary for get a value of their type),
choices are drawn from the spec's choice lists (the company's, after
``settings.apply``), and messy variants use the spec's labels and aliases.  The only
hard-coded words are the Japanese sample vocabulary below.

Sizes follow a real organisation: 10-60 opportunities, 8-40 contacts, 5-50 activities
(skewed towards the small end), 3-8 initiatives, 0-3 success cases.  ``messy`` is the
share of typed values written the way people type (``１，２００万``, ``1.2億``, ``令和8年4月1日``,
``30%``, stance aliases, stray spaces, ``TBD``) and the chance of each deliberate mistake
per plan (see :data:`MISTAKES`).  Everything is deterministic for a given random
generator (``write_corpus``: for a given ``seed``, whatever the number of processes).
"""
from __future__ import annotations

import math
import random
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from xltools.errors import XltoolsError
from xltools.spec.config import Settings
from xltools.spec.contract import T
from xltools.spec.model import PlanData, Row
from xltools.spec.periods import Period, parse_period
from xltools.spec.spec import Field, Spec, Table
from xltools.testing import vocabulary as words

__all__ = ["MISTAKES", "Account", "CorpusEntry", "make_plan", "make_plan_pair", "advance_plan"]

#: the deliberate mistakes :func:`make_plan` can put into a plan, and the issue each causes
MISTAKES: dict[str, str] = {
    "missing_required": "E-REQUIRED",       # an opportunity without an amount
    "unknown_contact": "E-UNKNOWN-CONTACT",  # an activity with someone not in Contacts
    "low_coverage": "W-COVERAGE-LOW",       # pipeline below 3x the target
    "bad_choice": "E-CHOICE",               # a stance nobody can read
}

@dataclass(frozen=True)
class Account:
    """A customer account of the corpus."""

    name: str
    account_id: str
    industry: str | None = None  # an industry choice key, when the name suggests one


@dataclass(frozen=True)
class CorpusEntry:
    """One plan to write: who, for whom, which period, in which language."""

    index: int
    account: Account
    rep: str
    team: tuple[str, ...]
    lang: str
    period: str
    target: int | None = None  # yen, as ops set it in the roster

    @property
    def filename(self) -> str:
        """``FY2026Q3_<account>_<rep>.xlsx``, as ``xltools generate`` names plans."""
        from xltools.workbook.naming import plan_filename

        return plan_filename(self.period, self.account.name, self.rep)


# -- the plan ----------------------------------------------------------------------------------

def _weighted(rng: random.Random, items: Sequence, weights: Sequence[float]):
    return rng.choices(items, weights=weights, k=1)[0]


def _size(rng: random.Random, lo: int, hi: int, mode: int, cap: int) -> int:
    """A size skewed towards ``mode`` (most plans are small, a few are large)."""
    return max(1, min(cap, int(round(rng.triangular(lo, hi, mode)))))


def round_to(x: float, step: int) -> int:
    return max(step, int(round(x / step)) * step)


def _reiwa(d: date) -> tuple[int, int, int]:
    return d.year - 2018, d.month, d.day


def _fullwidth(s: str) -> str:
    return s.translate({i: i + 0xFEE0 for i in range(0x21, 0x7F)})


def solution_key(spec: Spec, product: str) -> str:
    """The company's solution a product belongs to (a key of the spec's ``solution`` list,
    found through its aliases); the product name when the list does not know it."""
    from xltools.checking.normalize import NormalizeError, parse_choice

    try:
        return parse_choice(product, spec.choices("solution"))
    except NormalizeError:
        return product


class _Maker:
    """Invents one plan; holds the random generator and the spec context."""

    def __init__(self, rng: random.Random, spec: Spec, settings: Settings, *, account: Account,
                 rep: str, team: Sequence[str], period: Period, lang: str, messy: float, as_of: date,
                 mistakes: set[str]):
        self.rng, self.spec, self.settings = rng, spec, settings
        self.account, self.rep, self.team, self.period = account, rep, tuple(team), period
        self.lang, self.messy, self.as_of, self.mistakes = lang, messy, as_of, mistakes
        self.fy = period.year
        self.products: list[str] = []  # the products of the opportunities (our business)

    # -- random helpers ---------------------------------------------------------------------
    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, seq: Sequence):
        return self.rng.choice(seq)

    def choice_key(self, list_name: str, weights: dict[str, float] | None = None) -> str:
        keys = self.spec.choices(list_name).keys()
        if weights:
            return _weighted(self.rng, keys, [weights.get(k, 0.2) for k in keys])
        return self.pick(keys)

    def person(self, taken: set[str]) -> str:
        for _ in range(200):
            name = f"{self.pick(words.SURNAMES)} {self.pick(words.GIVEN)}"
            if name not in taken:
                taken.add(name)
                return name
        raise XltoolsError("corpus: ran out of distinct person names")

    def day_between(self, lo: date, hi: date) -> date:
        span = (hi - lo).days
        return lo + timedelta(days=self.rng.randint(0, max(0, span)))

    def amount(self, lo: float, hi: float, step: int = 100_000) -> int:
        """Yen, log-uniform between lo and hi, rounded to ``step``."""
        return round_to(math.exp(self.rng.uniform(math.log(lo), math.log(hi))), step)

    # -- the parts of a plan ------------------------------------------------------------------
    def themes(self, items: Sequence, k: int) -> list:
        """``k`` distinct items, the first three (the themes every company talks about:
        在庫削減, DX推進, 脱炭素) three times as likely as the others."""
        pool = list(items)
        weights = [3.0 if i < 3 else 1.0 for i in range(len(pool))]
        out = []
        for _ in range(min(k, len(pool))):
            i = self.rng.choices(range(len(pool)), weights=weights, k=1)[0]
            out.append(pool.pop(i))
            weights.pop(i)
        return out

    def initiatives(self) -> list[dict]:
        n = self.rng.randint(3, min(8, self.spec.table(T.INITIATIVES).rows))
        rows = []
        for i, (name, dept, area, hyp, _c, _v) in enumerate(self.themes(words.INITIATIVES, n)):
            rows.append({
                "initiative": name, "department": dept, "investment_area": area,
                "horizon": self.choice_key("horizon", {"short": 0.3, "mid": 0.5, "long": 0.2}),
                "budget_scale": self.amount(2e7, 5e9, 1_000_000) if self.chance(0.7) else None,
                "our_hypothesis": hyp,
                "priority": self.choice_key("level", {"high": 0.4, "mid": 0.4, "low": 0.2}),
                "source": self.pick(words.SOURCES),
            })
        return rows

    def contacts(self) -> list[dict]:
        n = _size(self.rng, 8, 40, 14, self.spec.table(T.CONTACTS).rows)
        taken: set[str] = set()
        depts = self.rng.sample(words.DEPARTMENTS, self.rng.randint(3, 7))
        rows: list[dict] = []
        heads: dict[str, str] = {}  # department -> its general manager
        execs: list[str] = []
        for i in range(n):
            level = 0 if i < max(1, n // 10) else 1 if i < n // 3 else self.rng.choice((2, 2, 3))
            title = self.pick([t for t, lv in words.TITLES if lv == level])
            dept = "経営層" if level == 0 else self.pick(depts)
            name = self.person(taken)
            if level == 0:
                boss = execs[0] if execs else None
                execs.append(name)
            elif level == 1:
                boss = self.pick(execs) if execs else None
                heads.setdefault(dept, name)
            else:
                boss = heads.get(dept) or (self.pick(execs) if execs else None)
            roles = words.ROLES_BY_LEVEL[level]
            stance = self.choice_key("stance", {"favourable": 0.35, "neutral": 0.35, "against": 0.1,
                                                "unknown": 0.2})
            rows.append({
                "contact_id": f"P{i + 1:03d}", "name": name, "department": dept, "title": title,
                "reports_to": boss,
                "role": _weighted(self.rng, roles, [3, 2, 1][:len(roles)]),
                "stance": stance,
                "influence": ("high", "high", "mid", "low")[level] if self.chance(0.8) else self.choice_key("level"),
                "relationship": self.rng.randint(1, 5) if stance != "unknown" else self.rng.randint(1, 2),
                "our_owner": self.pick((self.rep,) + self.team) if self.team else self.rep,
                "last_contact": self.as_of - timedelta(days=int(self.rng.expovariate(1 / 45))),
                "status": self.choice_key("employment", {"active": 0.9, "transferred": 0.07, "left": 0.03}),
                "note": self.pick(words.NOTES) if self.chance(0.2) else None,
            })
        return rows

    def opportunities(self, initiatives: list[dict], contacts: list[dict]) -> list[dict]:
        n = _size(self.rng, 10, 60, 18, self.spec.table(T.OPPORTUNITIES).rows)
        stages = self.spec.choices("stage")
        inits = [r["initiative"] for r in initiatives]
        # most initiatives get an opportunity; a few stay without one (I-INITIATIVE-NO-OPP)
        linked = [x for x in inits if self.chance(0.85)] or inits[:1]
        key_people = [c["name"] for c in contacts if c["role"] in ("decision_maker", "champion")] or \
            [c["name"] for c in contacts]
        depts = sorted({c["department"] for c in contacts if c["department"] != "経営層"}) or list(words.DEPARTMENTS[:3])
        fy_start, fy_end = self.fy.start, self.fy.end - timedelta(days=1)
        rows, names = [], set()
        for i in range(n):
            init = linked[i] if i < len(linked) else (self.pick(linked) if self.chance(0.7) else None)
            sols = [s for s in words.SOLUTIONS if init and init in s[2]] or list(words.SOLUTIONS)
            sol = self.pick(sols)[0]
            self.products.append(sol)
            dept = self.pick(depts)
            name = self.pick(words.OPP_PATTERNS).format(dept=dept, sol=sol, init=init or "業務改善", plant=self.pick(words.PLANTS))
            while name in names:
                name = f"{name}（{self.pick(words.PLANTS)}）"
            names.add(name)
            stage = _weighted(self.rng, stages.keys(),
                              [{"hypothesis": 3, "proposal": 4, "negotiation": 2.5, "verbal": 1,
                                "won": 1, "lost": 0.6}.get(k, 1) for k in stages.keys()])
            closed = stage in ("won", "lost")
            if closed:
                close = self.day_between(fy_start - timedelta(days=60), self.as_of - timedelta(days=1))
            elif self.chance(0.03):  # slipped: past its date and still open (W-OPP-STALE)
                close = self.day_between(self.as_of - timedelta(days=45), self.as_of - timedelta(days=1))
            else:
                close = self.day_between(self.as_of + timedelta(days=7), fy_end + timedelta(days=90))
            recurring = self.choice_key("recurring", {"recurring": 0.4, "one_off": 0.6})
            default_p = stages.get(stage).probability
            rows.append({
                "opp_id": f"O{i + 1:03d}", "opportunity": name, "department": dept, "initiative": init,
                "solution": solution_key(self.spec, sol), "amount": self.amount(1e6, 1.5e8),
                "probability": (None if self.chance(0.5) or default_p is None
                                else max(0, min(100, default_p + self.rng.choice((-10, -5, 0, 5, 10))))),
                "stage": stage, "expected_close": close, "recurring": recurring,
                "contract_years": self.rng.randint(1, 5) if recurring == "recurring" else None,
                "key_person": self.pick(key_people) if self.chance(0.85) else None,
                "next_step": None if closed else self.pick(words.NEXT_STEPS),
                "note": self.pick(words.NOTES) if self.chance(0.25) else None,
            })
        return rows

    def activities(self, contacts: list[dict], opps: list[dict]) -> list[dict]:
        n = _size(self.rng, 5, 50, 12, self.spec.table(T.ACTIVITIES).rows)
        lo, hi = self.period.start - timedelta(days=30), self.period.end + timedelta(days=30)
        people = [c for c in contacts if c["status"] != "left"] or contacts
        # cover the decision makers first, as a good plan does
        dms = [c for c in people if c["role"] == "decision_maker"]
        rows = []
        for i in range(n):
            c = dms[i] if i < len(dms) and self.chance(0.8) else self.pick(people)
            d = self.day_between(lo, hi)
            past = d < self.as_of
            status = (_weighted(self.rng, ("done", "postponed", "cancelled"), (0.85, 0.1, 0.05)) if past
                      else "planned")
            if past:
                appointment = "confirmed"
            elif (d - self.as_of).days <= self.settings.thresholds.appointment_lead_days:
                appointment = _weighted(self.rng, ("confirmed", "requested", "not_requested"), (0.6, 0.3, 0.1))
            else:
                appointment = _weighted(self.rng, ("confirmed", "requested", "not_requested"), (0.2, 0.3, 0.5))
            exec_visit = c["title"] in {t for t, lv in words.TITLES if lv == 0} or self.chance(0.1)
            rows.append({
                "act_id": f"A{i + 1:03d}", "planned_date": d, "contact": c["name"],
                "purpose": "役員面談" if exec_visit and self.chance(0.5) else self.pick(words.PURPOSES),
                "related_opp": self.pick(opps)["opportunity"] if opps and self.chance(0.6) else None,
                "our_attendees": "、".join(self.rng.sample((self.rep,) + self.team,
                                                           self.rng.randint(1, 1 + len(self.team)))),
                "executive": self.pick(words.OUR_EXECUTIVES) if exec_visit else None,
                "appointment": appointment, "status": status,
                "done_date": d if status == "done" else None,
                "result": self.pick(words.RESULTS) if status == "done" else None,
            })
        return rows

    def financials(self) -> list[dict]:
        n = self.rng.randint(3, min(5, self.spec.table(T.FINANCIALS).rows))
        rev = self.amount(3e10, 8e11, 100_000_000)
        rows = []
        for k in range(n):
            fy = self.fy.fiscal_year - n + k
            margin = self.rng.uniform(0.02, 0.12)
            rows.append({"fiscal_year": f"FY{fy}", "revenue": rev, "operating_profit": round_to(rev * margin, 100_000_000),
                         "note": self.pick(("増収増益", "増収減益", "減収増益", "減収減益", None, None))})
            rev = round_to(rev * self.rng.uniform(0.93, 1.12), 100_000_000)
        return rows

    def our_business(self, opps: list[dict]) -> list[dict]:
        n = self.rng.randint(2, min(3, self.spec.table(T.OUR_BUSINESS).rows))
        sols = sorted(set(self.products)) or [s[0] for s in words.SOLUTIONS[:2]]
        return [{"fiscal_year": f"FY{self.fy.fiscal_year - n + k}", "our_revenue": self.amount(5e6, 5e8),
                 "products": "、".join(self.rng.sample(sols, min(len(sols), self.rng.randint(1, 3))))}
                for k in range(n)]

    def prefilled_rows(self, table: Table) -> list[dict]:
        """Rows of a table the generator prefills (criteria, KPIs): one per choice of its list."""
        col = table.column(table.prefill["column"])
        if not col.choices:
            return []
        rows = []
        for key in self.spec.choices(col.choices).keys():
            row: dict[str, Any] = {col.key: key}
            for c in table.input_columns:
                if c.key == "target":
                    row[c.key] = self.rng.randint(2, 12)
                elif c.key == "actual":
                    row[c.key] = self.rng.randint(0, row.get("target", 10) + 3) if self.chance(0.8) else None
                elif c.key == "rationale":
                    row[c.key] = self.pick(words.RATIONALES)
                elif c.key != col.key:
                    row[c.key] = self.generic(c)
            rows.append(row)
        return rows

    def reviews(self) -> list[dict]:
        n = self.rng.choice((0, 1, 2, 2, 3, 4, 6))
        rows = []
        for _ in range(n):
            d = self.day_between(self.period.start - timedelta(days=90), self.as_of)
            due = d + timedelta(days=self.rng.randint(14, 60))
            rows.append({"review_date": d, "item": self.pick(words.REVIEW_ITEMS), "plan": "月2回訪問",
                         "actual": self.pick(("月1回", "未実施", "計画どおり")), "cause": self.pick(words.CAUSES),
                         "action": self.pick(words.ACTIONS), "owner": self.pick((self.rep,) + self.team),
                         "due": due, "done": "yes" if due < self.as_of and self.chance(0.7) else "no"})
        return rows

    def success_cases(self, initiatives: list[dict], opps: list[dict]) -> list[dict]:
        n = _weighted(self.rng, (0, 1, 2, 3), (0.3, 0.35, 0.25, 0.1))
        rows = []
        by_name = {x[0]: x for x in words.INITIATIVES}
        for i in range(n):
            init = by_name[self.pick(initiatives)["initiative"]] if initiatives else self.pick(words.INITIATIVES)
            name, dept, _area, _hyp, challenge, value = init
            sol, products, _ = self.pick([s for s in words.SOLUTIONS if name in s[2]] or list(words.SOLUTIONS))
            fill = {"pct": self.rng.choice((10, 15, 20, 25, 30, 40)), "days": self.rng.randint(3, 8),
                    "months": self.rng.choice((3, 6, 12))}
            anonymous = self.chance(0.5)
            rows.append({
                "case_id": f"S{i + 1:02d}", "title": f"{name}に向けた{sol}の導入",
                "customer": f"大手{self.industry_label()}{'ABCDEFG'[i]}社" if anonymous else self.account.name,
                "industry": self.industry_key, "department": dept, "challenge": challenge,
                "solution": f"{sol}を導入し、{dept}の業務プロセスを見直した", "value": value.format(**fill),
                "products": products, "amount": self.amount(5e6, 2e8),
                "closed_date": self.day_between(self.period.start - timedelta(days=365), self.as_of),
                "success_factors": self.pick(words.FACTORS), "reusable_for": f"{self.industry_label()}の{dept}",
                "shareable": _weighted(self.rng, self.spec.choices("shareable").keys(), (0.7, 0.2, 0.1)),
                "author": self.rep,
            })
        return rows

    @property
    def industry_key(self) -> str:
        keys = self.spec.choices("industry").keys()
        if self.account.industry in keys:
            return self.account.industry
        return keys[zlib.crc32(self.account.name.encode("utf-8")) % len(keys)]

    def industry_label(self) -> str:
        return self.spec.choices("industry").get(self.industry_key).label("ja")

    def coverage(self) -> float:
        """The pipeline / target ratio of this plan: 3-5x for most, more for a few
        optimists, below 3x when the plan has the ``low_coverage`` mistake."""
        if "low_coverage" in self.mistakes:
            return self.rng.uniform(1.3, 2.5)
        return _weighted(self.rng, (self.rng.uniform(3.05, 5.0), self.rng.uniform(5.1, 7.0)), (0.9, 0.1))

    def in_period(self, o: dict) -> bool:
        """Does the opportunity count in the coverage (live, closing in the plan period)?"""
        return (o["stage"] != self.spec.the("stage", "lost") and o["expected_close"] is not None
                and self.period.contains(o["expected_close"]))

    def ensure_in_period(self, opps: list[dict]) -> None:
        """At least one open opportunity closes in the plan period (the coverage counts those)."""
        if any(self.in_period(o) for o in opps):
            return
        open_ = [o for o in opps if o["stage"] not in self.spec.meaning("stage", "closed")]
        if open_:
            first = max(self.as_of + timedelta(days=7), self.period.start)
            last = max(first, self.period.end - timedelta(days=1))
            self.pick(open_)["expected_close"] = self.day_between(first, last)

    def fit_pipeline(self, opps: list[dict], target: int) -> None:
        """Scale the in-period pipeline so that it covers ``target`` as :meth:`coverage` says."""
        ratio = self.coverage()
        live = [o for o in opps if self.in_period(o)]
        total = sum(o["amount"] for o in live)
        if not live or total <= 0:
            return
        factor = target * ratio / total
        for o in live:
            o["amount"] = round_to(o["amount"] * factor, 10_000)
        # rounding must not carry the ratio across the 3x line either way
        total = sum(o["amount"] for o in live)
        low = self.settings.thresholds.coverage_low
        biggest = max(live, key=lambda o: o["amount"])
        if ratio >= low > total / target:
            biggest["amount"] += int(low * target - total) + 10_000
        elif ratio < low <= total / target:
            biggest["amount"] = max(10_000, biggest["amount"] - (total - int(low * target)) - 10_000)

    def fields(self, in_period: int, target: int | None = None) -> dict[str, Any]:
        if target is None:  # the target follows the in-period pipeline, rounded down (the ratio only grows)
            step = 100_000
            target = max(step, int(in_period / self.coverage()) // step * step)
        plan_date = max(self.period.start - timedelta(days=14), self.as_of - timedelta(days=self.rng.randint(0, 10)))
        business, products = words.BUSINESS.get(self.industry_key) or self.pick(sorted(words.BUSINESS.values()))
        return {
            "account_name": self.account.name, "account_id": self.account.account_id, "rep": self.rep,
            "team_members": "、".join(self.team) or None, "period": str(self.period),
            "plan_date": plan_date, "aps_date": plan_date + timedelta(days=self.rng.randint(3, 14)) if self.chance(0.7) else None,
            "amount_unit": self.spec.field("amount_unit").default or self.spec.choices("amount_unit").keys()[0],
            "industry": self.industry_key, "headquarters": self.pick(words.HQ),
            "employees": round_to(math.exp(self.rng.uniform(math.log(800), math.log(60000))), 10),
            "fiscal_year_end_month": _weighted(self.rng, (3, 12, 9, 6), (0.75, 0.15, 0.05, 0.05)),
            "main_business": business, "main_products": products,
            "main_customers": "、".join(self.rng.sample(words.CUSTOMERS, 2)),
            "competitors": f"{self.pick(words.NAME_HEADS)}{self.pick(words.NAME_TAILS)[0]}、{self.pick(words.NAME_HEADS)}{self.pick(words.NAME_TAILS)[0]}",
            "our_competitors": "、".join(self.rng.sample(words.COMPETITORS, 2)),
            "business_situation": self.pick(words.SITUATIONS),
            "corporate_strategy": self.pick(words.STRATEGIES).format(rev=self.rng.randint(5, 60) * 100,
                                                                inv=self.rng.randint(1, 20) * 10),
            "strategy_source": self.pick(words.SOURCES),
            "sales_target": target,
            "target_period": None,
            "org_updated": self.as_of - timedelta(days=int(self.rng.expovariate(1 / 40))),
        }

    # -- generic values for fields this module has no vocabulary for --------------------------
    def generic(self, f: Field) -> Any:
        t = f.type
        if t == "choice" and f.choices:
            return self.choice_key(f.choices)
        if t == "amount":
            return self.amount(1e6, 1e8)
        if t in ("integer", "number"):
            return self.rng.randint(1, 100)
        if t == "percent":
            return float(self.rng.randint(0, 100))
        if t == "date":
            return self.day_between(self.period.start, self.period.end - timedelta(days=1))
        if t == "month":
            return self.rng.randint(1, 12)
        if t == "rating":
            return self.rng.randint(1, 5)
        if t == "period":
            return str(self.period)
        return self.pick(words.NOTES)

    # -- messiness ---------------------------------------------------------------------------
    def messy_value(self, f: Field, v: Any) -> Any:
        """``v`` as a person might type it (the same value once normalised), or ``v``."""
        if v is None or not self.chance(self.messy):
            return v
        t, r = f.type, self.rng
        if t == "amount" and isinstance(v, int) and v > 0:
            forms = [f"¥{v:,}", f"{v:,}円"]
            if v % 10_000 == 0:
                man = v // 10_000
                forms += [f"{man:,}万", f"{man:,}万円", _fullwidth(f"{man:,}") + "万"]
            if v % 10_000_000 == 0 and v >= 100_000_000:
                forms.append(f"{v / 100_000_000:g}億")
            return r.choice(forms)
        if t == "date" and isinstance(v, date):
            y, m, d = v.year, v.month, v.day
            forms = [f"{y}/{m}/{d}", f"{y}-{m:02d}-{d:02d}", f"{y}年{m}月{d}日"]
            if y >= 2019:
                ry, _, _ = _reiwa(v)
                forms += [f"令和{ry}年{m}月{d}日", f"R{ry}.{m}.{d}"]
            if self.fy.contains(v):
                forms.append(f"{m}月{d}日")
            return r.choice(forms)
        if t == "percent" and isinstance(v, (int, float)):
            p = int(v) if float(v).is_integer() else v
            forms = [f"{p}%", _fullwidth(f"{p}") + "％"]
            if 0 < v < 100:
                forms.append(f"{v / 100:g}")
            return r.choice(forms)
        if t == "integer" and isinstance(v, int):
            return r.choice([f"{v:,}人", f"約{v:,}名", _fullwidth(str(v))])
        if t == "month" and isinstance(v, int):
            return r.choice([f"{v}月", _fullwidth(str(v)) + "月"])
        if t == "rating" and isinstance(v, int):
            return r.choice(["★" * v, f"{v}点"])
        if t == "choice" and f.choices and isinstance(v, str):
            return self.messy_choice(f.choices, v)
        if t in ("text", "longtext") and isinstance(v, str):
            return r.choice([f" {v} ", f"{v}\u3000", f"\u3000{v}"])
        return v

    def placeholder(self, f: Field, v: Any) -> Any:
        """Now and then an optional value the rep has not decided yet: ``TBD``, ``未定``, ``-``."""
        if v is None or f.required or f.type == "id" or not self.chance(self.messy * 0.05):
            return v
        return self.pick(words.PLACEHOLDERS)

    def messy_choice(self, list_name: str, key: str) -> str:
        try:
            c = self.spec.choices(list_name).get(key)
        except KeyError:  # already typed by hand (a deliberate mistake)
            return key
        other = "en" if self.lang == "ja" else "ja"
        forms = [c.label(other), f" {c.label(self.lang)} "] + list(c.aliases)
        return self.rng.choice(forms)


def _rows(table: Table, dicts: list[dict]) -> list[Row]:
    return [Row(values=d, sheet="", row=0, index=i + 1) for i, d in enumerate(dicts)]


def make_plan(rng: random.Random, spec: Spec, settings: Settings, *, account: Account | str, rep: str,
              period: Period | str, messy: float = 0.1, lang: str = "ja", team: Sequence[str] = (),
              as_of: date | None = None, mistakes: Iterable[str] | None = None,
              target: int | None = None) -> PlanData:
    """A realistic filled plan for ``account`` by ``rep``, as the rep typed it.

    ``spec`` should be ``settings.apply(load_spec())``.  ``messy`` (0-1) is the share of
    values typed the way people type, and the chance of each of :data:`MISTAKES`
    (``mistakes`` forces exactly those).  ``as_of`` is the day the rep writes the plan
    (default: two weeks into the period): activities before it are done, after it
    planned.  Values follow :mod:`xltools.spec.model` (amounts in yen, choice keys, dates);
    messy ones are the strings a rep would type.  ``target`` (yen): the sales target ops
    set in the roster; the pipeline is sized to cover it (default: the target follows the
    pipeline).  The same ``rng`` state gives the same plan.
    """
    return make_plan_pair(rng, spec, settings, account=account, rep=rep, period=period, messy=messy,
                          lang=lang, team=team, as_of=as_of, mistakes=mistakes, target=target)[1]


def make_plan_pair(rng: random.Random, spec: Spec, settings: Settings, *, account: Account | str, rep: str,
                   period: Period | str, messy: float = 0.1, lang: str = "ja", team: Sequence[str] = (),
                   as_of: date | None = None, mistakes: Iterable[str] | None = None,
                   target: int | None = None) -> tuple[PlanData, PlanData]:
    """``(clean, typed)``: the plan as :func:`make_plan` types it, and the values a correct
    reader must get back from it (messy forms resolved, placeholders empty, deliberate
    mistakes left as typed)."""
    if not 0 <= messy <= 1:
        raise XltoolsError(f"messy must be between 0 and 1, got {messy!r}")
    if lang not in ("ja", "en"):
        raise XltoolsError(f"lang must be 'ja' or 'en', got {lang!r}")
    if target is not None and (not isinstance(target, int) or target <= 0):
        raise XltoolsError(f"target must be a positive amount in yen, got {target!r}")
    if isinstance(account, str):
        account = Account(name=account, account_id="")
    if isinstance(period, str):
        period = parse_period(period, settings.fiscal_year_start_month)
    if mistakes is None:
        chosen = {m for m in MISTAKES if rng.random() < messy}
    else:
        chosen = set(mistakes)
        unknown = chosen - set(MISTAKES)
        if unknown:
            raise XltoolsError(f"unknown corpus mistake(s) {sorted(unknown)}; known: {sorted(MISTAKES)}")
    m = _Maker(rng, spec, settings, account=account, rep=rep, team=team, period=period, lang=lang,
               messy=messy, as_of=as_of or (period.start + timedelta(days=14)), mistakes=chosen)

    initiatives = m.initiatives()
    contacts = m.contacts()
    opps = m.opportunities(initiatives, contacts)
    m.ensure_in_period(opps)
    if target is not None:
        m.fit_pipeline(opps, target)
    activities = m.activities(contacts, opps)
    in_period = sum(o["amount"] for o in opps if m.in_period(o))
    tables: dict[str, list[dict]] = {
        T.INITIATIVES: initiatives, T.CONTACTS: contacts, T.OPPORTUNITIES: opps, T.ACTIVITIES: activities,
        T.FINANCIALS: m.financials(), T.OUR_BUSINESS: m.our_business(opps), T.REVIEWS: m.reviews(),
        T.SUCCESS_CASES: m.success_cases(initiatives, opps),
    }
    for t in spec.tables:  # prefilled tables (criteria, KPIs) are found through the spec
        if t.prefill and t.name not in tables:
            tables[t.name] = m.prefilled_rows(t)
    fields = m.fields(in_period, target)

    # the deliberate mistakes
    if "missing_required" in chosen and opps:
        m.pick(opps)["amount"] = None
    if "unknown_contact" in chosen and activities:
        stranger = m.person({c["name"] for c in contacts})
        m.pick(activities)["contact"] = stranger
    if "bad_choice" in chosen and contacts:
        c = m.pick(contacts)
        c["stance"] = m.spec.choices("stance").get(c["stance"]).label(lang) + m.pick(words.TYPO_SUFFIX)
    odd_note = not (m.messy == 0 or not m.chance(min(1.0, m.messy * 3)))

    # one spec-driven pass: every input field/column gets its value (a generic one when this
    # module has no vocabulary for it), then the way the rep types it; computed and locked
    # columns are the workbook's business
    def typed(f: Field, v: Any) -> tuple[Any, Any]:
        if isinstance(v, str) and f.choices and v not in m.spec.choices(f.choices).keys():
            return v, v  # a deliberate typo stays as it is
        p = m.placeholder(f, v)
        if p is not v:
            return None, p
        return v, m.messy_value(f, v)

    clean_fields: dict[str, Any] = {}
    typed_fields: dict[str, Any] = {}
    for f in spec.input_fields:
        v = fields[f.key] if f.key in fields else m.generic(f)
        if f.key in ("period", "amount_unit", "account_name", "rep"):  # what identifies the plan
            clean_fields[f.key] = typed_fields[f.key] = v
        else:
            clean_fields[f.key], typed_fields[f.key] = typed(f, v)
    clean_tables: dict[str, list[Row]] = {}
    typed_tables: dict[str, list[Row]] = {}
    for t in spec.tables:
        clean_rows, typed_rows = [], []
        prefilled = t.prefill.get("column") if t.prefill else None
        for d in tables.get(t.name, []):
            cv: dict[str, Any] = {}
            tv: dict[str, Any] = {}
            for c in t.columns:
                if c.computed or (c.locked and c.key not in d):
                    continue
                v = d[c.key] if c.key in d else m.generic(c)
                if c.key == prefilled or c.locked:  # the criterion / KPI of a prefilled row
                    cv[c.key] = tv[c.key] = v
                else:
                    cv[c.key], tv[c.key] = typed(c, v)
            clean_rows.append(cv)
            typed_rows.append(tv)
        # a rep who starts a note with "=" (it must stay text all the way to the roll-up)
        if odd_note and typed_rows and any(c.key == "note" and c.is_input for c in t.columns):
            i = m.rng.randrange(len(typed_rows))
            clean_rows[i]["note"] = typed_rows[i]["note"] = m.pick(words.FORMULA_LIKE)
            odd_note = False
        clean_tables[t.name] = _rows(t, clean_rows)
        typed_tables[t.name] = _rows(t, typed_rows)

    meta = {"template": spec.template, "template_version": spec.version, "account_id": account.account_id,
            "account_name": account.name, "rep": rep, "period": str(period), "language": lang}
    return (PlanData(meta=dict(meta), fields=clean_fields, tables=clean_tables),
            PlanData(meta=meta, fields=typed_fields, tables=typed_tables))


def advance_plan(rng: random.Random, plan: PlanData, spec: Spec, *, as_of: date) -> PlanData:
    """The same plan a month later, as its rep updates it: some opportunities move on a
    stage (a few are won or lost), one to three new ones appear, activities whose day has
    passed are done, an unknown key person's stance becomes known, the plan date moves.
    Values the rep typed in a messy way are left alone.  ``plan`` is not modified."""
    stages = spec.choices("stage").keys()
    ladder = [k for k in ("hypothesis", "proposal", "negotiation", "verbal", "won") if k in stages]
    tables = {name: [Row(values=dict(r.values), sheet=r.sheet, row=r.row, index=r.index) for r in rows]
              for name, rows in plan.tables.items()}
    fields = dict(plan.fields)
    opps = tables.get(T.OPPORTUNITIES, [])
    for r in opps:
        stage = r.values.get("stage")
        if stage in ladder[:-1] and rng.random() < 0.35:
            if stage == "negotiation" and "lost" in stages and rng.random() < 0.15:
                r.values["stage"] = "lost"
            else:
                r.values["stage"] = ladder[ladder.index(stage) + 1]
            if r.values["stage"] in ("won", "lost"):
                r.values["expected_close"] = as_of - timedelta(days=rng.randint(1, 20))
                r.values["next_step"] = None
            r.values["probability"] = None  # the new stage's default
    room = spec.table(T.OPPORTUNITIES).rows - len(opps)
    if opps and room > 0:
        ids = {str(r.values.get("opp_id")) for r in opps}
        for k in range(min(room, rng.randint(1, 3))):
            new = dict(rng.choice(opps).values)
            n = len(opps) + 1
            while f"O{n:03d}" in ids:
                n += 1
            ids.add(f"O{n:03d}")
            sol = rng.choice(words.SOLUTIONS)[0]
            new.update(opp_id=f"O{n:03d}", opportunity=f"{sol}新規提案（{as_of.month}月）",
                       solution=solution_key(spec, sol),
                       stage=ladder[0], probability=None, note=None,
                       expected_close=as_of + timedelta(days=rng.randint(60, 200)),
                       amount=round_to(math.exp(rng.uniform(math.log(3e6), math.log(5e7))), 100_000))
            opps.append(Row(values=new, sheet="", row=0, index=len(opps) + 1))
    for r in tables.get(T.ACTIVITIES, []):
        d = r.values.get("planned_date")
        if isinstance(d, date) and d < as_of and r.values.get("status") == "planned":
            r.values.update(status="done", done_date=d, appointment="confirmed", result=rng.choice(words.RESULTS))
    unknown = [r for r in tables.get(T.CONTACTS, []) if r.values.get("stance") == "unknown"]
    for r in rng.sample(unknown, min(len(unknown), rng.randint(1, 2))):
        r.values["stance"] = rng.choice(("neutral", "favourable"))
    if isinstance(fields.get("plan_date"), date):
        fields["plan_date"] = as_of
    if rng.random() < 0.5 and "org_updated" in fields:
        fields["org_updated"] = as_of
    return PlanData(meta=dict(plan.meta), fields=fields, tables=tables, file=plan.file)
