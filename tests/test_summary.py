"""The summary sheet, the whitespace map and the asks to management.

Filled plans are recalculated by headless LibreOffice: every figure and every listed row
on the summary, and every cell of the whitespace map, must equal what ``check`` derived
and what :mod:`xltools.spec.derive` selects.  The "next 90 days" are compared against the
``TODAY()`` LibreOffice itself used (read from a probe cell), never the test's clock.
The printed summary and whitespace map are one A4 landscape page each.
"""
from __future__ import annotations

import re
import subprocess
from datetime import date, datetime, timezone

import openpyxl
import pytest
from summary_plans import filled_plan

from xltools import clock
from xltools.checking.check import check_file
from xltools.spec import derive
from xltools.spec.config import ConfigError, Settings, settings_from_dict
from xltools.spec.derive import Deriver
from xltools.spec.model import Row
from xltools.spec.periods import parse_period
from xltools.spec.spec import load_spec
from xltools.workbook.generate import PlanInfo, generate_workbook, static_texts
from xltools.workbook.libreoffice import pdf_many, recalculate_many
from xltools.workbook.printing import print_ready_copy
from xltools.workbook.summary import ASKS, KEY_PERSONS, PAIRINGS, TOP_OPPORTUNITIES, UPCOMING, UPCOMING_DAYS
from xltools.workbook.whitespace import MAX_DEPARTMENTS

SETTINGS = Settings()
SPEC = SETTINGS.apply(load_spec())
PERIOD = "FY2026Q3"
AS_OF = date(2026, 10, 12)
NOW = datetime(2026, 10, 12, 3, tzinfo=timezone.utc)
PLANS = [(3, "ja"), (5, "en"), (8, "ja")]
SHEET = {"ja": ("サマリー", "ホワイトスペース"), "en": ("Summary", "Whitespace")}


def _row(values: dict) -> Row:
    return Row(values=values, sheet="", row=0, index=0)


@pytest.fixture(scope="module")
def world(soffice, tmp_path_factory):
    d = tmp_path_factory.mktemp("summary")
    (d / "in").mkdir()
    today = clock.today(clock.now())  # only to place the activities near LibreOffice's TODAY()
    plans = []
    for seed, lang in PLANS:
        typed = filled_plan(SPEC, SETTINGS, seed, period=PERIOD, as_of=AS_OF, today=today, lang=lang)
        info = PlanInfo(account_name=f"株式会社サマリー{seed}", rep=f"担当{seed}", period=PERIOD, account_id=f"S{seed}",
                        lang=lang, generated_at=NOW)
        plans.append(generate_workbook(SPEC, SETTINGS, info, d / "in" / f"plan{seed}.xlsx", prefill=typed))
    reports = {p: check_file(p, SPEC, SETTINGS, lang="ja", now=NOW) for p in plans}
    probed = []
    (d / "probed").mkdir()
    for p in plans:  # a probe cell: the TODAY() of LibreOffice's recalculation
        wb = openpyxl.load_workbook(p)
        wb.create_sheet("probe").cell(1, 1).value = "=TODAY()"
        wb.save(d / "probed" / p.name)
        probed.append(d / "probed" / p.name)
    lo = dict(zip(plans, recalculate_many(probed, d / "lo", soffice=soffice)))
    (d / "ready").mkdir()
    ready = [print_ready_copy(p, d / "ready" / p.name) for p in plans]
    pdfs = dict(zip(plans, pdf_many(ready, d / "pdf", soffice=soffice)))
    return {"plans": plans, "reports": reports, "lo": lo, "pdfs": pdfs, "dir": d}


def _sheet_values(world, path, which):
    lang = world["reports"][path].plan.meta["language"]
    vals = openpyxl.load_workbook(world["lo"][path], data_only=True)
    return vals[SHEET[lang][which]], vals["probe"].cell(1, 1).value.date(), lang


def _find(ws, text):
    for row in ws.iter_rows():
        for c in row:
            if isinstance(c.value, str) and c.value.startswith(text):
                return c.row, c.column
    raise AssertionError(f"{text!r} not on {ws.title}")


def _listed(ws, heading, n, width):
    """The rows of a list block: ``n`` places under the heading starting with ``heading``."""
    r, c = _find(ws, heading)
    out = []
    for k in range(n):
        cells = [ws.cell(r + 2 + k, c + i).value for i in range(width + 1)]
        if cells[0] in (None, ""):
            assert all(v in (None, "") for v in cells), cells  # no gaps: the list ends here
            continue
        assert cells[0] == k + 1
        out.append(cells[1:])
    return out


def _shown(value, f, lang, factor):
    """A PlanData value as the summary cell shows it."""
    if value is None:
        return None
    if f.choices:
        try:
            return SPEC.choices(f.choices).get(value).label(lang)
        except KeyError:
            return value
    if f.type == "amount":
        return value / factor
    return value


def _norm(v):
    if isinstance(v, datetime):
        return v.date()
    if v == "":
        return None
    return v


def _factor(plan):
    unit = plan.fields.get("amount_unit") or SPEC.field("amount_unit").default
    return SPEC.choices("amount_unit").get(unit).factor


def test_summary_figures_equal_what_check_derived(world):
    for path in world["plans"]:
        plan = world["reports"][path].plan
        ws, _today, lang = _sheet_values(world, path, 0)
        factor = _factor(plan)
        checked = 0
        for key in ("account_name", "rep", "team_members", "period", "tier", "selection_score", "sales_target",
                    "period_pipeline", "coverage_ratio", "coverage_verdict", "period_weighted", "ltv_total"):
            f = SPEC.field(key)
            r, c = _find(ws, f.label(lang))
            got = ws.cell(r, c + (2 if c == 2 else 3)).value
            want = plan.derived.get(key, plan.fields.get(key))
            if key == "coverage_verdict" and want:
                want = SPEC.choices("verdict").get(want).label(lang)
            if f.type == "amount" and want is not None:
                assert round(got * factor) == want, (path.name, key, got, want)
            elif isinstance(want, float):
                assert got == pytest.approx(want), (path.name, key)
            else:
                assert _norm(got) == want, (path.name, key, got, want)
            checked += want not in (None, "")
        assert checked >= 10


def test_summary_lists_equal_what_derive_selects(world):
    seen = {"top": 0, "persons": 0, "pairings": 0, "upcoming": 0, "asks": 0}
    for path in world["plans"]:
        plan = world["reports"][path].plan
        ws, today, lang = _sheet_values(world, path, 0)
        factor = _factor(plan)
        tp = derive.target_period(plan.fields, plan.fields["period"], SETTINGS.fiscal_year_start_month)
        t = {name: SPEC.table(name) for name in ("Opportunities", "Contacts", "Activities", "Asks")}
        lists = [
            ("top", "Opportunities", derive.top_opportunities(plan.rows("Opportunities"), SPEC, tp, TOP_OPPORTUNITIES),
             ["opportunity", "department", "stage", "amount", "expected_close", "key_person"], TOP_OPPORTUNITIES),
            ("pairings", "Activities", derive.executive_pairings(plan.rows("Activities"), SPEC, PAIRINGS),
             ["planned_date", "executive", "contact", "purpose", "appointment"], PAIRINGS),
            ("persons", "Contacts", derive.key_persons(plan.rows("Contacts"), SPEC, KEY_PERSONS),
             ["name", "department", "title", "role", "stance", "influence"], KEY_PERSONS),
            ("upcoming", "Activities", derive.upcoming_activities(plan.rows("Activities"), SPEC, today, UPCOMING_DAYS,
                                                                  UPCOMING),
             ["planned_date", "contact", "purpose", "executive", "appointment", "status"], UPCOMING),
            ("asks", "Asks", derive.open_asks(plan.rows("Asks"), SPEC, ASKS),
             ["due", "ask_of", "ask", "related_opp", "status"], ASKS),
        ]
        from xltools.workbook.summary import TEXTS
        for name, table, rows, cols, n in lists:
            heading = TEXTS[name](lang).split("{")[0]
            got = [[_norm(v) for v in r] for r in _listed(ws, heading, n, len(cols))]
            want = [[_norm(_shown(r.get(k), t[table].column(k), lang, factor)) for k in cols] for r in rows]
            assert got == want, (path.name, name)
            seen[name] += len(want)
    assert all(v >= 3 for v in seen.values()), seen  # every list has rows to compare


def test_whitespace_cells_equal_derive(world):
    statuses = {"won": 0, "in_progress": 0, "lost": 0, "none": 0}
    for path in world["plans"]:
        plan = world["reports"][path].plan
        ws, _today, lang = _sheet_values(world, path, 1)
        depts = derive.departments(plan.rows("Opportunities"), plan.rows("Contacts"))
        want = derive.whitespace(plan.rows("Opportunities"), SPEC, depts)
        sols = SPEC.choices("solution").choices
        assert [ws.cell(4, 3 + j).value for j in range(len(sols))] == [s.label(lang) for s in sols]
        shown = [ws.cell(5 + k, 2).value for k in range(MAX_DEPARTMENTS)]
        assert [d for d in shown if d] == depts[:MAX_DEPARTMENTS]
        labels = {c.key: c.label(lang) for c in SPEC.choices("whitespace").choices}
        for k, d in enumerate(depts[:MAX_DEPARTMENTS]):
            for j, s in enumerate(sols):
                assert ws.cell(5 + k, 3 + j).value == labels[want[(d, s.key)]], (path.name, d, s.key)
                statuses[want[(d, s.key)]] += 1
    assert all(statuses.values()), statuses


def test_summary_and_whitespace_print_on_one_page_each(world):
    for path, pdf in world["pdfs"].items():
        out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        pages = out.split("\f")
        lang = world["reports"][path].plan.meta["language"]
        # the header names the sheet: page 1 the summary, page 2 the whitespace map, page 3 the guide
        assert SHEET[lang][0] in pages[0].splitlines()[0] and SHEET[lang][1] in pages[1].splitlines()[0]
        guide = "使い方" if lang == "ja" else "Guide"
        assert guide in pages[2].splitlines()[0]
        wb = openpyxl.load_workbook(path)
        for name in SHEET[lang]:
            ps = wb[name].page_setup
            assert (ps.orientation, ps.paperSize, ps.fitToWidth, ps.fitToHeight) == ("landscape", 9, 1, 1)


def test_the_summary_is_formulas_only_and_read_as_nothing(world):
    """Every cell of the summary and whitespace sheets is a formula or the generator's
    text: the reader reports no stray value and no issue points at them."""
    for path in world["plans"]:
        lang = world["reports"][path].plan.meta["language"]
        wb = openpyxl.load_workbook(path)
        texts = static_texts(SPEC, SETTINGS, lang)
        for name in SHEET[lang]:
            for row in wb[name].iter_rows():
                for c in row:
                    if c.value is not None:
                        assert c.data_type == "f" or c.value in texts, (name, c.coordinate, c.value)
        rep = world["reports"][path]
        assert not [i for i in rep.issues if i.sheet in SHEET[lang]]
        assert wb.active.title == SHEET[lang][0] and wb.sheetnames[0] == SHEET[lang][0]
        assert wb["_summary"].sheet_state == "veryHidden"


# -- derive.whitespace and the selections, without LibreOffice ---------------------------------------

def opp(dept, sol, stage):
    return _row({"department": dept, "solution": sol, "stage": stage})


def test_whitespace_rule():
    rows = [opp("営業部", "erp", "won"), opp("営業部", "erp", "lost"), opp("営業部", "data", "proposal"),
            opp("営業部", "data", "lost"), opp("経理部", "erp", "lost"), opp("経理部", "data", None),
            opp("IT部", "security", "won"), opp("it部", "security", "proposal"), opp("", "erp", "won"),
            opp("経理部", None, "won"), opp("経理部", "自社製品X", "won")]
    m = derive.whitespace(rows, SPEC)
    assert derive.departments(rows) == ["営業部", "経理部", "IT部"]
    assert m[("営業部", "erp")] == "won"  # won beats lost
    assert m[("営業部", "data")] == "in_progress"  # open beats lost
    assert m[("経理部", "erp")] == "lost"
    assert m[("経理部", "data")] == "in_progress"  # a blank stage is in progress
    assert m[("IT部", "security")] == "won"  # it部 is IT部 (the workbook compares case-insensitively)
    assert m[("営業部", "security")] == "none"
    assert set(m) == {(d, s) for d in ("営業部", "経理部", "IT部") for s in SPEC.choices("solution").keys()}
    assert ("経理部", "自社製品X") not in m  # a free-text solution is not a column of the map
    assert derive.whitespace(rows, SPEC, ["総務部"], ["erp"]) == {("総務部", "erp"): "none"}


def test_selections_rank_and_keep_table_order_on_ties():
    tp = parse_period("FY2026Q3", 4)
    rows = [_row({"amount": a, "stage": s, "expected_close": d}) for a, s, d in [
        (100, "proposal", date(2026, 10, 1)), (300, "lost", date(2026, 10, 1)), (200, "won", date(2026, 11, 1)),
        (100, "verbal", date(2026, 12, 31)), (900, "proposal", date(2027, 1, 1)), (None, "proposal", date(2026, 10, 2))]]
    assert [r["amount"] for r in derive.top_opportunities(rows, SPEC, tp, 5)] == [200, 100, 100]
    assert derive.top_opportunities(rows, SPEC, tp, 5)[1] is rows[0]  # tie: table order
    assert derive.top_opportunities(rows, SPEC, None, 5) == []
    people = [_row({"name": n, "role": r, "influence": i, "status": s}) for n, r, i, s in [
        ("a", "user", "high", None), ("b", "champion", "low", None), ("c", "decision_maker", None, "left"),
        ("d", None, None, None), ("e", "decision_maker", "mid", "active"), (None, "champion", "high", None)]]
    assert [r["name"] for r in derive.key_persons(people, SPEC, 8)] == ["e", "b", "a", "d"]
    today = date(2026, 12, 1)
    acts = [_row({"planned_date": d, "status": s, "executive": e}) for d, s, e in [
        (date(2026, 11, 30), "planned", "専務"), (date(2026, 12, 1), "planned", None),
        (date(2027, 3, 1), "postponed", "常務"), (date(2027, 3, 2), "planned", None), (None, "planned", "社長"),
        (date(2026, 12, 5), "done", "社長")]]
    assert [r["planned_date"] for r in derive.upcoming_activities(acts, SPEC, today, 90, 8)] == [
        date(2026, 12, 1), date(2027, 3, 1)]
    assert [r["executive"] for r in derive.executive_pairings(acts, SPEC, 5)] == ["専務", "常務", "社長"]
    asks = [_row({"ask": a, "status": s, "due": d}) for a, s, d in [
        ("x", "open", None), ("y", "done", date(2026, 1, 1)), ("z", "agreed", date(2026, 12, 10)), (None, "open", None)]]
    assert [r["ask"] for r in derive.open_asks(asks, SPEC, 5)] == ["z", "x"]


def test_ltv_total_is_the_ltv_of_every_opportunity_not_lost():
    rows = [_row({"amount": a, "stage": s, "recurring": r, "contract_years": y, "probability": None,
                  "expected_close": None}) for a, s, r, y in [
        (100, "proposal", "recurring", 3), (50, "lost", "recurring", 2), (70, "won", "one_off", None), (None, "proposal", None, None)]]
    d = Deriver(SPEC, SETTINGS).plan({}, {"Opportunities": rows}, PERIOD)
    assert d["ltv_total"] == 300 + 70


def test_solutions_setting_replaces_the_list_and_feeds_the_dropdown(tmp_path):
    s = settings_from_dict({"solutions": [{"key": "mes", "ja": "製造実行システム", "en": "MES", "aliases": ["mes系"]},
                                          {"key": "plm", "ja": "PLM", "en": "PLM"}]})
    spec = s.apply(load_spec())
    assert spec.choices("solution").keys() == ["mes", "plm"]
    assert spec.choices("solution").get("mes").aliases == ("mes系",)
    path = generate_workbook(load_spec(), s, PlanInfo(account_name="A", rep="r", period=PERIOD), tmp_path / "p.xlsx")
    wb = openpyxl.load_workbook(path)
    lists = wb["_lists"]
    col = next(c for c in range(1, lists.max_column + 1) if lists.cell(1, c).value == "solution")
    assert [lists.cell(r, col).value for r in (2, 3, 4)] == ["製造実行システム", "PLM", None]
    assert [wb["ホワイトスペース"].cell(4, c).value for c in (3, 4, 5)] == ["製造実行システム", "PLM", None]
    for bad in ([{"key": "a", "ja": "x"}], [{"key": "a", "ja": "x", "en": "y"}, {"key": "b", "ja": "x", "en": "z"}],
                "erp", [{"key": "a", "ja": "x", "en": "y", "colour": 1}]):
        with pytest.raises(ConfigError):
            settings_from_dict({"solutions": bad})


def test_summary_survives_hostile_text(tmp_path):
    """A department or ask that starts with = or holds wildcards stays text and matches exactly."""
    typed = filled_plan(SPEC, SETTINGS, 1, period=PERIOD, as_of=AS_OF, today=AS_OF)
    typed.rows("Opportunities")[0].values.update(department="=HYPERLINK(\"x\")", solution="erp", stage="won")
    typed.rows("Asks")[0].values.update(ask="=1+1", status="open")
    path = generate_workbook(SPEC, SETTINGS, PlanInfo(account_name="A", rep="r", period=PERIOD), tmp_path / "h.xlsx",
                             prefill=typed)
    wb = openpyxl.load_workbook(path)
    ws = wb[SHEET["ja"][0]]
    opps = next(t for s in wb.worksheets for t in s.tables.values() if t.name == "Opportunities")
    sheet = next(s for s in wb.worksheets if "Opportunities" in s.tables)
    first = openpyxl.utils.range_boundaries(opps.ref)
    dept_col = [c.name for c in opps.tableColumns].index(SPEC.table("Opportunities").column("department").label("ja"))
    cell = sheet.cell(first[1] + 1, first[0] + dept_col)
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")
    assert all(c.data_type == "f" for row in ws.iter_rows() for c in row if isinstance(c.value, str)
               and c.value.startswith("=") and "HYPERLINK" not in c.value)
    formulas = " ".join(c.value for row in wb[SHEET["ja"][1]].iter_rows() for c in row if c.data_type == "f")
    assert "COUNTIF(" not in formulas and "SUMPRODUCT(" in formulas  # exact matches, no wildcards
    assert re.search(r"TODAY\(\)\+90", " ".join(c.value for row in wb["_summary"].iter_rows() for c in row
                                                if c.data_type == "f"))
