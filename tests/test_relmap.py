"""The relationship map (関係図): layout, flags, picture, workbook sheet, print."""
from __future__ import annotations

import io
import random
import re
import subprocess
import time
import zipfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from PIL import Image

from xltools.checking import relmap
from xltools.checking.check import check_file, check_files
from xltools.checking.rules import run_rules
from xltools.generation import write_plan
from xltools.spec.config import Settings
from xltools.spec.contract import T
from xltools.spec.model import PlanData, Row
from xltools.spec.spec import load_spec
from xltools.testing import corpus
from xltools.workbook.generate import TONES, PlanInfo, build_workbook, generate_workbook

SETTINGS = Settings()
SPEC = SETTINGS.apply(load_spec())
TODAY = date(2026, 10, 12)
NOW = datetime(2026, 10, 12, 9, tzinfo=timezone.utc)


def contact(name, boss=None, **kw):
    return {"name": name, "reports_to": boss, "stance": kw.pop("stance", "neutral"),
            "last_contact": kw.pop("last_contact", TODAY - timedelta(days=10)), **kw}


def plan_of(contacts, activities=(), **fields):
    rows = {T.CONTACTS: [Row(values=c, sheet="④", row=10 + i, index=i + 1, cells={"name": f"B{10 + i}"})
                         for i, c in enumerate(contacts)],
            T.ACTIVITIES: [Row(values=a, sheet="⑤", row=10 + i, index=i + 1) for i, a in enumerate(activities)]}
    return PlanData(meta={"language": "ja", "account_name": "株式会社関係", "period": "FY2026Q3"},
                    fields={"account_name": "株式会社関係", "period": "FY2026Q3", **fields}, tables=rows)


def card_of(m, name):
    (c,) = [c for c in m.cards if c.person.name == name]
    return c


def build(contacts, activities=(), lang="ja"):
    return relmap.build_map(SPEC, plan_of(contacts, activities), lang, now=TODAY)


# -- layout -------------------------------------------------------------------------------------

def test_children_sit_under_their_manager_and_roots_side_by_side():
    m = build([contact("社長"), contact("部長A", "社長"), contact("部長B", "社長"), contact("課長", "部長A"),
               contact("顧問")])
    assert len(m.pages) == 1
    boss, a, b, sub, alone = (card_of(m, n) for n in ("社長", "部長A", "部長B", "課長", "顧問"))
    assert a.y == b.y == boss.y + 1 and sub.y == a.y + 1
    assert a.x < b.x and sub.x == a.x
    assert boss.x == pytest.approx((a.x + b.x) / 2)  # centred over its reports
    assert alone.y == boss.y and alone.x >= b.x + 1  # a second root beside the first tree
    # a line drops from the manager's bottom to the bar, and into each report's top
    tops = {(round(x, 3), round(y, 3)) for line in m.pages[0].lines for x, y in line}
    assert (round(a.x + 0.5, 3), round(a.y + relmap.CARD_TOP, 3)) in tops
    assert (round(boss.x + 0.5, 3), round(boss.y + relmap.CARD_BOTTOM, 3)) in tops


def test_many_leaf_reports_are_stacked_in_columns():
    m = build([contact("部長")] + [contact(f"担当{i}", "部長") for i in range(7)])
    cards = [card_of(m, f"担当{i}") for i in range(7)]
    assert {c.x for c in cards} == {0.0, 1.0}  # two columns of at most four
    assert max(c.y for c in cards) == card_of(m, "部長").y + 4
    assert m.pages[0].width == 2 and m.pages[0].height == 5


def test_a_cycle_is_reported_and_cut_at_its_first_row():
    m = build([contact("甲", "丙"), contact("乙", "甲"), contact("丙", "乙"), contact("丁", "甲"),
               contact("自分", "自分")])
    assert {c.person.name for c in m.cards} == {"甲", "乙", "丙", "丁", "自分"}
    cycle_notes = [n for n in m.notes if "循環" in n]
    assert len(cycle_notes) == 2
    assert "甲 → 乙 → 丙" in cycle_notes[0] and "甲 を最上位" in cycle_notes[0]
    assert "自分" in cycle_notes[1]
    # many notes: the band under the chart says how many more there are
    many = build([contact(f"環{i}", f"環{i}") for i in range(12)] + [contact("x", "誰")])
    assert len(many.notes) == 13
    png = relmap.render_png(many)
    assert Image.open(io.BytesIO(png)).size[0] == round(relmap.FIG_W * relmap.DPI)
    top, second, third = card_of(m, "甲"), card_of(m, "乙"), card_of(m, "丙")
    assert top.y == 0 and second.y == 1 and third.y == 2 and card_of(m, "丁").y == 1


def test_unknown_managers_become_roots_with_a_note():
    m = build([contact("山田", "誰か"), contact("佐藤", "山田"), contact("鈴木", "不在の人")])
    assert card_of(m, "山田").y == 0 and card_of(m, "鈴木").y == 0 and card_of(m, "佐藤").y == 1
    (note,) = [n for n in m.notes if "上長が表にいない" in n]
    assert "山田" in note and "鈴木" in note and "佐藤" not in note


def test_manager_names_match_as_people_type_them():
    m = build([contact("山田　太郎"), contact("佐藤", "山田太郎 "), contact("ＡＢＣ"), contact("鈴木", "abc")])
    assert card_of(m, "佐藤").y == 1 and card_of(m, "鈴木").y == 1 and not m.notes


def test_no_reports_to_at_all_lays_people_out_in_rows_with_a_note():
    m = build([contact(f"人{i}") for i in range(25)])
    assert any("上長が1人も入力されていない" in n for n in m.notes)
    (page,) = m.pages
    assert page.width == relmap.MAX_COLS and page.height == 3 and not page.lines
    assert {c.y for c in page.cards} == {0, 1, 2}


def test_one_character_names_and_duplicates():
    m = build([contact("林"), contact("A", "林"), contact("林"), contact("B", "林")])
    assert [c.person.name for c in m.cards].count("林") == 2
    assert any("同じ氏名" in n for n in m.notes)
    assert card_of(m, "A").y == 1  # the first 林
    png = relmap.render_png(m)
    assert Image.open(io.BytesIO(png)).size == (round(relmap.FIG_W * relmap.DPI), round(relmap.FIG_H * relmap.DPI))


def test_200_people_split_into_pages_in_bounded_time():
    rng = random.Random(7)
    depts = [f"部{i}" for i in range(6)]
    people = []
    for i in range(200):
        boss = f"人{rng.randrange(i)}" if i and rng.random() < 0.9 else None
        people.append(contact(f"人{i}", boss, department=rng.choice(depts)))
    started = time.perf_counter()
    m = build(people)
    assert time.perf_counter() - started < 10
    assert sorted(c.person.name for c in m.cards) == sorted(p["name"] for p in people)
    assert len(m.pages) >= 5
    for p in m.pages:
        assert len(p.cards) <= relmap.MAX_CARDS and p.width <= relmap.MAX_COLS and p.height <= relmap.MAX_ROWS
        assert p.subtitle.startswith("部署：")
    # a manager drawn on another page is named on the card
    far = [c for c in m.cards if c.upline]
    assert far and all(re.search(r"\(p\.\d+\)$", c.upline) for c in far)


def test_a_200_long_chain_never_hangs():
    m = build([contact(f"p{i}", f"p{i - 1}" if i else None) for i in range(200)])
    assert len(m.cards) == 200 and all(p.height <= relmap.MAX_ROWS for p in m.pages)


names = st.sampled_from([f"n{i}" for i in range(60)] + ["", "外部"])


@hsettings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(names, names, st.sampled_from(["", "営業", "製造", "経営"])), min_size=0, max_size=90))
def test_every_named_person_gets_exactly_one_slot(rows):
    people = [contact(n or None, b or None, department=d or None) for n, b, d in rows]
    m = build(people)
    assert sorted(c.person.name for c in m.cards) == sorted(n for n, _b, _d in rows if n)
    for p in m.pages:
        assert len(p.cards) <= relmap.MAX_CARDS
        slots = [(c.x, c.y) for c in p.cards]
        for i, (x1, y1) in enumerate(slots):  # cards never overlap
            for x2, y2 in slots[i + 1:]:
                assert abs(x1 - x2) >= 1 or abs(y1 - y2) >= 1
            assert 0 <= x1 <= p.width - 1 and 0 <= y1 <= p.height - 1
        on_page = {c.person.index: c for c in p.cards}
        forest = relmap._forest(m.people)
        for c in p.cards:  # a report is drawn below its manager
            boss = forest.parent.get(c.person.index)
            if boss in on_page:
                assert c.y > on_page[boss].y


# -- colours and flags --------------------------------------------------------------------------

def test_gone_people_are_grey_and_stances_take_their_tone():
    m = build([contact("在籍", stance="favourable"), contact("退職者", stance="favourable", status="left"),
               contact("異動者", status="transferred"), contact("反対", stance="against"), contact("中立")])
    assert card_of(m, "退職者").colours == relmap.GONE and card_of(m, "異動者").colours == relmap.GONE
    assert card_of(m, "在籍").colours == TONES["good"] and card_of(m, "反対").colours == TONES["bad"]
    assert card_of(m, "中立").colours == relmap.PLAIN
    assert card_of(m, "退職者").person.status == "退職"
    assert [label for label, _ in m.legend] == ["好意的", "中立", "アンチ", "不明", "異動・退職（灰色）"]


def flag_keys(m):
    return [f.key for f in m.flags]


def test_no_decision_maker_and_no_champion():
    m = build([contact("甲", role="influencer")])
    assert flag_keys(m) == ["no_decision_maker", "no_champion"]
    assert "決裁者" in m.flags[0].text and "推進者" in m.flags[1].text
    # a decision maker who left does not count
    m = build([contact("甲", role="decision_maker", status="left"), contact("乙", role="champion")])
    assert flag_keys(m) == ["no_decision_maker"]
    m = build([contact("甲", role="decision_maker", stance="favourable"), contact("乙", role="champion")])
    assert flag_keys(m) == []
    en = build([contact("A", role="user")], lang="en")
    assert en.flags[0].text.startswith("No decision maker known")


def test_decision_makers_at_risk_without_planned_activity_as_the_rule_sees_them():
    people = [contact("反対の決裁者", role="decision_maker", stance="against"),
              contact("不明の決裁者", role="decision_maker", stance="unknown"),
              contact("会う決裁者", role="decision_maker", stance="against"),
              contact("中止の決裁者", role="decision_maker", stance="unknown"),
              contact("推進", role="champion", stance="favourable"),
              contact("退職した決裁者", role="decision_maker", stance="against", status="left")]
    acts = [{"contact": "会う決裁者", "planned_date": TODAY + timedelta(days=3), "status": "planned"},
            {"contact": "中止の決裁者", "planned_date": TODAY + timedelta(days=3), "status": "cancelled"},
            {"contact": "反対の決裁者", "planned_date": TODAY - timedelta(days=1), "status": "done"}]
    plan = plan_of(people, acts)
    m = relmap.build_map(SPEC, plan, "ja", now=TODAY)
    (flag,) = [f for f in m.flags if f.key == "uncovered"]
    named = {m.people[i].name for i in flag.people}
    assert named == {"反対の決裁者", "不明の決裁者", "中止の決裁者"}
    rule = {i.raw for i in run_rules(plan, SPEC, SETTINGS, today=TODAY) if i.code == "W-DECISION-MAKER-UNCOVERED"}
    assert named == rule  # one definition: people who have gone are neither flagged nor warned
    assert "アンチ／不明の決裁者" in flag.text
    assert "uncovered" in card_of(m, "反対の決裁者").flags and not card_of(m, "会う決裁者").flags


def test_key_persons_not_met_for_90_days_against_the_injected_day():
    m = build([contact("90日", last_contact=TODAY - timedelta(days=90), role="decision_maker"),
               contact("89日", last_contact=TODAY - timedelta(days=89), role="champion"),
               contact("未接触", last_contact=None),
               contact("退職", last_contact=TODAY - timedelta(days=400), status="left")])
    (flag,) = [f for f in m.flags if f.key == "stale"]
    assert {m.people[i].name for i in flag.people} == {"90日", "未接触"}
    assert "90日以上" in flag.text and "（2名）" in flag.text
    later = relmap.build_map(SPEC, plan_of([contact("89日", last_contact=TODAY - timedelta(days=89))]), "ja",
                             now=TODAY + timedelta(days=1))
    assert "stale" in flag_keys(later)
    short = relmap.build_map(SPEC, plan_of([contact("30日", last_contact=TODAY - timedelta(days=30))]), "ja",
                             now=TODAY, stale_days=30)
    assert "stale" in flag_keys(short)


# -- the picture --------------------------------------------------------------------------------

def test_the_font_ships_in_a_package_and_every_text_is_drawn_with_it(monkeypatch):
    from matplotlib.backends import backend_agg

    path = Path(relmap.font_path())
    assert path.is_file() and path.name == "ipaexg.ttf" and "site-packages" in path.parts
    assert (path.parent / "IPA_Font_License_Agreement_v1.0.txt").is_file()
    used: list = []
    real = backend_agg.get_font

    def spy(paths, *a, **k):
        used.extend([paths] if isinstance(paths, (str, Path)) else paths)
        return real(paths, *a, **k)

    monkeypatch.setattr(backend_agg, "get_font", spy)
    png = relmap.render_png(build([contact("山田", role="decision_maker", stance="against", our_owner="鈴木")]))
    img = Image.open(io.BytesIO(png)).convert("RGB")
    assert img.size == (round(relmap.FIG_W * relmap.DPI), round(relmap.FIG_H * relmap.DPI))
    colours = {img.getpixel((x, y)) for x in range(0, img.width, 7) for y in range(0, img.height, 7)}
    assert (0xFF, 0xC7, 0xCE) in colours  # the against card's fill
    assert used and {Path(p).resolve() for p in used} == {path.resolve()}  # no system font, ever


def test_hostile_text_renders_as_text(recwarn):
    nasty = ["$x^2$", "=HYPERLINK(\"http://x\")", "名" * 300, "a\nb\tc", "😀", "\x00\x07", "$", "\\frac{1}{2}",
             "𠮷野家", "ＡＢＣ　ｄｅｆ"]
    people = [contact(n, nasty[i - 1] if i else None, title=n, department=n, our_owner=n, role="decision_maker")
              for i, n in enumerate(nasty)]
    m = build(people)
    assert len(m.cards) == len(nasty) - 1  # control characters only: no name
    assert card_of(m, "a b c").person.name == "a b c" and card_of(m, "$x^2$").y == 0
    png = relmap.render_png(m)
    assert Image.open(io.BytesIO(png)).size[0] == round(relmap.FIG_W * relmap.DPI)
    assert not [w for w in recwarn if "Glyph" in str(w.message)]


# -- the workbook -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def filled():
    """A corpus plan (22 people), generated with its map as `generate --prefill` writes it."""
    plan = corpus.make_plan(random.Random(0), SPEC, SETTINGS, account="株式会社関係図", rep="山田",
                            period="FY2026Q3", as_of=TODAY, messy=0.0)
    return plan


def test_generate_with_prefill_draws_the_map_after_the_contacts_sheet(filled, tmp_path):
    info = PlanInfo(account_name="株式会社関係図", rep="山田", period="FY2026Q3", generated_at=NOW,
                    relationship_map=True)
    path = write_plan(SPEC, SETTINGS, info, tmp_path / "plan.xlsx", prefill=filled)
    wb = openpyxl.load_workbook(path)
    names = wb.sheetnames
    contacts_sheet = next(ws.title for ws in wb.worksheets if T.CONTACTS in ws.tables)
    assert names[names.index(contacts_sheet) + 1] == "関係図"
    ws = wb["関係図"]
    assert len(ws._images) == 1
    assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9  # A4
    assert ws.print_area == "'関係図'!$A$1:$A$2"
    assert "株式会社関係図" in ws.oddHeader.left.text and "Confidential" in ws.oddFooter.left.text
    m = relmap.build_map(SPEC, filled, "ja", now=NOW)
    assert sorted(c.person.name for c in m.cards) == sorted(r["name"] for r in filled.rows(T.CONTACTS))
    # the map sheet is the generator's own: reading the plan back finds nothing stray on it
    report = check_file(path, SPEC, SETTINGS, now=NOW)
    assert not [i for i in report.issues if i.sheet == "関係図"]
    # without the hand-over flag, or without contacts, there is no map sheet
    plain = build_workbook(SPEC, SETTINGS, PlanInfo(account_name="株式会社関係図", rep="山田", period="FY2026Q3",
                                                    generated_at=NOW), prefill=filled)
    assert "関係図" not in plain.sheetnames
    blank = write_plan(SPEC, SETTINGS, PlanInfo(account_name="株式会社関係図", rep="山田", period="FY2026Q3",
                                                generated_at=NOW, relationship_map=True),
                       tmp_path / "blank.xlsx", prefill=plan_of([]))
    assert not set(relmap.SHEET.all()) & set(openpyxl.load_workbook(blank).sheetnames)
    empty = relmap.build_map(SPEC, plan_of([]), "en", now=NOW)
    assert empty.pages == () and empty.cards == [] and flag_keys(empty) == ["no_decision_maker", "no_champion"]
    assert Image.open(io.BytesIO(relmap.render_png(empty))).size[1] == round(relmap.FIG_H * relmap.DPI)


def _media(path):
    with zipfile.ZipFile(path) as z:
        return sorted((n, z.read(n)) for n in z.namelist() if n.startswith("xl/media/"))


def _exts(path):
    with zipfile.ZipFile(path) as z:
        return sorted(re.findall(r'<(?:xdr:)?ext cx="(\d+)" cy="(\d+)"', z.read(n).decode())[0]
                      for n in z.namelist() if n.startswith("xl/drawings/drawing") and n.endswith(".xml"))


def test_the_picture_survives_openpyxl_load_and_save(filled, tmp_path):
    wb = openpyxl.Workbook()
    relmap.add_to_workbook(wb, SPEC, filled, "en", NOW)
    assert wb.sheetnames[-1] == "Relationship map"
    first = tmp_path / "a.xlsx"
    wb.save(first)
    again = tmp_path / "b.xlsx"
    openpyxl.load_workbook(first).save(again)
    loaded = openpyxl.load_workbook(again)
    assert len(loaded["Relationship map"]._images) == 1
    assert _media(again) == _media(first) and len(_media(first)) == 1
    assert _exts(again) == _exts(first) == [(str(relmap.PX_W * 9525), str(relmap.PX_H * 9525))]


def test_check_annotate_redraws_the_map_once(filled, tmp_path):
    info = PlanInfo(account_name="株式会社関係図", rep="山田", period="FY2026Q3", generated_at=NOW)
    (tmp_path / "in").mkdir()
    src = generate_workbook(SPEC, SETTINGS, info, tmp_path / "in" / "plan.xlsx", prefill=filled)
    assert "関係図" not in openpyxl.load_workbook(src).sheetnames  # as the rep sent it
    (report,) = check_files([src], SPEC, SETTINGS, annotate_dir=tmp_path / "out", now=NOW)
    wb = openpyxl.load_workbook(report.stats["annotated"])
    assert wb.sheetnames.count("関係図") == 1 and len(wb["関係図"]._images) == 1
    (again,) = check_files([report.stats["annotated"]], SPEC, SETTINGS, annotate_dir=tmp_path / "out2", now=NOW)
    wb2 = openpyxl.load_workbook(again.stats["annotated"])
    assert wb2.sheetnames.count("関係図") == 1 and len(wb2["関係図"]._images) == 1


def _pages(pdf):
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    size = re.search(r"^Page size:\s+([\d.]+) x ([\d.]+)", out, re.M)
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1)), (float(size[1]), float(size[2]))


@pytest.mark.libreoffice
def test_libreoffice_prints_one_a4_landscape_page_per_picture(filled, tmp_path, soffice):
    from xltools.workbook.libreoffice import pdf_many
    from xltools.workbook.printing import print_ready_copy

    one = openpyxl.Workbook()
    m1 = relmap.add_to_workbook(one, SPEC, filled, "ja", NOW)
    del one[one.sheetnames[0]]
    one.save(tmp_path / "one.xlsx")
    rng = random.Random(3)
    people = [contact(f"社員{i}", f"社員{rng.randrange(i)}" if i else None, department=f"部{i % 3}")
              for i in range(70)]
    many = openpyxl.Workbook()
    m2 = relmap.add_to_workbook(many, SPEC, plan_of(people), "ja", NOW)
    del many[many.sheetnames[0]]
    assert len(m2.pages) >= 2 and len(many["関係図"].row_breaks.brk) == len(m2.pages) - 1
    many.save(tmp_path / "many.xlsx")
    # the whole plan as xltools prints it: the map is one page among the others
    info = PlanInfo(account_name="株式会社関係図", rep="山田", period="FY2026Q3", generated_at=NOW,
                    relationship_map=True)
    (tmp_path / "src").mkdir()
    plan = write_plan(SPEC, SETTINGS, info, tmp_path / "src" / "plan.xlsx", prefill=filled)
    ready = print_ready_copy(plan, tmp_path / "plan.xlsx")
    pdfs = pdf_many([tmp_path / "one.xlsx", tmp_path / "many.xlsx", ready], tmp_path / "pdf", soffice=soffice)
    for pdf, m in zip(pdfs, (m1, m2)):
        pages, (w, h) = _pages(pdf)
        assert pages == len(m.pages)
        assert (round(w), round(h)) == (842, 595)  # A4 landscape
    texts = [subprocess.run(["pdftotext", "-f", str(i), "-l", str(i), "-layout", str(pdfs[2]), "-"],
                            capture_output=True, text=True, check=True).stdout
             for i in range(1, _pages(pdfs[2])[0] + 1)]
    headers = [t.strip().splitlines()[0] for t in texts if t.strip()]
    assert sum("関係図" in h.split() for h in headers) == 1, headers  # the header names the sheet


def test_the_readme_picture_is_up_to_date(tmp_path):
    import runpy

    gen = runpy.run_path(str(Path(__file__).parent.parent / "tools" / "gen_relmap.py"))
    out = tmp_path / "relmap.png"
    assert gen["main"](str(out)) == 0
    docs = Path(__file__).parent.parent / "docs" / "relmap.png"
    want, got = Image.open(docs), Image.open(out)
    assert want.size == got.size == (round(relmap.FIG_W * relmap.DPI), round(relmap.FIG_H * relmap.DPI))
    assert want.tobytes() == got.tobytes(), "docs/relmap.png is out of date: run `make docs`"


def test_generate_prefill_commands_draw_the_map_of_the_handed_over_people(tmp_path, monkeypatch):
    from click.testing import CliRunner
    from test_history import lineage

    from xltools.cli import cli
    from xltools.store.engine import Store

    monkeypatch.setenv("XLTOOLS_NOW", NOW.isoformat())
    db_url = f"sqlite:///{tmp_path / 'x.db'}"
    s = Store(db_url)
    lineage(s)
    s.close()
    out = tmp_path / "next.xlsx"
    r = CliRunner().invoke(cli, ["generate", "--account", "東都精機株式会社", "--account-id", "C-001",
                                 "--rep", "木村 三郎", "--period", "FY2026Q4", "-o", str(out), "--prefill",
                                 "--db", db_url])
    assert r.exit_code == 0, r.output
    assert len(openpyxl.load_workbook(out)["関係図"]._images) == 1
    roster = tmp_path / "roster.csv"
    roster.write_text("担当営業,顧客名,顧客コード,売上目標\n木村 三郎,東都精機株式会社,C-001,25000000\n"
                      "木村 三郎,新規顧客株式会社,N-9,1000000\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["generate", "--roster", str(roster), "--period", "FY2026Q4", "--out-dir",
                                 str(tmp_path / "plans"), "--prefill", "--db", db_url, "--jobs", "1"])
    assert r.exit_code == 0, r.output
    maps = {p.name: "関係図" in openpyxl.load_workbook(p).sheetnames for p in (tmp_path / "plans").glob("*.xlsx")}
    assert len(maps) == 2
    assert all(has == ("東都精機" in name) for name, has in maps.items())  # a new account gets no map


def test_live_map_gets_one_png_per_page(filled):
    pngs = relmap.render_relmap_png(SPEC, filled, "ja", NOW, settings=SETTINGS)
    m = relmap.build_map(SPEC, filled, "ja", now=NOW)
    assert len(pngs) == len(m.pages) >= 1 and all(p.startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)
    assert relmap.render_relmap_png(SPEC, plan_of([]), "en", NOW) == []
