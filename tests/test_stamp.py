"""A blank plan re-stamped for a PlanInfo (xltools.workbook.generate.stamp, what a roster run
uses) is, part by part, the workbook a fresh generate_workbook writes for the same PlanInfo
(docProps' modified time aside)."""
from __future__ import annotations

import re
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xltools.spec.config import Settings
from xltools.spec.spec import load_spec
from xltools.workbook.generate import PlanInfo, generate_workbook, save_atomic
from xltools.workbook.generate.stamp import BlankPlan

SPEC = load_spec()
SETTINGS = Settings()
WHEN = datetime(2026, 7, 1, 9, 30)
MODIFIED = re.compile(rb"<dcterms:modified[^>]*>[^<]*</dcterms:modified>")

AWKWARD = [
    "=cmd|' /C calc'!A0", "+1+1", "-2", "@SUM(A1)", "x" * 300, "長い会社名" * 60, "a\x00b\x07c\x1fd",
    "&<>\"'", "Ｆｕｌｌ－ｗｉｄｔｈ株式会社", "🍣寿司🍺 Holdings", "CON", "NUL.txt", "LPT1", "a/b\\c:d*e?f",
    "_x0041_", " leading and trailing ", "line\nbreak\r\ntext", "\t", "'quoted'", "&[Page]&A&&",
    "\ud800lone",
]

texts = st.one_of(st.sampled_from(AWKWARD), st.text(min_size=1, max_size=400)).filter(lambda s: s.strip())
optional = st.one_of(st.none(), st.just(""), texts)


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        out = {n: z.read(n) for n in z.namelist()}
    out["docProps/core.xml"] = MODIFIED.sub(b"", out["docProps/core.xml"])
    return out


def info(lang: str, **kw) -> PlanInfo:
    base = dict(account_name="株式会社サンプル", rep="山田太郎", period="FY2026Q3", account_id="C-0001",
                target=30_000_000, lang=lang, plan_id="11111111-2222-3333-4444-555555555555",
                generated_at=WHEN)
    base.update(kw)
    return PlanInfo(**base)


_BLANKS: dict[str, BlankPlan] = {}


def blank(lang: str) -> BlankPlan:
    if lang not in _BLANKS:
        _BLANKS[lang] = BlankPlan(SPEC, SETTINGS, info(lang))
    return _BLANKS[lang]


def assert_same(tmp: Path, i: PlanInfo) -> None:
    fresh = generate_workbook(SPEC, SETTINGS, i, tmp / "fresh.xlsx")
    stamped = save_atomic(blank(i.lang).stamp(i), tmp / "stamped.xlsx")
    a, b = parts(fresh), parts(stamped)
    assert list(a) == list(b)
    for name in a:
        assert a[name] == b[name], name


@pytest.mark.parametrize("lang", ["ja", "en"])
@given(account=texts, rep=texts, account_id=optional, team=optional,
       target=st.one_of(st.none(), st.integers(0, 10**13)))
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_stamped_equals_fresh(tmp_path, lang, account, rep, account_id, team, target):
    assert_same(tmp_path, info(lang, account_name=account, rep=rep, account_id=account_id or None,
                               team_members=team or None, target=target))


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_awkward_names_in_turn(tmp_path, lang):
    """One blank plan stamped over and over: nothing of one plan stays in the next (a
    quote-prefixed cell, a taller row, a _meta row)."""
    for n, name in enumerate(a for a in AWKWARD if a.strip()):
        assert_same(tmp_path, info(lang, account_name=name, rep=AWKWARD[-1 - n].strip() and AWKWARD[-1 - n] or "r",
                                   account_id=None if n % 3 else name, team_members=name if n % 2 else None,
                                   target=None if n % 4 else n * 1_000_000))
    assert_same(tmp_path, info(lang))


def test_stamped_values_read_back(tmp_path):
    import openpyxl

    i = info("en", account_name="=cmd|' /C calc'!A0", rep="&<>\"'", plan_id="p-1")
    wb = openpyxl.load_workbook(save_atomic(blank("en").stamp(i), tmp_path / "x.xlsx"))
    sheet, ref = list(wb.defined_names["account_name"].destinations)[0]
    cell = wb[sheet][ref.replace("$", "")]
    assert (cell.value, cell.data_type, cell.quotePrefix) == ("=cmd|' /C calc'!A0", "s", True)
    meta = {r[0].value: r[1].value for r in wb["_meta"].iter_rows()}
    assert (meta["account_name"], meta["rep"], meta["plan_id"], meta["account_id"]) == \
        ("=cmd|' /C calc'!A0", "&<>\"'", "p-1", "C-0001")


def test_other_key_refused():
    with pytest.raises(ValueError):
        blank("ja").stamp(info("en"))
    with pytest.raises(ValueError):
        blank("ja").stamp(info("ja", period="FY2027"))
