"""Property tests on plans built from the spec (xltools.testing.strategies), through the real
generator, reader and checker:

* a valid plan, generated (pre-filled) and checked, gives no error and reads back as the
  same plan;
* messy spellings typed as text into a generated plan's input cells read back as the
  values they mean;
* a plan broken by one rule gives exactly that rule's issue, at the cell of the break.

Examples per test stay moderate (a workbook takes about a second to write); under ``CI``
the examples are derandomised, so that a run is reproducible.
"""
from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, note
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from test_check import prefill

from xltools.cells import a1, parse_range
from xltools.checking.check import check_file, workbook_texts
from xltools.checking.normalize import NormContext, normalize_value
from xltools.checking.validate import name_key
from xltools.spec.config import Settings
from xltools.spec.contract import T
from xltools.spec.model import PlanData
from xltools.spec.periods import parse_period
from xltools.spec.spec import load_spec
from xltools.testing import strategies as xs
from xltools.workbook.generate import generate_workbook
from xltools.workbook.xlwrite import write_text

SETTINGS = Settings()
SPEC = SETTINGS.apply(load_spec())
TEXTS = workbook_texts(SPEC, SETTINGS)
NOW = datetime(2026, 10, 15, 12, 0)
IN_CI = bool(os.environ.get("CI"))

hsettings.register_profile(
    "xltools-strategies", max_examples=int(os.environ.get("XLTOOLS_STRATEGY_EXAMPLES", "25")), deadline=None,
    derandomize=IN_CI, database=None if IN_CI else hsettings.default.database, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
PROFILE = hsettings.get_profile("xltools-strategies")
#: the tests without workbooks: cheap, so many more examples
FAST = hsettings(PROFILE, max_examples=int(os.environ.get("XLTOOLS_STRATEGY_FAST_EXAMPLES", "50")))
LANGS = st.sampled_from(["ja", "en"])


# -- helpers -----------------------------------------------------------------------------------

def _generate(plan: PlanData, lang: str, folder: str) -> Path:
    info = xs.plan_info(plan, SPEC, lang=lang)
    return generate_workbook(SPEC, SETTINGS, info, Path(folder) / "plan.xlsx", plan)


def _check(path: Path):
    report = check_file(path, SPEC, SETTINGS, lang="ja", now=NOW, static_texts=TEXTS)
    assert report.plan is not None, [(i.code, i.cell, i.params) for i in report.issues]
    return report


def _comparable(plan: PlanData) -> tuple[dict, dict]:
    """The values a rep enters: input fields, and every column of a row that is not a formula."""
    fields = {f.key: plan.fields.get(f.key) for f in SPEC.input_fields}
    tables = {t.name: [{c.key: r.get(c.key) for c in t.columns if not c.computed} for r in plan.rows(t.name)]
              for t in SPEC.tables}
    return fields, tables


def _read_back(report) -> tuple[dict, dict]:
    """The read plan as it was entered: a probability the reader took from the stage was blank."""
    fields, tables = _comparable(report.plan)
    for index in report.plan.derived.get("probability_defaulted", []):
        tables[T.OPPORTUNITIES][index - 1]["probability"] = None
    return fields, tables


def _name_cell(wb, key: str) -> tuple[str, str]:
    sheet, ref = next(wb.defined_names[key].destinations)
    return sheet, ref.replace("$", "")


def _table_cell(wb, table: str, column: str | None, index: int, lang: str) -> tuple[str, str]:
    """(sheet, A1) of data row ``index`` of ``table`` (column None: the table's first column)."""
    for ws in wb.worksheets:
        if table in ws.tables:
            top, left, _, right = parse_range(ws.tables[table].ref)
            if column is None:
                return ws.title, a1(top + index, left)
            label = SPEC.table(table).column(column).label(lang)
            for col in range(left, right + 1):
                if ws.cell(top, col).value == label:
                    return ws.title, a1(top + index, col)
    raise KeyError((table, column))


def _where(wb, broken: xs.Broken, lang: str) -> tuple[str, str]:
    if broken.section is not None:
        section = SPEC.section(broken.section)
        inputs = [f for f in section.fields if f.is_input]
        if inputs:
            return _name_cell(wb, inputs[0].key)
        return _table_cell(wb, section.tables[0].name, None, 1, lang)
    if broken.table is None:
        return _name_cell(wb, broken.field)
    return _table_cell(wb, broken.table, broken.field, broken.row, lang)


def _errors(report) -> list[tuple[str, str | None, str | None]]:
    return [(i.code, i.sheet, i.cell) for i in report.issues if i.severity == "error"]


# -- the strategies themselves ---------------------------------------------------------------------

INPUTS = [f for f in SPEC.iter_all_fields() if f.is_input]
TYPES = sorted({f.type for f in INPUTS})
UNIT_FACTORS = [c.factor for c in SPEC.choices(xs.unit_field(SPEC).choices).choices]


@pytest.mark.parametrize("ftype", TYPES)
def test_clean_values_are_what_the_normaliser_reads(ftype):
    """Every clean value of every input type, as its own cell value, reads as itself."""

    @FAST
    @given(f=st.sampled_from([f for f in INPUTS if f.type == ftype]), period=xs.periods(), data=st.data())
    def run(f, period, data):
        v = data.draw(xs.cells(f, SPEC, period=period))
        got = normalize_value(f, v, NormContext(period=period), SPEC)
        assert got.value == v, (f.key, v, got)
        assert got.code in (None, "I-CHOICE-OPEN"), (f.key, v, got)

    run()


@pytest.mark.parametrize("ftype", TYPES)
def test_every_messy_spelling_means_its_value(ftype):
    """All the spellings of a value (全角, 1億2千万円, 和暦, 3割, aliases...), padded with the
    whitespace people leave, read as that value, with at most an info."""

    @FAST
    @given(f=st.sampled_from([f for f in INPUTS if f.type == ftype]), period=xs.periods(),
           factor=st.sampled_from(UNIT_FACTORS), data=st.data())
    def run(f, period, factor, data):
        value = data.draw(st.one_of(st.none(), xs.cells(f, SPEC, period=period)))
        forms = xs.spellings(f, value, SPEC, period=period, factor=factor)
        assert forms
        for text in forms + [data.draw(xs.messy(f, SPEC, value=value, period=period, factor=factor))[0]]:
            got = normalize_value(f, text, NormContext(amount_factor=factor, period=period), SPEC)
            assert got.value == value, (f.key, text, value, got)
            assert got.code is None or got.code.startswith("I-"), (text, got)

    run()


def test_valid_plans_satisfy_the_plan_rules_by_construction():
    """What the checker requires of a plan holds for every drawn plan (a fast, file-less check)."""

    @PROFILE
    @given(plan=xs.plans(SPEC, SETTINGS))
    def run(plan):
        for t in SPEC.tables:
            rows = plan.rows(t.name)
            for r in rows:
                assert any(r.get(c.key) is not None for c in t.columns if not c.computed)
                assert all(r.get(c.key) is not None for c in t.required_columns)
            if t.id_column:
                ids = [r[t.id_column] for r in rows if r[t.id_column] is not None]
                assert len({name_key(i) for i in ids}) == len(ids)
            if t.prefill:
                col = t.prefill["column"]
                assert [r[col] for r in rows] == SPEC.choices(t.column(col).choices).keys()
        for f in SPEC.input_fields:
            assert not f.required or plan.fields[f.key] is not None
        for t, c, src_table, src_col in xs.sources(SPEC):
            known = {r[src_col] for r in plan.rows(src_table)}
            assert {r[c.key] for r in plan.rows(t.name) if r[c.key] is not None} <= known

    run()


def test_unknown_rule_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown rule"):
        xs.invalid("typo", SPEC, SETTINGS)


# -- through the generator, reader and checker -------------------------------------------------------

@PROFILE
@given(plan=xs.plans(SPEC, SETTINGS), lang=LANGS)
def test_a_valid_plan_round_trips_without_errors(plan, lang):
    with tempfile.TemporaryDirectory() as folder:
        report = _check(_generate(plan, lang, folder))
    assert _errors(report) == []
    assert _read_back(report) == _comparable(plan)


def _input_places(plan: PlanData) -> list[tuple[str, Any, int | None]]:
    """(field key or table name, column or None, row index or None) of every input cell of the plan."""
    places: list[tuple[str, Any, int | None]] = [(f.key, None, None) for f in SPEC.input_fields
                                                 if not f.required or plan.fields.get(f.key) is not None]
    for t in SPEC.tables:
        for r in plan.rows(t.name):
            places += [(t.name, c.key, r.index) for c in t.input_columns]
    return places


@PROFILE
@given(plan=xs.plans(SPEC, SETTINGS), lang=LANGS, data=st.data())
def test_messy_spellings_typed_into_the_cells_read_back_as_meant(plan, lang, data):
    period = parse_period(plan.fields[next(f.key for f in SPEC.input_fields
                                           if f.type == "period" and f.key in SPEC.meta_keys)])
    unit = xs.unit_field(SPEC)
    factor = SPEC.choices(unit.choices).get(plan.fields[unit.key]).factor
    places = data.draw(st.lists(st.sampled_from(_input_places(plan)), min_size=1, max_size=12, unique=True))
    with tempfile.TemporaryDirectory() as folder:
        path = _generate(plan, lang, folder)
        wb = openpyxl.load_workbook(path)
        typed = []
        for key, column, index in places:
            if column is None:
                fld, value, (sheet, ref) = SPEC.field(key), plan.fields.get(key), _name_cell(wb, key)
            else:
                fld = SPEC.table(key).column(column)
                value = plan.rows(key)[index - 1].get(column)
                sheet, ref = _table_cell(wb, key, column, index, lang)
            text, meant = data.draw(xs.messy(fld, SPEC, value=value, period=period, factor=factor))
            assert meant == value
            write_text(wb[sheet][ref], text)
            typed.append((sheet, ref, text))
        note(f"typed: {typed}")
        wb.save(path)
        report = _check(path)
    assert _errors(report) == []
    assert _read_back(report) == _comparable(plan)


@pytest.mark.parametrize("rule", xs.RULES)
def test_a_plan_broken_by_one_rule_gives_that_issue_at_that_cell(rule):
    @hsettings(PROFILE, max_examples=max(4, PROFILE.max_examples // 5))
    @given(broken=xs.invalid(rule, SPEC, SETTINGS), lang=LANGS)
    def run(broken, lang):
        with tempfile.TemporaryDirectory() as folder:
            path = _generate(broken.plan, lang, folder)
            where = _where(openpyxl.load_workbook(path), broken, lang)
            report = _check(path)
        got = [(i.code, i.sheet, i.cell) for i in report.issues if i.code == broken.code]
        assert got == [(broken.code, *where)], (broken.rule, broken.field, broken.table, broken.row, broken.value,
                                                [(i.code, i.cell) for i in report.issues])
        others = [e for e in _errors(report) if e[0] != broken.code]
        assert others == [], others

    run()



def test_text_in_excel_escape_syntax_round_trips():
    plan = prefill()
    plan.fields.update(account_name="株式会社東邦精機", rep="山田 太郎", period="FY2026Q3")
    field = next(f for f in SPEC.input_fields if f.type == "text" and f.key not in SPEC.meta_keys)
    plan.fields[field.key] = "_x0041_ 在庫"
    with tempfile.TemporaryDirectory() as folder:
        report = _check(_generate(plan, "ja", folder))
    assert report.plan.fields[field.key] == "_x0041_ 在庫"
