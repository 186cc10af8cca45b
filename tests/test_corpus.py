"""The realistic corpus: sizes, consistency, messy-but-valid values, deliberate mistakes,
determinism, and the round trip through the real generator and reader."""
from __future__ import annotations

import random
from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from xltools.checking.check import check_file, workbook_texts
from xltools.checking.normalize import NormContext, normalize_value
from xltools.errors import XltoolsError
from xltools.spec.config import Settings
from xltools.spec.periods import parse_period
from xltools.spec.spec import load_spec
from xltools.testing import corpus, folders
from xltools.workbook.generate import generate_workbook

PERIOD = "FY2026Q3"
AS_OF = date(2026, 10, 15)
NOW = datetime.combine(AS_OF, datetime.min.time()).replace(hour=12)  # local noon of AS_OF


@pytest.fixture(scope="module")
def ctx():
    settings = Settings()
    return settings.apply(load_spec()), settings


@pytest.fixture(scope="module")
def texts(ctx):
    spec, settings = ctx
    return workbook_texts(spec, settings)


def pair(ctx, seed: int, **kw):
    spec, settings = ctx
    kw.setdefault("messy", 0.0)
    kw.setdefault("mistakes", ())
    return corpus.make_plan_pair(random.Random(seed), spec, settings, account=corpus.Account("株式会社東邦精機", "C1"),
                                 rep="山田 太郎", team=("SE 岡",), period=PERIOD, as_of=AS_OF, **kw)


def values(plan):
    return plan.fields, {t: [r.values for r in rows] for t, rows in plan.tables.items()}


def names(plan, table, column):
    return [r[column] for r in plan.rows(table) if r[column] is not None]


# -- the plan as data ------------------------------------------------------------------------

def test_same_random_state_gives_the_same_plan(ctx):
    spec, settings = ctx
    a = corpus.make_plan(random.Random(7), spec, settings, account="A社", rep="r", period=PERIOD, messy=0.3)
    b = corpus.make_plan(random.Random(7), spec, settings, account="A社", rep="r", period=PERIOD, messy=0.3)
    c = corpus.make_plan(random.Random(8), spec, settings, account="A社", rep="r", period=PERIOD, messy=0.3)
    assert values(a) == values(b)
    assert values(a) != values(c)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**9), messy=st.sampled_from([0.0, 0.1, 0.5]))
def test_sizes_follow_a_real_organisation(ctx, seed, messy):
    _, typed = pair(ctx, seed, messy=messy, mistakes=None)
    assert 10 <= len(typed.rows("Opportunities")) <= 60
    assert 8 <= len(typed.rows("Contacts")) <= 40
    assert 5 <= len(typed.rows("Activities")) <= 50
    assert 0 <= len(typed.rows("SuccessCases")) <= 3
    assert 3 <= len(typed.rows("Initiatives")) <= 8


def test_sizes_are_skewed_towards_small_plans(ctx):
    sizes = [len(pair(ctx, s)[1].rows("Opportunities")) for s in range(200)]
    assert min(sizes) < 15 and max(sizes) > 40
    assert sorted(sizes)[100] < 35  # the median plan is small, a few are large


def test_every_input_field_and_column_is_filled_from_the_spec(ctx):
    spec, _ = ctx
    clean, typed = pair(ctx, 1)
    assert set(typed.fields) == {f.key for f in spec.input_fields}
    assert set(typed.tables) == {t.name for t in spec.tables}
    for t in spec.tables:
        for row in typed.rows(t.name):
            assert {c.key for c in t.input_columns} <= set(row.values) <= {c.key for c in t.columns}
    # prefilled tables carry one row per choice of their list, in the spec's order
    for t in spec.tables:
        if t.prefill:
            col = t.prefill["column"]
            assert [r[col] for r in typed.rows(t.name)] == spec.choices(t.column(col).choices).keys()


def test_a_clean_plan_is_consistent(ctx):
    spec, _ = ctx
    for seed in range(30):
        clean, typed = pair(ctx, seed)
        assert values(clean) == values(typed)  # messy=0: typed exactly as meant
        for f in spec.iter_all_fields():
            if f.choices and f.is_input:
                keys = set(spec.choices(f.choices).keys())
                got = [typed.fields.get(f.key)] if f.table is None else [r[f.key] for r in typed.rows(f.table)]
                assert {v for v in got if v is not None} <= keys, f.key
        contacts = set(names(typed, "Contacts", "name"))
        assert len(contacts) == len(typed.rows("Contacts"))  # names are unique
        assert set(names(typed, "Activities", "contact")) <= contacts
        assert set(names(typed, "Opportunities", "key_person")) <= contacts
        assert set(names(typed, "Contacts", "reports_to")) <= contacts
        assert set(names(typed, "Opportunities", "initiative")) <= set(names(typed, "Initiatives", "initiative"))
        assert set(names(typed, "Activities", "related_opp")) <= set(names(typed, "Opportunities", "opportunity"))
        for table in ("Opportunities", "Contacts", "Activities"):
            ids = names(typed, table, spec.table(table).id_column)
            assert len(ids) == len(set(ids)) == len(typed.rows(table))
        plan_total = sum(r["amount"] for r in typed.rows("Opportunities") if r["stage"] != "lost")
        assert plan_total / typed.fields["sales_target"] >= 3.0
        for r in typed.rows("Activities"):
            if r["status"] == "done":
                assert r["planned_date"] < AS_OF and r["done_date"] == r["planned_date"]
            if r["planned_date"] >= AS_OF:
                assert r["status"] == "planned"


def test_success_cases_share_phrases_so_that_search_finds_several(ctx):
    titles = [r["title"] for s in range(60) for r in pair(ctx, s)[1].rows("SuccessCases")]
    assert len(titles) >= 20
    assert sum("在庫削減" in t for t in titles) >= 2
    assert len(set(titles)) < len(titles)  # recurring themes, not random strings


def test_typed_values_are_messy_but_mean_the_clean_ones(ctx):
    clean, typed = pair(ctx, 3, messy=1.0)
    assert values(clean) != values(typed)
    assert all(isinstance(r["amount"], str) for r in typed.rows("Opportunities") if r["amount"] is not None)


def _spec_fields(spec, types):
    return [f for f in spec.iter_all_fields() if f.is_input and f.type in types]


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), seed=st.integers(0, 2**32))
def test_messy_forms_normalise_to_the_value_meant(ctx, data, seed):
    """Every messy form make_plan writes reads back (xltools.checking.normalize) as the clean value."""
    spec, settings = ctx
    period = parse_period(PERIOD)
    f = data.draw(st.sampled_from(_spec_fields(spec, {"amount", "date", "percent", "integer", "month", "rating",
                                                      "choice", "text", "longtext"})))
    if f.type == "amount":
        v = data.draw(st.integers(1, 10**13))
    elif f.type == "date":
        v = data.draw(st.dates(date(2000, 1, 1), date(2040, 12, 31)))
    elif f.type == "percent":
        v = data.draw(st.integers(0, 100)).__float__()
    elif f.type == "integer":
        v = data.draw(st.integers(0, 10**7))
    elif f.type == "month":
        v = data.draw(st.integers(1, 12))
    elif f.type == "rating":
        v = data.draw(st.integers(1, 5))
    elif f.type == "choice":
        v = data.draw(st.sampled_from(spec.choices(f.choices).keys()))
    else:
        v = data.draw(st.sampled_from(["在庫削減", "DX推進の提案", "A社と競合"]))
    maker = corpus._Maker(random.Random(seed), spec, settings, account=corpus.Account("x", "x"), rep="r", team=(),
                          period=period, lang=data.draw(st.sampled_from(["ja", "en"])), messy=1.0, as_of=AS_OF,
                          mistakes=set())
    typed = maker.messy_value(f, v)
    norm = normalize_value(f, typed, NormContext(amount_factor=1, period=period), spec)
    assert norm.value == v, (f.key, v, typed, norm)
    assert norm.code is None or norm.code.startswith("I-"), (typed, norm)


def test_bad_arguments_are_clear_errors(ctx):
    spec, settings = ctx
    with pytest.raises(XltoolsError):
        corpus.make_plan(random.Random(0), spec, settings, account="a", rep="r", period=PERIOD, messy=1.5)
    with pytest.raises(XltoolsError):
        corpus.make_plan(random.Random(0), spec, settings, account="a", rep="r", period=PERIOD, mistakes=["typo"])
    with pytest.raises(XltoolsError):
        corpus.make_plan(random.Random(0), spec, settings, account="a", rep="r", period=PERIOD, lang="fr")
    with pytest.raises(XltoolsError):
        folders.corpus_entries(-1)


# -- the roster of a corpus -----------------------------------------------------------------------

def test_corpus_entries_are_unique_accounts_spread_over_reps():
    entries = folders.corpus_entries(500, seed=4)
    assert [e.index for e in entries] == list(range(500))
    assert len({e.account.name for e in entries}) == 500
    assert len({e.account.account_id for e in entries}) == 500
    assert len({e.filename for e in entries}) == 500
    per_rep: dict[str, int] = {}
    for e in entries:
        per_rep[e.rep] = per_rep.get(e.rep, 0) + 1
    assert all(4 <= n <= 12 for n in list(per_rep.values())[:-1])
    assert {e.lang for e in entries} == {"ja", "en"}
    assert folders.corpus_entries(500, seed=4) == entries
    assert folders.corpus_entries(0) == []


def test_ten_thousand_account_names_are_distinct():
    entries = folders.corpus_entries(10_000, seed=0)
    assert len({e.account.name for e in entries}) == 10_000


# -- through the real generator and reader ------------------------------------------------------

def assert_reads_back(report, clean, spec):
    """What the reader got equals what the rep meant."""
    assert report.plan is not None, report.issues
    got = report.plan
    for k, v in clean.fields.items():
        assert got.fields.get(k) == v, (k, v, got.fields.get(k))
    stages = spec.choices("stage")
    for name, rows in clean.tables.items():
        assert len(got.rows(name)) == len(rows), name
        for want, have in zip(rows, got.rows(name)):
            for k, v in want.values.items():
                if name == "Opportunities" and k == "probability" and v is None and want["stage"]:
                    v = stages.get(want["stage"]).probability  # blank: the stage's default
                assert have.get(k) == v, (name, want.index, k, v, have.get(k))


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_messy_plans_read_back_as_meant(ctx, texts, tmp_path, lang):
    spec, settings = ctx
    for seed in (11, 12):
        clean, typed = pair(ctx, seed, messy=1.0, lang=lang)
        entry = corpus.CorpusEntry(seed, corpus.Account("株式会社東邦精機", "C1"), "山田 太郎", ("SE 岡",), lang, PERIOD)
        path = generate_workbook(spec, settings, folders.entry_info(entry), tmp_path / f"{seed}.xlsx", prefill=typed)
        report = check_file(path, spec, settings, static_texts=texts, now=NOW)
        assert_reads_back(report, clean, spec)
        assert not [i for i in report.issues if i.severity == "error"]


def test_deliberate_mistakes_are_reported_where_they_were_made(ctx, texts, tmp_path):
    spec, settings = ctx
    clean, typed = pair(ctx, 21, mistakes=list(corpus.MISTAKES))
    entry = corpus.CorpusEntry(0, corpus.Account("株式会社東邦精機", "C1"), "山田 太郎", (), "ja", PERIOD)
    path = generate_workbook(spec, settings, folders.entry_info(entry), tmp_path / "m.xlsx", prefill=typed)
    report = check_file(path, spec, settings, static_texts=texts, now=NOW)
    codes = {i.code for i in report.issues}
    assert set(corpus.MISTAKES.values()) <= codes

    def rows_with(table, pred):
        return [r.index for r in typed.rows(table) if pred(r)]

    missing = rows_with("Opportunities", lambda r: r["amount"] is None)
    assert [(i.table, i.field, i.row) for i in report.issues if i.code == "E-REQUIRED"] == \
        [("Opportunities", "amount", missing[0])]
    contacts = set(names(typed, "Contacts", "name"))
    stranger = rows_with("Activities", lambda r: r["contact"] not in contacts)
    assert [(i.table, i.row) for i in report.issues if i.code == "E-UNKNOWN-CONTACT"] == \
        [("Activities", stranger[0])]
    typo = rows_with("Contacts", lambda r: r["stance"] not in spec.choices("stance").keys())
    assert [(i.table, i.field, i.row) for i in report.issues if i.code == "E-CHOICE"] == \
        [("Contacts", "stance", typo[0])]


def test_clean_plans_have_no_errors(ctx, texts, tmp_path):
    spec, settings = ctx
    entries = folders.corpus_entries(4, seed=9)
    paths = folders.write_entries(tmp_path, entries, seed=9, jobs=1, messy=0.0, as_of=AS_OF)
    for p in paths:
        report = check_file(p, spec, settings, static_texts=texts, now=NOW)
        assert report.plan is not None
        assert [i.code for i in report.issues if i.severity == "error"] == []
        assert "W-COVERAGE-LOW" not in {i.code for i in report.issues}


def test_text_starting_with_a_formula_character_stays_text(ctx, texts, tmp_path):
    from openpyxl import load_workbook

    spec, settings = ctx
    seed = next(s for s in range(200) if any(
        isinstance(r.get("note"), str) and r["note"][:1] in "=+-@"
        for rows in pair(ctx, s, messy=0.5)[1].tables.values() for r in rows))
    clean, typed = pair(ctx, seed, messy=0.5)
    odd = [r["note"] for rows in typed.tables.values() for r in rows
           if isinstance(r.get("note"), str) and r["note"][:1] in "=+-@"]
    entry = corpus.CorpusEntry(0, corpus.Account("株式会社東邦精機", "C1"), "山田 太郎", (), "ja", PERIOD)
    path = generate_workbook(spec, settings, folders.entry_info(entry), tmp_path / "f.xlsx", prefill=typed)
    wb = load_workbook(path)
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value in odd]
    assert cells and all(c.data_type == "s" for c in cells)
    report = check_file(path, spec, settings, static_texts=texts, now=NOW)
    got = [r["note"] for rows in report.plan.tables.values() for r in rows if r.get("note") in odd]
    assert sorted(got) == sorted(odd)


def test_write_corpus_gives_the_same_plans_whatever_the_number_of_processes(ctx, texts, tmp_path):
    spec, settings = ctx
    one = folders.write_corpus(tmp_path / "one", 5, seed=5, jobs=1, as_of=AS_OF)
    two = folders.write_corpus(tmp_path / "two", 5, seed=5, jobs=2, as_of=AS_OF)
    assert [p.name for p in one] == [p.name for p in two]
    assert all(p.is_file() for p in one + two)
    for a, b in zip(one, two):
        ra = check_file(a, spec, settings, static_texts=texts, now=NOW)
        rb = check_file(b, spec, settings, static_texts=texts, now=NOW)
        assert ra.plan.meta == rb.plan.meta
        assert values(ra.plan) == values(rb.plan)
        assert [(i.code, i.cell) for i in ra.issues] == [(i.code, i.cell) for i in rb.issues]


# -- rosters, targets, the next month ----------------------------------------------------------

@pytest.mark.parametrize("suffix,lang", [(".xlsx", "ja"), (".csv", "en")])
def test_the_roster_reads_back_with_the_spec_labels(ctx, tmp_path, suffix, lang):
    from xltools.checking.roster import read_roster

    spec, _ = ctx
    entries = folders.corpus_entries(9, seed=2, per_rep=3, langs=["ja", "en"])
    assert [e.lang for e in entries] == ["ja"] * 3 + ["en"] * 3 + ["ja"] * 3
    assert len({e.rep for e in entries}) == 3
    roster = read_roster(folders.write_roster(tmp_path / f"roster{suffix}", entries, spec, lang=lang), spec)
    assert not roster.errors
    assert [(r.rep, r.account_name, r.account_id, r.target, r.lang) for r in roster] == \
        [(e.rep, e.account.name, e.account.account_id, e.target, e.lang) for e in entries]


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**9), target=st.integers(1, 3000).map(lambda m: m * 1_000_000),
       low=st.booleans())
def test_a_roster_target_is_kept_and_covered_as_drawn(ctx, seed, target, low):
    _, typed = pair(ctx, seed, target=target, mistakes=["low_coverage"] if low else [])
    assert typed.fields["sales_target"] == target
    spec, settings = ctx
    from xltools.spec.derive import Deriver

    ratio = Deriver(spec, settings).plan(typed.fields, typed.tables, typed.fields["period"])["coverage_ratio"]
    assert (ratio < 3.0) == low  # the coverage the workbook and check show: in-period pipeline / target


def test_the_next_month_moves_the_plan_on(ctx):
    spec, _ = ctx
    _, before = pair(ctx, 31)
    snapshot = values(before)
    later = date(2026, 11, 20)
    after = corpus.advance_plan(random.Random(1), before, spec, as_of=later)
    assert values(before) == snapshot  # the input plan is not modified
    ladder = ["hypothesis", "proposal", "negotiation", "verbal", "won"]
    old, new = before.rows("Opportunities"), after.rows("Opportunities")
    assert 1 <= len(new) - len(old) <= 3
    moved = 0
    for a, b in zip(old, new):
        assert a["opp_id"] == b["opp_id"]
        if a["stage"] != b["stage"]:
            moved += 1
            assert b["stage"] == "lost" or ladder.index(b["stage"]) == ladder.index(a["stage"]) + 1
    assert moved >= 1
    assert len({r["opp_id"] for r in new}) == len(new)
    for r in after.rows("Activities"):
        if r["planned_date"] < later:
            assert r["status"] != "planned"
    assert after.fields["plan_date"] == later
