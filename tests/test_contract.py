"""The spec carries the business meaning, and a spec the code cannot serve fails loudly."""
from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import pytest
import yaml

from xltools.spec.contract import FIGURES, MEANINGS, TABLES
from xltools.spec.spec import SpecError, build_spec, default_spec_path, load_spec

RAW = yaml.safe_load(Path(default_spec_path()).read_text(encoding="utf-8"))


def _edit(fn):
    data = copy.deepcopy(RAW)
    fn(data)
    return data


def _table(data, name):
    return next(t for s in data["sections"] for t in s.get("tables") or [] if t["name"] == name)


def _choice(data, lst, key):
    return next(c for c in data["choices"][lst] if c["key"] == key)


def test_the_shipped_spec_meets_the_contract():
    spec = load_spec()
    assert spec.the("stage", "won") == "won" and spec.the("stage", "lost") == "lost"
    assert spec.meaning("stance", "risk") == {"against", "unknown"}
    assert spec.meaning("employment", "gone") == {"transferred", "left"}
    assert spec.meaning("activity_status", "closed") == {"done", "cancelled"}
    assert spec.choices("selection_criterion").get("company_size").weight == 20  # weights live in the YAML


def test_a_renamed_table_fails_to_load_with_a_message_naming_it():
    data = _edit(lambda d: _table(d, "Reviews").__setitem__("name", "Retrospectives"))
    with pytest.raises(SpecError, match=r"table 'Reviews' is missing"):
        build_spec(data)


def test_a_renamed_column_or_field_names_what_is_missing():
    def rename(d):
        col = next(c for c in _table(d, "Opportunities")["columns"] if c["key"] == "expected_close")
        col["key"] = "close_date"
    with pytest.raises(SpecError, match=r"table 'Opportunities' has no column 'expected_close'"):
        build_spec(_edit(rename))


@pytest.mark.parametrize("lst, key, tag", [("stage", "lost", "lost"), ("role", "decision_maker", "decision_maker"),
                                           ("activity_status", "cancelled", "cancelled")])
def test_a_meaning_that_nobody_carries_is_an_error(lst, key, tag):
    data = _edit(lambda d: _choice(d, lst, key).__setitem__("means", []))
    with pytest.raises(SpecError, match=rf"choice list '{lst}': exactly one choice must mean '{tag}'"):
        build_spec(data)


def test_two_won_stages_are_an_error():
    data = _edit(lambda d: _choice(d, "stage", "verbal").__setitem__("means", ["won"]))
    with pytest.raises(SpecError, match="exactly one choice must mean 'won'.*found 2"):
        build_spec(data)


def test_a_meaning_moves_the_rules_with_it():
    """Business meaning lives in the YAML: call 'verbal' a closed stage too, and a verbal
    commit past its close date is no longer stale (W-OPP-STALE reads the spec)."""
    from test_rules import TODAY, plan_of

    from xltools.checking.rules import run_rules
    from xltools.spec.config import Settings

    data = _edit(lambda d: _choice(d, "stage", "verbal").__setitem__("means", ["closed"]))
    spec = build_spec(data)
    assert spec.meaning("stage", "closed") == {"won", "lost", "verbal"}
    plan, shipped = plan_of()
    late = plan.rows("Opportunities")[0]
    late.values.update(stage="verbal", expected_close=date(2026, 9, 1))
    stale = lambda s: [i for i in run_rules(plan, s, Settings(), today=TODAY) if i.code == "W-OPP-STALE"]  # noqa: E731
    assert [i.row for i in stale(shipped)] == [late.index]
    assert stale(spec) == []


def test_a_formula_needs_a_definition_and_a_derivation():
    def no_definition(d):
        fld = next(f for s in d["sections"] for g in s.get("groups") or [] for f in g["fields"]
                   if f["key"] == "coverage_ratio")
        del fld["definition"]
    with pytest.raises(SpecError, match="needs a 'definition'"):
        build_spec(_edit(no_definition))

    def new_formula(d):
        group = next(g for s in d["sections"] for g in s.get("groups") or [] if g["key"] == "target")
        group["fields"].append({"key": "mystery", "label": {"ja": "謎", "en": "Mystery"}, "type": "amount",
                                "formula": "=1", "definition": {"ja": "謎", "en": "Mystery"}})
    with pytest.raises(SpecError, match="formula 'mystery' has no derivation"):
        build_spec(_edit(new_formula))


def test_every_declared_figure_is_computed_by_derive():
    """contract.FIGURES is the list of the spec's formulas; derive writes each of them."""
    from test_validate import good, raw_plan, run

    plan, _ = run(raw_plan(*good()))
    for key in FIGURES:
        if "." in key:
            table, col = key.split(".")
            assert all(col in r.values for r in plan.rows(table)), key
        else:
            assert key in plan.derived, key
    assert set(TABLES) <= {t.name for t in load_spec().tables}
    assert all(lst in load_spec().choice_lists for lst, _ in MEANINGS)


def test_rules_asking_for_an_unknown_table_fail():
    from xltools.checking.rules import RuleContext
    from xltools.spec.config import Settings
    from xltools.spec.model import PlanData


    ctx = RuleContext(plan=PlanData(meta={}, fields={}, tables={}), spec=load_spec(), settings=Settings(),
                      today=date(2026, 10, 1), period=None)
    with pytest.raises(SpecError, match="'Review'"):
        ctx.rows("Review")
    assert ctx.rows("Reviews") == []
