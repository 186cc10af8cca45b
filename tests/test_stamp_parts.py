"""A plan written from the saved parts of a blank plan (xltools.workbook.generate.parts, what a
roster run writes) is, part by part and byte for byte, the workbook a fresh generate_workbook
writes for the same PlanInfo (docProps' modified time aside); the plans that cannot be written
that way are saved by openpyxl's path, and ordinary ones are not."""
from __future__ import annotations

import io
import random
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_stamp import AWKWARD as STAMP_AWKWARD
from test_stamp import MODIFIED, SETTINGS, SPEC, WHEN

from xltools import clock
from xltools.generation import _WORKER, generate_from_roster
from xltools.workbook.generate import PlanInfo, generate_workbook
from xltools.workbook.generate.stamp import BlankPlan
from xltools.workbook.outfile import DeflatePrefix, deflated, write_deflated, write_xlsx

#: test_stamp's awkward texts, and texts that look like the markup around a hole
AWKWARD = [*STAMP_AWKWARD, "<c r=\"C5\"/>", "</c></row>", "&L&R&C", "x" * 40_000]

_BLANKS: dict[str, BlankPlan] = {}


def info(lang: str, **kw) -> PlanInfo:
    base = dict(account_name="株式会社サンプル", rep="山田太郎", period="FY2026Q3", account_id="C-0001",
                target=30_000_000, lang=lang, plan_id="11111111-2222-3333-4444-555555555555",
                generated_at=WHEN)
    base.update(kw)
    return PlanInfo(**base)


def blank(lang: str) -> BlankPlan:
    if lang not in _BLANKS:
        _BLANKS[lang] = BlankPlan(SPEC, SETTINGS, info(lang))
    return _BLANKS[lang]


def _colliding() -> list[str]:
    """Texts the workbook already holds: the generator's own, the _meta keys and values, the
    blank's stand-ins."""
    out = {"x", "1", "account_plan", "1.0", "ja", "en", "FY2026Q3", "2026-07-01T09:30:00", *SPEC.meta_keys}
    for lang in ("ja", "en"):
        out.update(blank(lang).builder.static)
    return sorted(t for t in out if t.strip())


texts = st.one_of(st.sampled_from(AWKWARD), st.sampled_from(_colliding()), st.text(min_size=1, max_size=400),
                  st.builds(lambda a, b: a + b, st.sampled_from(["=", "+", "-", "@", "", " "]),
                            st.text(min_size=1, max_size=40))).filter(lambda s: s.strip())
optional = st.one_of(st.none(), st.just(""), texts)


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        out = {n: z.read(n) for n in z.namelist()}
    out["docProps/core.xml"] = MODIFIED.sub(b"", out["docProps/core.xml"])
    return out


def written(tmp: Path, i: PlanInfo) -> bool:
    """Write ``i`` fresh and from the blank's parts, assert the parts equal; whether the parts
    were made without openpyxl's save."""
    b = blank(i.lang)
    fast = b.fast_saves
    fresh = generate_workbook(SPEC, SETTINGS, i, tmp / "fresh.xlsx")
    made = b.save(i, tmp / "made.xlsx")
    a, m = parts(fresh), parts(made)
    assert list(a) == list(m)
    for name in a:
        assert a[name] == m[name], name
    return b.fast_saves > fast


@pytest.mark.parametrize("lang", ["ja", "en"])
@given(account=texts, rep=texts, account_id=optional, team=optional, plan_id=texts, predecessor=optional,
       target=st.one_of(st.none(), st.integers(0, 10**13)))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_parts_equal_fresh(tmp_path, lang, account, rep, account_id, team, plan_id, predecessor, target):
    i = info(lang, account_name=account, rep=rep, account_id=account_id or None, team_members=team or None,
             target=target, plan_id=plan_id, predecessor_plan_id=predecessor or None)
    fast = written(tmp_path, i)
    identity = [account, rep, account_id or "", team or "", plan_id, predecessor or ""]
    if not any(t.startswith(("=", "+", "-", "@")) for t in identity):
        assert fast  # only a quote-prefixed cell makes openpyxl's save necessary here


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_awkward_names_in_turn(tmp_path, lang):
    """One blank plan written over and over, from its parts and by the full save in turn:
    nothing of one plan stays in the next."""
    for n, name in enumerate(a for a in AWKWARD if a.strip()):
        other = AWKWARD[-1 - n] if AWKWARD[-1 - n].strip() else "r"
        written(tmp_path, info(lang, account_name=name, rep=other, account_id=None if n % 3 else name,
                               team_members=name if n % 2 else None, target=None if n % 4 else n * 1_000_000,
                               predecessor_plan_id=None if n % 2 else f"p-{n}"))
    assert written(tmp_path, info(lang))


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_ordinary_plans_take_the_fast_path(tmp_path, lang):
    """Ordinary identities -- short, long enough to wrap and make rows taller, optional fields
    left out, a predecessor -- are made from the parts; a quote-prefixed one is saved."""
    b = blank(lang)
    cases = [info(lang), info(lang, account_name="日新電力株式会社", rep="鈴木 誠", account_id=None, target=None),
             info(lang, team_members="、".join(f"SE 担当者{n}" for n in range(40)), account_name="A" * 200),
             info(lang, predecessor_plan_id="99999999-2222-3333-4444-555555555555", team_members="")]
    for i in cases:
        assert written(tmp_path, i)
    full = b.full_saves
    assert not written(tmp_path, info(lang, account_name="=1+1"))
    assert b.full_saves == full + 1
    assert b.parts.ok


def test_made_plan_reads_back(tmp_path):
    import openpyxl

    i = info("en", account_name="&<>\"' </c>", rep="Rep & <Co>", account_id=None, plan_id="p-1")
    wb = openpyxl.load_workbook(blank("en").save(i, tmp_path / "x.xlsx"))
    sheet, ref = list(wb.defined_names["account_name"].destinations)[0]
    assert wb[sheet][ref.replace("$", "")].value == "&<>\"' </c>"
    meta = {r[0].value: r[1].value for r in wb["_meta"].iter_rows()}
    assert (meta["account_name"], meta["rep"], meta["plan_id"], meta["account_id"]) == \
        ("&<>\"' </c>", "Rep & <Co>", "p-1", None)
    assert wb.properties.title == "&<>\"' </c> FY2026Q3"


def test_zip_as_write_xlsx_writes_it(tmp_path, monkeypatch):
    """The same zip as write_xlsx's: member order, names, headers, timestamps and compressed
    bytes (all but docProps/core.xml, whose modified time is the save's)."""
    monkeypatch.setattr(time, "time", lambda: 1_782_900_000.0)
    i = info("ja", account_name="株式会社テスト", team_members="SE 岡")
    made = blank("ja").save(i, tmp_path / "made.xlsx")
    write_xlsx(blank("ja").stamp(i), tmp_path / "saved.xlsx")
    raw_a, raw_b = made.read_bytes(), (tmp_path / "saved.xlsx").read_bytes()
    with zipfile.ZipFile(made) as a, zipfile.ZipFile(tmp_path / "saved.xlsx") as b:
        ia, ib = a.infolist(), b.infolist()
        fields = ("filename", "date_time", "compress_type", "flag_bits", "external_attr", "create_system",
                  "create_version", "extract_version", "extra", "comment")
        assert [[getattr(x, f) for f in fields] for x in ia] == [[getattr(x, f) for f in fields] for x in ib]
        for x, y in zip(ia, ib):
            if x.filename != "docProps/core.xml":
                assert (x.CRC, x.file_size, x.header_offset) == (y.CRC, y.file_size, y.header_offset)
                start = x.header_offset + 30 + len(x.filename.encode()) + len(x.extra)
                assert raw_a[start:start + x.compress_size] == raw_b[start:start + y.compress_size], x.filename


def test_write_deflated_is_zipfiles_bytes(monkeypatch):
    """write_deflated of members compressed ahead -- whole, or from a prefix split anywhere --
    writes the bytes ZipFile's writestr writes."""
    monkeypatch.setattr(time, "time", lambda: 1_782_900_000.0)
    rnd = random.Random(7)
    members = {"a.xml": b"<a>" + b"text " * 5000 + b"</a>", "empty": b"", "b/c.bin": bytes(rnd.randrange(256)
                                                                                      for _ in range(20_000)),
               "日本語.xml": "表".encode() * 3000}
    expected = io.BytesIO()
    with zipfile.ZipFile(expected, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as z:
        for name, data in members.items():
            z.writestr(name, data)
    for _ in range(5):
        out = io.BytesIO()
        made = []
        for name, data in members.items():
            k = rnd.randrange(len(data) + 1)
            made.append(DeflatePrefix(name, data[:k]).finish(data[k:]) if k % 2 else deflated(name, data))
        write_deflated(out, made)
        assert out.getvalue() == expected.getvalue()


def test_roster_run_uses_the_parts(tmp_path):
    """generate_from_roster writes its blank plans from the parts: every row but the one whose
    name makes a quote-prefixed cell; each file is the plan of its row (its new plan id aside)."""
    import openpyxl

    roster = tmp_path / "roster.csv"
    rows = [("鈴木 誠", "株式会社三重中央ガス", "C000001", 104_000_000), ("鈴木 誠", "日新電力株式会社", "C000002", None),
            ("山田 花子", "=HYPERLINK(1)", "C000003", 5_000_000), ("山田 花子", "協和ソフトウェア", None, 59_000_000)]
    roster.write_text("担当営業,顧客名,顧客コード,売上目標\n" + "".join(
        f"{rep},{account},{code or ''},{target or ''}\n" for rep, account, code, target in rows), encoding="utf-8")
    result = generate_from_roster(SPEC, SETTINGS, roster, "FY2026Q3", tmp_path / "out", jobs=1, now=WHEN)
    assert len(result.paths) == 4 and not result.errors
    (made,) = _WORKER["blanks"].values()
    assert (made.fast_saves, made.full_saves) == (3, 1)
    for path, (rep, account, code, target) in zip(result.paths, rows):
        meta = {r[0].value: r[1].value for r in openpyxl.load_workbook(path)["_meta"].iter_rows()}
        i = info("ja", account_name=account, rep=rep, account_id=code, target=target, plan_id=meta["plan_id"],
                 generated_at=clock.resolve(WHEN))
        assert parts(path) == parts(generate_workbook(SPEC, SETTINGS, i, tmp_path / "fresh.xlsx"))
