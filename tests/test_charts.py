"""Live native charts fed by the plan's own formula cells."""
from __future__ import annotations

import re

import openpyxl
import pytest
from test_print import NOW, SETTINGS, SPEC, _pdf_pages, defined_print_areas, plan_33

from xltools.workbook import printing
from xltools.workbook.generate import PlanInfo, generate_workbook
from xltools.workbook.libreoffice import pdf_many, recalculate_many


def _ref(f):
    sheet, rng = f.rsplit("!", 1)
    return sheet.strip("'"), rng.replace("$", "")


def _cells(ws, rng):
    return [c for row in ws[rng] for c in row]


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    d = tmp_path_factory.mktemp("charts")
    info = PlanInfo(account_name="株式会社チャート", rep="山田", period="FY2026Q3", account_id="C1",
                    target=60_000_000, generated_at=NOW)
    return d, generate_workbook(SPEC, SETTINGS, info, d / "plan.xlsx", prefill=plan_33())


def test_pipeline_chart_reads_the_quarter_formulas_and_the_target_lines(plan):
    _, path = plan
    wb = openpyxl.load_workbook(path)
    ws = wb[SPEC.section("sales_plan").label("ja")]
    (chart,) = ws._charts
    bar, line = chart, chart._charts[1]
    (pipeline,) = bar.series
    sheet, rng = _ref(pipeline.val.numRef.f)
    assert sheet == ws.title
    quarter_cells = [wb.defined_names[f"close_q{q}"].attr_text.split("!")[1].replace("$", "") for q in range(1, 9)]
    assert [c.coordinate for c in _cells(ws, rng)] == quarter_cells
    _, cats = _ref(pipeline.cat.strRef.f)
    # categories: the real fiscal quarters, as formula labels
    assert [c.value for c in _cells(ws, cats)] == [f'="FY{2026 + i // 4}Q{i % 4 + 1}"' for i in range(8)]
    target, times = line.series
    assert {c.value for c in _cells(ws, _ref(target.val.numRef.f)[1])} == {"=N(sales_target)"}
    x = SETTINGS.thresholds.coverage_low
    assert {c.value for c in _cells(ws, _ref(times.val.numRef.f)[1])} == {f"=N(sales_target)*{x:g}"}
    # the line data lies right of the print area
    last_col = re.search(r"INDEX\('[^']+'!\$A:\$([A-Z]+),", defined_print_areas(path)[ws.title]).group(1)
    assert openpyxl.utils.column_index_from_string(_ref(target.val.numRef.f)[1][0]) > \
        openpyxl.utils.column_index_from_string(last_col)


def test_stance_chart_reads_one_countifs_per_stance(plan):
    _, path = plan
    wb = openpyxl.load_workbook(path)
    ws = wb[SPEC.section("relationship_map").label("ja")]
    (chart,) = ws._charts
    (s,) = chart.series
    values = _cells(ws, _ref(s.val.numRef.f)[1])
    labels = _cells(ws, _ref(s.cat.strRef.f)[1])
    stances = SPEC.choices("stance").choices
    assert [c.value for c in labels] == [f'="{ch.label.ja}"' for ch in stances]
    gone = sorted(SPEC.choices("employment").get(k).label.ja for k in SPEC.meaning("employment", "gone"))
    for cell, ch in zip(values, stances):
        assert cell.value.startswith(f'=COUNTIFS(Contacts[[スタンス]],"{ch.label.ja}"')
        assert all(f'"<>"&"{g}"' in cell.value for g in gone)
    assert len(s.dPt) == len(stances)  # bars coloured by the stance tone


@pytest.mark.libreoffice
def test_libreoffice_computes_and_draws_the_charts(plan, soffice):
    d, path = plan
    (out,) = recalculate_many([path], d / "lo", soffice=soffice)
    src = openpyxl.load_workbook(path)
    vals = openpyxl.load_workbook(out, data_only=True)
    ws = src[SPEC.section("relationship_map").label("ja")]
    s = ws._charts[0].series[0]
    counts = [c.value for c in _cells(vals[ws.title], _ref(s.val.numRef.f)[1])]
    gone = SPEC.meaning("employment", "gone")
    people = [r for r in plan_33().rows("Contacts") if r["status"] not in gone]
    assert counts == [sum(r["stance"] == ch.key for r in people) for ch in SPEC.choices("stance").choices]
    sales = src[SPEC.section("sales_plan").label("ja")]
    line = sales._charts[0]._charts[1].series[1]
    x = SETTINGS.thresholds.coverage_low
    assert {c.value for c in _cells(vals[sales.title], _ref(line.val.numRef.f)[1])} == {60_000_000 * x}
    (pdf,) = pdf_many([printing.print_ready_copy(path, d / "ready.xlsx")], d / "pdf", soffice=soffice)
    _, texts = _pdf_pages(pdf)
    text = "\n".join(texts)
    for label in ("受注予定四半期別の案件と目標", "FY2027Q4", f"目標×{x:g}", "キーマンのスタンス（在籍者）"):
        assert label in text
