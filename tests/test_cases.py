"""The success-case library: merging, Japanese search on the real engines (SQLite FTS5
trigram, PostgreSQL pg_trgm), sharing scopes, the library workbook and the commands."""
from __future__ import annotations

import json
import unicodedata
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_history import T0, plan, save

from xltools.cli import cli
from xltools.errors import XltoolsError
from xltools.reports.cases import (
    CaseNotFound,
    _snippet,
    export_library,
    fold,
    fold_map,
    get_case,
    list_cases,
    query_terms,
    rebuild_search_index,
    scope_keys,
    search_cases,
    sync_library,
)
from xltools.spec.spec import load_spec
from xltools.store import schema as sch
from xltools.store.engine import Store

SPEC = load_spec()

# -- folding (hypothesis) ---------------------------------------------------------------------

_HALF = {}
for _cp in range(0xFF61, 0xFFA0):  # half-width katakana and the sound marks
    _h = chr(_cp)
    _HALF.setdefault(unicodedata.normalize("NFKC", _h), _h)
    for _mark in "\uff9e\uff9f":
        _f = unicodedata.normalize("NFKC", _h + _mark)
        if len(_f) == 1:
            _HALF.setdefault(_f, _h + _mark)
KATAKANA = sorted(k for k in _HALF if "\u30a1" <= k <= "\u30fa")


def to_half(text: str) -> str:
    return "".join(_HALF.get(ch, ch) for ch in text)


def to_full(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


ascii_words = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)
any_text = st.text(max_size=60)


@given(any_text)
def test_fold_is_idempotent_and_maps_every_character(text):
    folded, starts = fold_map(text)
    assert fold(folded) == folded
    assert len(starts) == len(folded)
    assert starts == sorted(starts) and all(0 <= i < max(len(text), 1) for i in starts)
    assert "  " not in folded and folded == folded.strip(" ")


@given(ascii_words)
def test_full_width_and_case_fold_away(text):
    assert fold(to_full(text)) == fold(text) == fold(text.upper()) == fold(text.lower())


@given(st.text(st.sampled_from(KATAKANA), min_size=1, max_size=12))
def test_half_width_katakana_folds_to_full_width(text):
    assert fold(to_half(text)) == fold(text) == text


@given(any_text, st.data())
def test_snippet_highlights_the_match_in_the_original(text, data):
    terms = query_terms(text)
    if not terms:
        return
    word = data.draw(st.sampled_from(terms))
    i = data.draw(st.integers(0, len(word) - 1))
    j = data.draw(st.integers(i + 1, len(word)))
    term = word[i:j]
    snip, (a, b) = _snippet(text, term)
    assert term in fold(snip[a:b])
    assert 0 <= a < b <= len(snip)


def test_query_terms_split_on_any_width_of_space():
    assert query_terms("在庫　削減  ＥＲＰ") == ["在庫", "削減", "erp"]
    assert query_terms(" \u200b ") == []


# -- the library on the real engines -----------------------------------------------------------

CASE_A = {"case_id": "1", "title": "在庫削減で物流コスト20%減", "customer": "大手自動車部品A社", "industry": "automotive",
          "department": "生産管理部", "challenge": "拠点ごとの過剰在庫", "solution": "需要予測と在庫の見える化",
          "value": "在庫回転日数を30日短縮", "products": "SCM クラウド", "amount": 24_000_000,
          "closed_date": date(2026, 3, 31), "success_factors": "現場と経営の両方を巻き込んだ", "reusable_for": "部品メーカー全般",
          "shareable": "company", "author": "山田"}
CASE_B = {"case_id": "1", "title": "ＥＲＰ刷新による月次決算の早期化", "customer": "北陸化学工業", "industry": "chemicals",
          "department": "経理部", "challenge": "月次決算に10日かかる", "solution": "ＥＲＰ刷新とワークフロー",
          "value": "決算を5日に短縮し、在庫削減にも効果", "products": "会計クラウド", "shareable": "company"}
CASE_HALF = {"title": "ｻﾞｲｺ最適化ﾌﾟﾛｼﾞｪｸﾄ", "customer": "関西食品", "challenge": "賞味期限切れ在庫",
             "solution": "販売予測", "industry": "food", "shareable": "company"}
CASE_DEPT = {"title": "在庫削減の社内限定ノウハウ", "customer": "匿名", "challenge": "在庫削減", "solution": "棚卸の自動化",
             "shareable": "department"}
CASE_PRIVATE = {"title": "在庫削減（価格情報を含む）", "customer": "東都精機", "challenge": "在庫削減",
                "solution": "値引き条件", "shareable": "private"}
CASE_FORMULA = {"title": "=HYPERLINK(\"http://example.com\",\"在庫削減\")", "challenge": "+在庫", "solution": "@在庫",
                "value": "-在庫削減", "shareable": "company"}


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.close()


def library(store: Store) -> dict:
    """Three plans of two accounts with cases in every scope; returns their plan ids."""
    a = plan(account_name="東都精機株式会社", account_id="C-001", rep="山田 太郎", period="FY2026Q1",
             SuccessCases=[CASE_A, CASE_HALF, CASE_PRIVATE])
    b = plan(account_name="北陸化学工業", account_id="C-002", rep="鈴木 一郎", period="FY2026Q1",
             SuccessCases=[CASE_B, CASE_DEPT])
    c = plan(account_name="関西食品", account_id="C-003", rep="佐藤 花子", period="FY2026Q1",
             SuccessCases=[dict(CASE_A, case_id="C-7", shareable=None, amount=None), CASE_FORMULA])
    for i, p in enumerate((a, b, c)):
        save(store, p, at=T0 + timedelta(days=i))
    return {"a": a.plan_id, "b": b.plan_id, "c": c.plan_id}


def titles(hits) -> list[str]:
    return [h.case["title"] for h in hits]


def test_search_finds_every_plan_that_mentions_it_and_respects_scopes(store):
    ids = library(store)
    hits = search_cases(store, "在庫削減")
    # company scope: the formula-like case (title + value), A (title; from plans a and c), B (value);
    # ranked by weighted occurrences (title 3, value 1); never the department or private ones
    assert titles(hits) == [CASE_FORMULA["title"], CASE_A["title"], CASE_B["title"]]
    assert [h.score for h in hits] == [4, 3, 1]
    assert sorted(s.plan_id for s in hits[1].case.sources) == sorted([ids["a"], ids["c"]])
    assert [s.plan_id for s in hits[2].case.sources] == [ids["b"]]
    assert [h.column for h in hits] == ["title", "title", "value"]
    assert titles(search_cases(store, "在庫削減", scope="department")) == [CASE_DEPT["title"]]
    assert set(titles(search_cases(store, "在庫削減", scope="all"))) == {
        CASE_A["title"], CASE_FORMULA["title"], CASE_B["title"], CASE_DEPT["title"]}
    for scope in ("company", "department", "all"):
        assert CASE_PRIVATE["title"] not in titles(search_cases(store, "価格情報", scope=scope))
        assert CASE_PRIVATE["title"] not in [c["title"] for c in list_cases(store, scope=scope)]
    with pytest.raises(XltoolsError):
        search_cases(store, "在庫", scope="private")
    with pytest.raises(XltoolsError):
        search_cases(store, "   ")


def test_width_and_case_variants(store):
    library(store)
    assert titles(search_cases(store, "ザイコ最適化")) == [CASE_HALF["title"]]
    assert titles(search_cases(store, "ｻﾞｲｺ")) == [CASE_HALF["title"]]
    assert titles(search_cases(store, "プロジェクト")) == [CASE_HALF["title"]]
    for q in ("erp", "ERP", "ＥＲＰ", "ｅｒｐ刷新"):
        assert titles(search_cases(store, q)) == [CASE_B["title"]], q
    assert titles(search_cases(store, "２０％")) == [CASE_A["title"]]
    # several words: all must occur, in any searched column
    assert titles(search_cases(store, "在庫　物流")) == [CASE_A["title"]]
    assert search_cases(store, "在庫 存在しない語") == []


def test_one_and_two_character_queries(store):
    library(store)
    assert set(titles(search_cases(store, "庫"))) == {CASE_A["title"], CASE_B["title"], CASE_HALF["title"],
                                                     CASE_FORMULA["title"]}
    assert titles(search_cases(store, "決算")) == [CASE_B["title"]]
    assert titles(search_cases(store, "刷")) == [CASE_B["title"]]
    assert titles(search_cases(store, "ﾌﾟ")) == [CASE_HALF["title"]]  # two half-width characters, one folded
    assert titles(search_cases(store, "20")) == [CASE_A["title"]]


def test_filters(store):
    library(store)
    assert titles(search_cases(store, "在庫", industry="自動車・輸送機器")) == [CASE_A["title"]]
    assert titles(search_cases(store, "在庫", industry="automotive")) == [CASE_A["title"]]
    assert titles(search_cases(store, "在庫", industry="Chemicals")) == [CASE_B["title"]]
    assert titles(search_cases(store, "在庫", product="ｓｃｍ")) == [CASE_A["title"]]
    assert titles(search_cases(store, "在庫", department="経理")) == [CASE_B["title"]]
    assert search_cases(store, "在庫", industry="金融・保険") == []


def test_the_engine_index_answers(store):
    library(store)
    assert sync_library(store) == 7  # every stored row, merged into 6 cases
    with store.engine.connect() as conn:
        n_cases = conn.execute(sa.text("SELECT count(*) FROM case_library")).scalar()
        assert n_cases == 6
        if store.dialect == "sqlite":
            n_fts = conn.execute(sa.text(f"SELECT count(*) FROM {sch.CASE_FTS}")).scalar()
            assert n_fts == n_cases
            hit = conn.execute(sa.text(f"SELECT rowid FROM {sch.CASE_FTS} WHERE {sch.CASE_FTS} MATCH :m"),
                               {"m": '"ザイコ最適"'}).scalars().all()
            assert len(hit) == 1
        else:
            assert conn.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).scalar() == 1
            idx = conn.execute(sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
                               {"n": sch.CASE_TRGM_INDEX}).scalar()
            assert "gin" in idx and "gin_trgm_ops" in idx
            conn.execute(sa.text("SET enable_seqscan = off"))
            plan_text = "\n".join(conn.execute(sa.text(
                "EXPLAIN SELECT id FROM case_library WHERE search_text LIKE '%ざいこ%' OR search_text LIKE '%在庫削減%'"
            )).scalars())
            assert sch.CASE_TRGM_INDEX in plan_text
    assert sync_library(store) == 0


def test_the_same_case_is_stored_once(store):
    ids = library(store)
    cases = list_cases(store, scope="all")
    assert [c["title"] for c in cases].count(CASE_A["title"]) == 1
    # A's amount came from plan a; plan c (newer, blank amount) keeps it; its blank scope keeps company
    a = next(c for c in cases if c["title"] == CASE_A["title"])
    assert a["amount"] == 24_000_000 and a["shareable"] == "company" and a["case_id"] == "C-7"
    # "1" in two different plans: two different cases (IDs are per workbook)
    assert CASE_B["title"] in [c["title"] for c in cases]

    # plan a again, a later version: the case is updated, renamed under the same case_id
    renamed = dict(CASE_A, title="在庫削減で物流コスト25%減", value="在庫回転日数を45日短縮")
    save(store, plan(account_name="東都精機株式会社", account_id="C-001", plan_id=ids["a"], period="FY2026Q1",
                     SuccessCases=[renamed, CASE_HALF, CASE_PRIVATE]), at=T0 + timedelta(days=30))
    after = list_cases(store, scope="all")
    assert len(after) == len(cases)
    a2 = next(c for c in after if c.id == a.id)
    assert (a2["title"], a2["value"]) == ("在庫削減で物流コスト25%減", "在庫回転日数を45日短縮")
    assert sorted({s.plan_id for s in a2.sources}) == sorted([ids["a"], ids["c"]])
    assert [h.case.id for h in search_cases(store, "45日")] == [a.id]
    assert search_cases(store, "30日短縮") == []  # the index follows the update
    assert sync_library(store) == 0  # idempotent

    # an older file of plan b arriving late does not overwrite newer values; a blank scope never widens one
    save(store, plan(account_name="北陸化学工業", account_id="C-002", plan_id=ids["b"], period="FY2026Q1",
                     SuccessCases=[dict(CASE_B, value="古い記述"), dict(CASE_DEPT, shareable=None)]),
         at=T0 - timedelta(days=30))
    b = next(c for c in list_cases(store, scope="all") if c["title"] == CASE_B["title"])
    assert b["value"] == CASE_B["value"]
    assert titles(search_cases(store, "棚卸")) == []
    assert titles(search_cases(store, "棚卸", scope="department")) == [CASE_DEPT["title"]]


def test_rows_that_cannot_be_a_case_are_left_alone(store):
    save(store, plan(SuccessCases=[{"amount": 5_000_000, "author": "山田"}, {"case_id": "9", "products": "SCM"}]))
    assert sync_library(store) == 0
    assert list_cases(store, scope="all") == []


def test_show_respects_scopes(store):
    library(store)
    by_title = {c["title"]: c for c in list_cases(store, scope="all")}
    a = by_title[CASE_A["title"]]
    assert get_case(store, a.no)["title"] == CASE_A["title"]
    assert get_case(store, str(a.no)).id == a.id
    assert get_case(store, "c-7").id == a.id  # by case_id, normalised
    dept = by_title[CASE_DEPT["title"]]
    with pytest.raises(CaseNotFound):
        get_case(store, dept.no)
    assert get_case(store, dept.no, scope="department").id == dept.id
    with store.engine.connect() as conn:
        private_id = conn.execute(sa.text("SELECT library_no FROM case_library WHERE shareable = 'private'")).scalar()
    for scope in ("company", "department", "all"):
        with pytest.raises(CaseNotFound):
            get_case(store, private_id, scope=scope)
    with pytest.raises(CaseNotFound):
        get_case(store, 99999)


def test_rebuild_search_index(store):
    library(store)
    n = rebuild_search_index(store)
    assert n == len(list_cases(store, scope="all")) + 1  # + the private case
    assert titles(search_cases(store, "ザイコ")) == [CASE_HALF["title"]]


def test_scope_keys_come_from_the_spec():
    assert scope_keys(SPEC, None) == ("company",)
    assert scope_keys(SPEC, "Department") == ("department",)
    assert scope_keys(SPEC, "all") == ("company", "department")


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory):
    s = Store(f"sqlite:///{tmp_path_factory.mktemp('cases') / 'cases.db'}")
    yield s
    s.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40),
       st.data())
def test_any_stored_text_is_found_by_any_part_of_it(sqlite_store, text, data):
    """Whatever a rep typed as a title, every piece of it (1 character and up) finds it:
    the FTS5 trigram path for 3+ characters and the instr path below agree."""
    terms = query_terms(text)
    if not terms:
        return
    word = data.draw(st.sampled_from(terms))
    i = data.draw(st.integers(0, len(word) - 1))
    j = data.draw(st.integers(i + 1, min(len(word), i + 6)))
    p = plan(SuccessCases=[{"title": text, "challenge": "x", "solution": "y"}])
    save(sqlite_store, p)
    hits = search_cases(sqlite_store, word[i:j], limit=None)
    assert p.plan_id in {src.plan_id for h in hits for src in h.case.sources}


# -- the library workbook -------------------------------------------------------------------------

def _read_library(path):
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws, cards = wb.worksheets
    table = next(iter(ws.tables.values()))
    header = [c.value for c in ws[1]]
    body = [[c for c in row] for row in ws.iter_rows(min_row=2, max_row=ws.max_row)]
    return wb, ws, cards, table, header, body


def test_export_library_workbook(store, tmp_path):
    library(store)
    out = tmp_path / "library.xlsx"
    assert export_library(store, out) == 4
    wb, ws, cards, table, header, body = _read_library(out)
    # the list: the columns a reader scans (11, one A4 landscape width); every column is on the card
    assert header == ["No.", "事例タイトル", "顧客名", "業種", "製品・サービス", "受注金額", "受注時期", "記入者",
                      "記入者の事例ID", "現在の担当営業", "出典プラン"]
    assert table.ref == "A1:K5"
    nos = [row[0].value for row in body]
    assert nos == sorted(nos) and len(set(nos)) == 4  # ordered by library number
    title_col = header.index("事例タイトル")
    listed = [row[title_col].value for row in body]
    assert sorted(listed) == sorted([CASE_A["title"], CASE_HALF["title"], CASE_FORMULA["title"], CASE_B["title"]])
    formula_row = next(row for row in body if row[title_col].value == CASE_FORMULA["title"])
    for cell in formula_row:
        if isinstance(cell.value, str) and cell.value[:1] in "=+-@":
            assert cell.data_type == "s"  # text stays text
    ind = header.index("業種")
    assert "自動車・輸送機器" in [row[ind].value for row in body]
    amount = body[[r[title_col].value for r in body].index(CASE_A["title"])][header.index("受注金額")]
    assert amount.value == 24_000_000 and amount.number_format == "#,##0"
    # every case has a card, and its number links to it
    card_text = [c.value for row in cards.iter_rows() for c in row if c.value is not None]
    for t in listed:
        assert t in card_text
    assert body[0][0].hyperlink.location.startswith(f"'{cards.title}'!A")
    assert ws.freeze_panes == "B2"

    en = tmp_path / "library_en.xlsx"
    assert export_library(store, en, scope="all", lang="en") == 5
    _, ws_en, _, _, header_en, body_en = _read_library(en)
    assert ws_en.title == "Cases" and "Title" in header_en
    assert CASE_DEPT["title"] in [r[header_en.index("Title")].value for r in body_en]
    with pytest.raises(XltoolsError):
        export_library(store, tmp_path / "nope" / "x.xlsx")
    with pytest.raises(XltoolsError):
        export_library(store, tmp_path / "library.csv")


def test_library_numbers_are_stable_unique_and_name_whom_to_ask(store, tmp_path):
    """Reps type their own IDs ("1" in two plans): every case gets its own library number,
    given once in the order cases arrive, kept when the same case is collected again (and
    when a newer version renames it), never given to another case; the list is ordered by
    it and names the author and the account's current rep."""
    ids = library(store)
    first = {c["title"]: c.no for c in list_cases(store, scope="all")}
    with store.engine.connect() as conn:
        private_no = conn.execute(sa.text("SELECT library_no FROM case_library WHERE shareable = 'private'")).scalar()
    # 6 cases numbered 1..6 without gaps; the private one has its number but never leaves the database
    assert sorted([*first.values(), private_no]) == list(range(1, 7))
    assert first[CASE_A["title"]] != first[CASE_B["title"]]  # both typed "1" by their reps
    # numbers follow arrival: plan a's cases (day 0) before plan b's (day 1) before plan c's (day 2)
    assert first[CASE_A["title"]] < first[CASE_B["title"]] < first[CASE_FORMULA["title"]]
    # the same plans collected again, a newer version renaming case A, and a new rep for account C-001
    renamed = dict(CASE_A, title="在庫削減で物流コスト25%減")
    save(store, plan(account_name="東都精機株式会社", account_id="C-001", plan_id=ids["a"], rep="高橋 次郎",
                     period="FY2026Q1", SuccessCases=[renamed, CASE_HALF, CASE_PRIVATE,
                                                      dict(CASE_B, case_id="9", title="新しい事例", customer="X")]),
         at=T0 + timedelta(days=10))
    again = {c["title"]: c for c in list_cases(store, scope="all")}
    assert again[renamed["title"]].no == first[CASE_A["title"]]
    assert {t: again[t].no for t in first if t != CASE_A["title"]} == {t: n for t, n in first.items()
                                                                         if t != CASE_A["title"]}
    assert again["新しい事例"].no == 7  # a new case: the next number, never an old one
    assert again[renamed["title"]].current_reps == ["高橋 次郎", "佐藤 花子"]  # accounts of plans a and c
    assert get_case(store, 7)["title"] == "新しい事例"
    with store.engine.connect() as conn:
        nos = conn.execute(sa.text("SELECT library_no FROM case_library ORDER BY library_no")).scalars().all()
    assert nos == list(range(1, 8))

    out = tmp_path / "library.xlsx"
    export_library(store, out, scope="all")
    _, ws, cards, _, header, body = _read_library(out)
    assert [r[0].value for r in body] == [n for n in range(1, 8) if n != private_no]
    row = {h: c.value for h, c in zip(header, next(r for r in body if r[0].value == first[CASE_A["title"]]))}
    assert (row["事例タイトル"], row["記入者"], row["記入者の事例ID"]) == (renamed["title"], "山田", "1")
    assert row["現在の担当営業"] == "高橋 次郎, 佐藤 花子"
    card_text = [c.value for r in cards.iter_rows() for c in r if c.value is not None]
    assert "記入者 山田　担当営業 高橋 次郎　担当営業 佐藤 花子" in card_text
    assert f"No. {first[CASE_A['title']]}" in card_text
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$1:$1"
    assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
    assert "&P" in ws.oddFooter.center.text and ws.oddHeader.center.text == "社外秘"


@pytest.mark.libreoffice
def test_library_workbook_opens_in_libreoffice(soffice, tmp_path):
    from xltools.workbook.libreoffice import recalculate

    with Store(f"sqlite:///{tmp_path / 'x.db'}") as s:
        library(s)
        out = tmp_path / "library.xlsx"
        export_library(s, out, scope="all")
    converted = recalculate(out, tmp_path / "lo")
    _, ws, cards, _, header, body = _read_library(converted)
    assert len(body) == 5 and CASE_FORMULA["title"] in [r[header.index("事例タイトル")].value for r in body]


# -- command line ---------------------------------------------------------------------------------

def test_cases_commands(db_url, tmp_path):
    with Store(db_url) as s:
        library(s)
    run = CliRunner().invoke
    r = run(cli, ["cases", "search", "在庫削減", "--db", db_url, "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert [h["case"]["title"] for h in d["hits"]] == [CASE_FORMULA["title"], CASE_A["title"], CASE_B["title"]]
    first = d["hits"][1]
    a, b = first["highlight"]
    assert first["snippet"][a:b] == "在庫削減" and first["column"] == "title"
    assert first["case"]["industry"] == "automotive" and first["case"]["industry_label"] == "自動車・輸送機器"

    r = run(cli, ["cases", "search", "在庫削減", "--db", db_url, "--scope", "department"])
    assert r.exit_code == 0 and CASE_DEPT["title"] in r.stdout and CASE_A["title"] not in r.stdout
    r = run(cli, ["cases", "search", "在庫", "--db", db_url, "--industry", "化学・素材", "--lang", "en"])
    assert r.exit_code == 0 and CASE_B["title"] in r.stdout and CASE_A["title"] not in r.stdout

    case_no = str(first["case"]["id"])
    r = run(cli, ["cases", "show", case_no, "--db", db_url, "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["title"] == CASE_A["title"]
    r = run(cli, ["cases", "show", "99999", "--db", db_url])
    assert r.exit_code == 3 and "Traceback" not in r.output

    out = tmp_path / "lib.xlsx"
    r = run(cli, ["cases", "export", "-o", str(out), "--db", db_url, "--scope", "all"])
    assert r.exit_code == 0 and out.exists()
    r = run(cli, ["cases", "search", "在庫", "--db", db_url, "--scope", "private"])
    assert r.exit_code == 2 and "Traceback" not in r.output  # a usage error


def test_cases_command_without_a_database(tmp_path):
    r = CliRunner().invoke(cli, ["cases", "search", "在庫", "--db", f"sqlite:///{tmp_path / 'missing.db'}"])
    assert r.exit_code == 3 and "Traceback" not in r.output
    assert not (tmp_path / "missing.db").exists()
