"""Filled plans for the summary and whitespace tests: a corpus plan whose opportunities
use the company's solutions, with asks to management and activities around ``today``."""
from __future__ import annotations

import random
from datetime import date, timedelta

from xltools.spec.model import PlanData, Row
from xltools.testing import corpus


def _row(table: str, i: int, values: dict) -> Row:
    return Row(values=values, sheet="", row=0, index=i)


def filled_plan(spec, settings, seed: int, *, period: str, as_of: date, today: date, lang: str = "ja") -> PlanData:
    rng = random.Random(seed)
    clean, typed = corpus.make_plan_pair(rng, spec, settings, account=corpus.Account(f"株式会社サマリー{seed}", f"S{seed}"),
                                         rep=f"担当{seed}", team=("SE 岡",), period=period, as_of=as_of,
                                         messy=0.0, lang=lang)
    sols = spec.choices("solution").keys()
    depts = sorted({r["department"] for r in typed.rows("Opportunities") if r["department"]})[:6] or ["情報システム部"]
    for r in typed.rows("Opportunities"):
        r.values["solution"] = rng.choice(sols + [None])
        r.values["department"] = rng.choice(depts + ["", depts[0].upper()])
    stages = spec.choices("activity_status")
    acts = typed.rows("Activities")
    for i, r in enumerate(acts):  # dates around the day LibreOffice evaluates TODAY()
        r.values["planned_date"] = today + timedelta(days=rng.randint(-40, 140))
        r.values["status"] = rng.choice(stages.keys())
        if rng.random() < 0.3:
            r.values["executive"] = rng.choice(("専務 高木", "常務 野村", None))
    ask_of, ask_status = spec.choices("ask_of").keys(), spec.choices("ask_status").keys()
    opps = [r["opportunity"] for r in typed.rows("Opportunities")]
    typed.tables["Asks"] = [
        _row("Asks", i + 1, {"ask": f"依頼{i + 1}：役員同行のお願い", "ask_of": rng.choice(ask_of),
                             "asked_person": rng.choice(("部長 佐藤", None)),
                             "due": rng.choice((None, today + timedelta(days=rng.randint(-10, 60)))),
                             "status": rng.choice(ask_status), "related_opp": rng.choice(opps + [None])})
        for i in range(rng.randint(3, 9))]
    return typed
