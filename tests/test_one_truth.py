"""One truth: the workbook's formulas, ``check``, the database and the roll-up agree.

A corpus of filled plans (clean and messy: blank probabilities, deals inside and outside
the target period, won and lost, a target period of a whole year, amounts and dates typed
as text) is generated, recalculated by headless LibreOffice and read back.  For every
plan, every formula field and every formula column the spreadsheet computed must equal
what ``check`` derived (to the yen, in the workbook's amount unit), what collect stored
(``xltools export plans``) and what the roll-up shows.  Where the rep typed a value the
workbook cannot count, ``check`` reports W-NOT-COUNTED at that cell and LibreOffice
evaluates the cell's highlight rule to TRUE there (and to FALSE on every clean cell).
"""
from __future__ import annotations

import random
import re
from datetime import date, datetime, timezone

import openpyxl
import pytest

from xltools.checking.check import check_file
from xltools.collect import collect_paths
from xltools.reports.export import export_records
from xltools.reports.rollup import write_rollup
from xltools.spec.config import Settings
from xltools.spec.spec import load_spec
from xltools.store.engine import Store
from xltools.testing import corpus
from xltools.workbook.generate import PlanInfo, generate_workbook
from xltools.workbook.libreoffice import recalculate_many

pytestmark = pytest.mark.libreoffice

SETTINGS = Settings()
SPEC = SETTINGS.apply(load_spec())
PERIOD = "FY2026Q3"
AS_OF = date(2026, 10, 12)
NOW = datetime(2026, 10, 12, 3, tzinfo=timezone.utc)
PROBE_SHEET = "probe"
#: (seed, messy, target period typed by the rep, language)
PLANS = [(1, 0.0, None, "ja"), (2, 0.0, "FY2026", "ja"), (3, 0.0, None, "en"), (4, 0.7, None, "ja"),
         (5, 0.7, "fy2026q3", "ja"), (6, 0.4, None, "en")]


def _names(wb):
    out = {}
    for name, dn in wb.defined_names.items():
        dest = list(dn.destinations)
        if len(dest) == 1:
            sheet, ref = dest[0]
            out[name] = (sheet, ref.replace("$", ""))
    return out


def _tables(wb):
    return {t.name: (ws.title, t.ref, [c.name for c in t.tableColumns]) for ws in wb.worksheets
            for t in ws.tables.values()}


def _not_counted_rule(ws, coordinate):
    """The formula of the highlight rule covering ``coordinate``, moved to that cell."""
    from openpyxl.utils.cell import coordinate_from_string

    col, row = coordinate_from_string(coordinate)
    for cf in ws.conditional_formatting:
        for r in cf.rules:
            f = r.formula[0] if r.formula else ""
            if not f.startswith("AND(LEN("):
                continue
            for rng in cf.sqref.ranges:
                if rng.min_row <= row <= rng.max_row and rng.min_col <= openpyxl.utils.column_index_from_string(col) <= rng.max_col:
                    anchor = f"{openpyxl.utils.get_column_letter(rng.min_col)}{rng.min_row}"
                    sheet = "'" + ws.title.replace("'", "''") + "'"
                    return re.sub(rf"(?<![A-Z$]){anchor}(?![0-9])", f"{sheet}!{coordinate}", f)
    return None


@pytest.fixture(scope="module")
def world(soffice, tmp_path_factory):
    d = tmp_path_factory.mktemp("truth")
    inbox = d / "inbox"
    inbox.mkdir()
    plans = []
    for seed, messy, tp, lang in PLANS:
        _, typed = corpus.make_plan_pair(random.Random(seed), SPEC, SETTINGS,
                                         account=corpus.Account(f"株式会社テスト{seed}", f"T{seed}"),
                                         rep=f"担当{seed % 3}", team=(), period=PERIOD, as_of=AS_OF,
                                         messy=messy, lang=lang)
        if tp:
            typed.fields["target_period"] = tp
        info = PlanInfo(account_name=f"株式会社テスト{seed}", rep=f"担当{seed % 3}", period=PERIOD,
                        account_id=f"T{seed}", lang=lang, generated_at=NOW)
        path = generate_workbook(SPEC, SETTINGS, info, inbox / f"plan{seed}.xlsx", prefill=typed)
        plans.append(path)
    reports = {p: check_file(p, SPEC, SETTINGS, lang="ja", now=NOW) for p in plans}

    # probes: the highlight rule of every checked number/date cell, evaluated by LibreOffice
    probes = {}
    probe_dir = d / "probed"
    probe_dir.mkdir()
    probed = []
    for p in plans:
        wb = openpyxl.load_workbook(p)
        cells = []
        for t in SPEC.tables:
            for r in reports[p].plan.rows(t.name):
                for c in t.columns:
                    if c.is_input and c.key in r.cells and (c.type in ("amount", "date", "percent") or
                                                            c.key == "stage"):
                        cells.append((r.sheet, r.cells[c.key]))
        ws_probe = wb.create_sheet(PROBE_SHEET)
        rows = []
        for i, (sheet, coord) in enumerate(cells, 1):
            f = _not_counted_rule(wb[sheet], coord)
            assert f is not None, (p.name, sheet, coord)
            ws_probe.cell(i, 1).value = "=" + f
            rows.append((sheet, coord))
        probes[p] = rows
        out = probe_dir / p.name
        wb.save(out)
        probed.append(out)
    recalculated = dict(zip(plans, recalculate_many(probed, d / "lo", soffice=soffice)))

    url = f"sqlite:///{d / 'xltools.db'}"
    with Store(url, SPEC) as store:
        collect_paths([inbox], store, SPEC, SETTINGS, period=PERIOD, jobs=1, now=NOW)
        rollup = write_rollup(store, SPEC, SETTINGS, d / "rollup.xlsx", period=PERIOD, now=NOW)
        exported = {r["plan_id"]: r for r in export_records(store, "plans", period=PERIOD)[1]}
    return {"plans": plans, "reports": reports, "lo": recalculated, "probes": probes, "rollup": rollup,
            "exported": exported}


def _unit_factor(plan):
    unit = plan.fields.get("amount_unit") or SPEC.field("amount_unit").default
    return SPEC.choices("amount_unit").get(unit).factor


def _same(f, lo, py, factor, lang):
    """Does the spreadsheet's value ``lo`` equal xltools' ``py`` for field/column ``f``?"""
    if py is None:
        return lo in (None, "")
    if f.type == "amount":
        return isinstance(lo, (int, float)) and round(lo * factor) == py
    if f.type in ("ratio", "score", "fraction"):
        return isinstance(lo, (int, float)) and lo == pytest.approx(py, rel=1e-9, abs=1e-12)
    if f.type == "date":
        return isinstance(lo, datetime) and lo.date() == py
    if f.key == "coverage_verdict":
        return lo == SPEC.choices("verdict").get(py).label(lang)
    return lo == py


def _mismatches(world, path):
    rep = world["reports"][path]
    plan = rep.plan
    lang = plan.meta.get("language", "ja")
    factor = _unit_factor(plan)
    src = openpyxl.load_workbook(path)
    vals = openpyxl.load_workbook(world["lo"][path], data_only=True)
    names = _names(src)
    bad = []
    for f in SPEC.fields:
        if not f.computed:
            continue
        sheet, ref = names[f.key]
        lo = vals[sheet][ref].value
        if not _same(f, lo, plan.derived.get(f.key), factor, lang):
            bad.append((f.key, lo, plan.derived.get(f.key)))
    for t in SPEC.tables:
        for c in t.columns:
            if not c.computed:
                continue
            for r in plan.rows(t.name):
                if c.key not in r.cells:
                    continue  # a row typed below the table has no formula
                lo = vals[r.sheet][r.cells[c.key]].value
                if not _same(c, lo, r[c.key], factor, lang):
                    bad.append((f"{t.name}.{c.key}@{r.cells[c.key]}", lo, r[c.key]))
    return bad


def test_every_formula_equals_what_check_derived(world):
    clean_plans = 0
    for path in world["plans"]:
        rep = world["reports"][path]
        assert rep.readable, path
        not_counted = [i for i in rep.issues if i.code == "W-NOT-COUNTED"]
        bad = _mismatches(world, path)
        if not not_counted:
            clean_plans += 1
            assert bad == [], (path.name, bad)
        else:
            # the totals may differ, and the rep is told why at each cell
            assert all(i.sheet and i.cell and i.raw is not None for i in not_counted)
    assert clean_plans >= 3  # the clean half of the corpus proves the formulas to the yen


def test_the_corpus_exercises_what_the_definitions_distinguish(world):
    """Not a vacuous agreement: the corpus has what tells the definitions apart."""
    plans = [world["reports"][p].plan for p in world["plans"]]
    assert any(p.derived["outside_period_total"] for p in plans)  # deals outside the target period
    assert any(p.derived["probability_defaulted"] for p in plans)  # blank probabilities
    stages = {r["stage"] for p in plans for r in p.rows("Opportunities")}
    assert {"won", "lost"} <= stages
    assert any(p.derived["target_applied"] == "FY2026" for p in plans)  # a year-long target period
    assert any(p.derived["period_pipeline"] != p.derived["plan_total"] for p in plans)
    assert any(i.code == "W-NOT-COUNTED" for p in world["plans"] for i in world["reports"][p].issues)


def test_libreoffice_highlights_exactly_the_cells_check_reports(world):
    flagged_any = False
    for path in world["plans"]:
        rep = world["reports"][path]
        not_counted = {(i.sheet, i.cell) for i in rep.issues if i.code == "W-NOT-COUNTED" and i.table}
        # a highlighted cell always has an issue: W-NOT-COUNTED, or a placeholder / unreadable value
        reported = {(i.sheet, i.cell) for i in rep.issues}
        vals = openpyxl.load_workbook(world["lo"][path], data_only=True)
        ws = vals[PROBE_SHEET]
        for i, (sheet, coord) in enumerate(world["probes"][path], 1):
            highlighted = ws.cell(i, 1).value
            assert highlighted in (True, False, 1, 0), (sheet, coord, highlighted)
            if (sheet, coord) in not_counted:
                assert highlighted, (path.name, sheet, coord)
            if highlighted:
                assert (sheet, coord) in reported, (path.name, sheet, coord)
            flagged_any |= bool(highlighted)
    assert flagged_any


def test_the_database_and_the_rollup_show_the_same_figures(world):
    from openpyxl import load_workbook

    exported = world["exported"]
    wb = load_workbook(world["rollup"])
    ws = wb["カバレッジ"]
    t = ws.tables["Coverage"]
    rows = list(ws[t.ref])
    head = [c.value for c in rows[0]]
    coverage = {r[head.index("顧客名")].value: r for r in rows[1:]}
    f = SPEC.field
    for path in world["plans"]:
        plan = world["reports"][path].plan
        d = plan.derived
        rec = exported[plan.plan_id]
        for key in ("period_pipeline", "period_weighted", "outside_period_total", "plan_total", "weighted_total",
                    "coverage_verdict", "target_applied", "close_q3"):
            assert rec[key] == d[key], (path.name, key)
        assert (rec["coverage_ratio"] is None and d["coverage_ratio"] is None) or \
            rec["coverage_ratio"] == pytest.approx(d["coverage_ratio"], rel=1e-12)
        row = coverage[plan.fields["account_name"]]
        # amounts: exact yen in the cell, the display unit (百万円 by default) in the header
        assert row[head.index(f("period_pipeline").label.ja + "（百万円）")].value == d["period_pipeline"]
        ratio = row[head.index(f("coverage_ratio").label.ja)].value
        assert (ratio is None and d["coverage_ratio"] is None) or ratio == pytest.approx(d["coverage_ratio"])
        verdict = row[head.index(f("coverage_verdict").label.ja)].value
        assert verdict == (SPEC.choices("verdict").get(d["coverage_verdict"]).label.ja if d["coverage_verdict"]
                           else None)
