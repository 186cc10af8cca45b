"""The reading rules: messy cell values -> clean PlanData values or precise issues."""
from __future__ import annotations

import re
import string
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from xltools.checking.normalize import (
    DATE_MAX,
    DATE_MIN,
    Normalized,
    NormalizeError,
    NormContext,
    display_text,
    is_placeholder,
    normalize_value,
    parse_amount,
    parse_choice,
    parse_date,
    parse_integer,
    parse_month,
    parse_number,
    parse_percent,
    parse_period_text,
    parse_rating,
)
from xltools.spec.config import Settings
from xltools.spec.issues import ISSUE_TYPES
from xltools.spec.periods import Period
from xltools.spec.spec import load_spec

SPEC = Settings().apply(load_spec())
ALL_FIELDS = list(SPEC.iter_all_fields())
#: one field of every type the spec uses (the first one in workbook order)
BY_TYPE = {}
for _f in ALL_FIELDS:
    BY_TYPE.setdefault(_f.type, _f)
STANCE = SPEC.table("Contacts").column("stance")            # closed list
INDUSTRY = SPEC.field("industry")                            # open list
DONE = SPEC.table("Reviews").column("done")                 # 未 is a label here
APPOINTMENT = SPEC.table("Activities").column("appointment")
CTX = NormContext()
CTX_Q4 = NormContext(period=Period(2026, 4))
FULL_WIDTH = str.maketrans("0123456789,.-()%/", "０１２３４５６７８９，．－（）％／")


def norm(fld, raw, ctx=CTX) -> Normalized:
    return normalize_value(fld, raw, ctx, SPEC)


def fails(fn, *args):
    with pytest.raises(NormalizeError) as e:
        fn(*args)
    return e.value


def test_spec_types_are_all_covered():
    """Every input type the template uses is exercised by the table-driven tests below."""
    assert set(BY_TYPE) >= {"text", "longtext", "id", "period", "amount", "integer", "number", "percent",
                            "date", "month", "rating", "choice"}


# -- amounts ---------------------------------------------------------------------------------
AMOUNTS = [
    ("1200", 1, 1200),
    ("１，２００", 1, 1200),
    ("1,200", 1000, 1_200_000),
    (1200, 1000, 1_200_000),
    (1200.0, 1_000_000, 1_200_000_000),
    ("1,200万円", 1000, 12_000_000),          # explicit unit overrides the workbook unit
    ("1,200万", 1, 12_000_000),
    ("1.2億", 1000, 120_000_000),
    ("1.2億円", 1, 120_000_000),
    ("1億2,000万円", 1, 120_000_000),
    ("1億2000万", 1, 120_000_000),
    ("1億2345万6789円", 1, 123_456_789),
    ("1万5千", 1, 15_000),
    ("1万500円", 1, 10_500),
    ("1万5円", 1, 10_005),                    # with 円 the literal reading is clear (1万5 alone is not)
    ("3千万円", 1, 30_000_000),
    ("12百万円", 1, 12_000_000),
    ("500千円", 1_000_000, 500_000),
    ("3千円", 1000, 3000),
    ("2兆", 1, 2_000_000_000_000),
    ("¥1,200,000", 1000, 1_200_000),
    ("￥1,200,000", 1000, 1_200_000),
    ("¥ 1,200,000", 1, 1_200_000),
    ("\\1,200,000", 1000, 1_200_000),          # the yen sign as a JIS backslash
    ("JPY 5,000", 1000, 5000),
    ("1,200円", 1000, 1200),
    ("1200 yen", 1000, 1200),
    ("¥1,000-", 1, 1000),                     # the yen style, not a minus
    ("1,000円-", 1, 1000),
    ("-1,200", 1, -1200),
    ("−1,200", 1, -1200),
    ("－１，２００", 1, -1200),
    ("▲1,200", 1000, -1_200_000),
    ("△500万", 1, -5_000_000),
    ("▲1,200万円", 1000, -12_000_000),
    ("(1,200)", 1, -1200),
    ("（１，２００）", 1000, -1_200_000),
    ("(¥1,200)", 1, -1200),
    ("¥(1,200)", 1, -1200),
    ("-¥1,200", 1, -1200),
    ("¥-1,200", 1, -1200),
    ("+1,200", 1, 1200),
    ("約1,000万円", 1, 10_000_000),
    ("500k", 1, 500_000),
    ("1.2M", 1000, 1_200_000),
    ("3bn", 1, 3_000_000_000),
    ("0", 1000, 0),
    ("1.5", 1000, 1500),
    ("2.5", 1, 3),                            # round half up
    ("-2.5", 1, -3),                          # 四捨五入: away from zero
    (0.1 + 0.2, 1000, 300),                   # float noise does not survive
    ("1.2E+07", 1, 12_000_000),
    ("1,234.5", 1, 1235),
]


@pytest.mark.parametrize("raw,factor,expected", AMOUNTS)
def test_amounts(raw, factor, expected):
    assert parse_amount(raw, factor) == expected
    n = norm(BY_TYPE["amount"], raw, NormContext(amount_factor=factor))
    assert n.value == expected and type(n.value) is int


@pytest.mark.parametrize("raw", ["1,000-", "12 34", "1,20", "1万20000", "1億2億", "1.5億2000万", "--1000",
                                 "-(1,200)", "¥", "円", "▲", "abc", "1,200ドル", "30%", "1.2.3", "三千円",
                                 "12万3", True, date(2026, 4, 1), time(10, 0), float("nan"), float("inf")])
def test_unreadable_amounts_are_type_errors(raw):
    e = fails(parse_amount, raw)
    assert e.code == "E-TYPE"
    assert e.params["expected"] == {"ja": "金額", "en": "an amount"}
    n = norm(BY_TYPE["amount"], raw)
    assert n.value is None and n.code == "E-TYPE" and n.params["value"] == display_text(raw)


def test_amount_range_and_rounding_report():
    e = fails(parse_amount, "1000兆円")
    assert e.code == "E-RANGE" and e.params["max"] == 999_999_999_999_999
    assert norm(BY_TYPE["amount"], "999,999,999,999,999").value == 999_999_999_999_999
    n = norm(BY_TYPE["amount"], "1,234.5678", NormContext(amount_factor=1000))
    assert n == Normalized(1_234_568, "I-AMOUNT-ROUNDED", {"value": "1,234.5678", "detail": "1,234,568"})
    # a float artefact below one sen is not worth a message
    assert norm(BY_TYPE["amount"], 1200.004).code is None
    assert norm(BY_TYPE["amount"], 1.0000000001, NormContext(amount_factor=1000)) == Normalized(1000)


# -- percentages -----------------------------------------------------------------------------
PERCENTS = [
    ("30", 30.0), ("30%", 30.0), ("0.3", 30.0), ("３０％", 30.0), ("30.5%", 30.5), ("30 %", 30.0),
    ("0.305", 30.5), ("30パーセント", 30.0), ("約30%", 30.0), ("3割", 30.0), ("3割5分", 35.0),
    ("0.5%", 0.5), ("1%", 1.0), ("1", 1.0), ("1.0", 1.0), ("100", 100.0), ("0", 0.0), ("0%", 0.0),
    (30, 30.0), (30.5, 30.5), (0.3, 30.0), (0.305, 30.5), (1.0, 100.0), (1, 100.0), (0.0, 0.0),
    (100, 100.0), (0.1 + 0.2, 30.0),
]


@pytest.mark.parametrize("raw,expected", PERCENTS)
def test_percentages(raw, expected):
    assert parse_percent(raw) == expected
    n = norm(BY_TYPE["percent"], raw)
    assert n == Normalized(expected) and type(n.value) is float


@pytest.mark.parametrize("raw,code", [("120", "E-RANGE"), (101, "E-RANGE"), ("-5%", "E-RANGE"), (-0.3, "E-RANGE"),
                                      ("150%", "E-RANGE"), ("高い", "E-TYPE"), ("30%%", "E-TYPE"), (True, "E-TYPE"),
                                      (date(2026, 1, 1), "E-TYPE")])
def test_bad_percentages(raw, code):
    e = fails(parse_percent, raw)
    assert e.code == code
    if code == "E-RANGE":
        assert (e.params["min"], e.params["max"]) == (0, 100)


# -- dates -----------------------------------------------------------------------------------
DATES = [
    (date(2026, 4, 1), date(2026, 4, 1)),
    (datetime(2026, 4, 1, 13, 45), date(2026, 4, 1)),
    (46113, date(2026, 4, 1)),
    (46113.75, date(2026, 4, 1)),
    ("46113", date(2026, 4, 1)),
    ("2026/4/1", date(2026, 4, 1)),
    ("2026-04-01", date(2026, 4, 1)),
    ("2026.4.1", date(2026, 4, 1)),
    ("26/4/1", date(2026, 4, 1)),
    ("20260401", date(2026, 4, 1)),
    ("2026年4月1日", date(2026, 4, 1)),
    ("2026 年 4 月 1 日", date(2026, 4, 1)),
    ("２０２６／４／１", date(2026, 4, 1)),
    ("２０２６年４月１日", date(2026, 4, 1)),
    ("2026/4/1(水)", date(2026, 4, 1)),
    ("2026年4月1日（水曜日）", date(2026, 4, 1)),
    ("2026/04/01 10:00:00", date(2026, 4, 1)),
    ("2026-04-01T10:00", date(2026, 4, 1)),
    ("令和8年4月1日", date(2026, 4, 1)),
    ("令和８年４月１日", date(2026, 4, 1)),
    ("R8.4.1", date(2026, 4, 1)),
    ("R8/4/1", date(2026, 4, 1)),
    ("r8.4.1", date(2026, 4, 1)),
    ("Ｒ８．４．１", date(2026, 4, 1)),
    ("H31.4.30", date(2019, 4, 30)),
    ("平成31年4月30日", date(2019, 4, 30)),
    ("令和元年5月1日", date(2019, 5, 1)),
    ("㋿元年5月1日", date(2019, 5, 1)),
    ("S64.1.7", date(1989, 1, 7)),
    ("昭和50年10月10日", date(1975, 10, 10)),
    ("4月1日", date(2026, 4, 1)),             # plan period FY2026Q4: April 2026 - March 2027
    ("4/1", date(2026, 4, 1)),
    ("1月15日", date(2027, 1, 15)),
    ("3/31", date(2027, 3, 31)),
    ("12月31日", date(2026, 12, 31)),
]


@pytest.mark.parametrize("raw,expected", DATES)
def test_dates(raw, expected):
    assert parse_date(raw, CTX_Q4) == expected
    n = norm(BY_TYPE["date"], raw, CTX_Q4)
    assert n == Normalized(expected) and type(n.value) is date


def test_yearless_dates_follow_the_fiscal_year_and_its_start_month():
    assert parse_date("1月15日", NormContext(period=Period(2026, 1))) == date(2027, 1, 15)
    assert parse_date("1/15", NormContext(period=Period(2026, None, start_month=1))) == date(2026, 1, 15)
    assert parse_date("9/30", NormContext(period=Period(2026, 2, start_month=10))) == date(2027, 9, 30)
    assert parse_date("10/1", NormContext(period=Period(2026, 2, start_month=10))) == date(2026, 10, 1)
    e = fails(parse_date, "4月1日", NormContext())  # no plan period: the year cannot be guessed
    assert e.code == "E-TYPE" and e.params["expected"]["en"].startswith("a date with a year")


@pytest.mark.parametrize("raw,code", [
    ("2026/2/30", "E-TYPE"), ("2026/13/1", "E-TYPE"), ("令和0年1月1日", "E-TYPE"), ("2026年4月", "E-TYPE"),
    ("2026/4-1", "E-TYPE"), ("来週", "E-TYPE"), ("10:00", "E-TYPE"), (2026, "E-TYPE"), (15, "E-TYPE"),
    (-1, "E-TYPE"), (3_000_000, "E-TYPE"), (float("nan"), "E-TYPE"), (True, "E-TYPE"), (time(9, 30), "E-TYPE"),
    ("2/29", "E-TYPE"),                                   # FY2026Q4: 2027 is not a leap year
    ("1900/1/1", "E-RANGE"), ("2100-01-01", "E-RANGE"), (date(1905, 7, 18), "E-RANGE"), ("S20.8.15", "E-RANGE"),
])
def test_bad_dates(raw, code):
    e = fails(parse_date, raw, CTX_Q4)
    assert e.code == code
    if code == "E-RANGE":
        assert (e.params["min"], e.params["max"]) == (DATE_MIN.isoformat(), DATE_MAX.isoformat())
    else:
        assert e.params["expected"]["ja"].startswith("日付") or e.params["expected"]["ja"].startswith("年を含む")


# -- choices ---------------------------------------------------------------------------------
CHOICES = [
    (STANCE, "好意的", "favourable"), (STANCE, " 好意的　", "favourable"), (STANCE, "Favourable", "favourable"),
    (STANCE, "FAVORABLE", "favourable"), (STANCE, "favourable", "favourable"), (STANCE, "◎", "favourable"),
    (STANCE, "○", "favourable"), (STANCE, "◯", "favourable"), (STANCE, "アンチ", "against"),
    (STANCE, "ｱﾝﾁ", "against"), (STANCE, "×", "against"), (STANCE, "✕", "against"), (STANCE, "?", "unknown"),
    (STANCE, "？", "unknown"), (STANCE, "△", "neutral"),
    (SPEC.table("Opportunities").column("recurring"), "One-off", "one_off"),
    (SPEC.table("Opportunities").column("recurring"), "one_off", "one_off"),
    (SPEC.table("Opportunities").column("recurring"), "ONE  OFF", "one_off"),
    (SPEC.table("Opportunities").column("stage"), "Closed Won", "won"),
    (SPEC.table("Contacts").column("role"), "Decision maker", "decision_maker"),
    (DONE, "未", "no"),                      # a label wins over the placeholder 未
    (DONE, "済", "yes"), (DONE, "✔", "yes"), (DONE, True, "yes"), (DONE, False, "no"),
    (APPOINTMENT, "未", "not_requested"), (APPOINTMENT, "調整中", "requested"),
    (SPEC.field("amount_unit"), "千円", "thousand"), (SPEC.field("amount_unit"), "¥", "yen"),
    (INDUSTRY, "製造業", "manufacturing"), (INDUSTRY, "manufacturing", "manufacturing"),
]


@pytest.mark.parametrize("fld,raw,key", CHOICES)
def test_choices(fld, raw, key):
    assert parse_choice(raw, SPEC.choices(fld.choices)) == key
    assert norm(fld, raw) == Normalized(key)


def test_closed_choice_lists_report_the_allowed_labels():
    n = norm(STANCE, "微妙")
    assert n.code == "E-CHOICE" and n.value is None
    assert n.params["detail"] == {"ja": "好意的／中立／アンチ／不明",
                                  "en": "Favourable / Neutral / Against / Unknown"}
    assert n.params["choices"] == ["favourable", "neutral", "against", "unknown"]
    assert n.params["value"] == "微妙"
    assert fails(parse_choice, 3, SPEC.choices("stance")).code == "E-CHOICE"


def test_open_choice_lists_keep_unknown_text_as_typed():
    n = norm(INDUSTRY, "  半導体　")
    assert n == Normalized("半導体", "I-CHOICE-OPEN", {"value": "半導体"})
    assert norm(INDUSTRY, 42).value == "42"


def test_choice_placeholders_only_after_the_list():
    assert norm(STANCE, "未定") == Normalized(None, "I-PLACEHOLDER", {"value": "未定"})
    assert norm(INDUSTRY, "-") == Normalized(None, "I-PLACEHOLDER", {"value": "-"})
    assert norm(STANCE, "?").value == "unknown"


def test_company_lists_from_settings_are_matched():
    spec = Settings(industries=({"key": "semis", "ja": "半導体", "en": "Semiconductors",
                                 "aliases": ["chips"]},)).apply(load_spec())
    fld = spec.field("industry")
    assert normalize_value(fld, "半導体", CTX, spec) == Normalized("semis")
    assert normalize_value(fld, "CHIPS", CTX, spec) == Normalized("semis")
    assert normalize_value(fld, "製造業", CTX, spec).code == "I-CHOICE-OPEN"
    assert normalize_value(INDUSTRY, "製造業", CTX, SPEC) == Normalized("manufacturing")


# -- integers, numbers, months, ratings, periods -------------------------------------------
@pytest.mark.parametrize("raw,expected", [
    ("1,200", 1200), ("１２００", 1200), ("約3,000人", 3000), ("1.2万人", 12000), ("3万", 30000), (1200.0, 1200),
    (1200, 1200), ("5,000名", 5000), ("0", 0),
])
def test_integers(raw, expected):
    assert norm(BY_TYPE["integer"], raw) == Normalized(expected)


@pytest.mark.parametrize("raw,code", [("1.5", "E-TYPE"), (12.5, "E-TYPE"), ("-3", "E-RANGE"), ("多数", "E-TYPE"),
                                      (10**15, "E-RANGE"), (True, "E-TYPE")])
def test_bad_integers(raw, code):
    assert fails(parse_integer, raw).code == code


@pytest.mark.parametrize("raw,expected", [
    ("3", 3), ("3.5", 3.5), ("1,234.5", 1234.5), ("３年", 3), ("3年間", 3), ("▲2", -2), ("-2.5", -2.5), (2.0, 2),
    (2.25, 2.25), ("12件", 12), ("1.5倍", 1.5), ("2万", 20000),
])
def test_numbers(raw, expected):
    n = norm(BY_TYPE["number"], raw)
    assert n == Normalized(expected) and type(n.value) is type(expected)
    assert parse_number(raw) == expected


@pytest.mark.parametrize("raw,expected", [
    ("3", 3), (3, 3), (3.0, 3), ("3月", 3), ("３月", 3), ("3月末", 3), ("3月期", 3), ("3月決算", 3), ("12", 12),
    ("March", 3), ("mar.", 3), ("Sept", 9), (date(2026, 3, 31), 3), (datetime(2026, 12, 31), 12),
])
def test_months(raw, expected):
    assert parse_month(raw) == expected
    assert norm(BY_TYPE["month"], raw) == Normalized(expected)


@pytest.mark.parametrize("raw,expected", [
    ("3", 3), (3.0, 3), ("★★★", 3), ("★★★☆☆", 3), ("★", 1), ("***", 3), ("4点", 4), ("4/5", 4), ("５", 5),
])
def test_ratings(raw, expected):
    assert parse_rating(raw) == expected
    assert norm(BY_TYPE["rating"], raw) == Normalized(expected)


@pytest.mark.parametrize("parse,raw,code", [
    (parse_month, "13", "E-RANGE"), (parse_month, "0月", "E-RANGE"), (parse_month, 3.5, "E-TYPE"),
    (parse_month, "三月", "E-TYPE"), (parse_month, True, "E-TYPE"), (parse_month, time(3, 0), "E-TYPE"),
    (parse_rating, "6", "E-RANGE"), (parse_rating, "0", "E-RANGE"), (parse_rating, "☆☆☆", "E-RANGE"),
    (parse_rating, "★★★★★★", "E-RANGE"), (parse_rating, 3.5, "E-TYPE"), (parse_rating, "高", "E-TYPE"),
])
def test_bad_months_and_ratings(parse, raw, code):
    e = fails(parse, raw)
    assert e.code == code
    if code == "E-RANGE":
        assert (e.params["min"], e.params["max"]) == ((1, 12) if parse is parse_month else (1, 5))


@pytest.mark.parametrize("raw,expected", [
    ("FY2026Q3", "FY2026Q3"), ("fy2026q3", "FY2026Q3"), ("ＦＹ２０２６Ｑ３", "FY2026Q3"), ("2026年度第3四半期", "FY2026Q3"),
    ("FY2026", "FY2026"), (2026, "FY2026"), (2026.0, "FY2026"), ("FY26Q1", "FY2026Q1"),
])
def test_periods(raw, expected):
    assert parse_period_text(raw) == expected
    assert norm(BY_TYPE["period"], raw) == Normalized(expected)


@pytest.mark.parametrize("raw,code", [("来期", "E-TYPE"), ("FY2026Q5", "E-TYPE"), (2026.5, "E-TYPE"),
                                      ("FY1900", "E-RANGE"), (date(2026, 4, 1), "E-TYPE")])
def test_bad_periods(raw, code):
    assert fails(parse_period_text, raw).code == code


# -- text and ids ----------------------------------------------------------------------------
@pytest.mark.parametrize("raw,expected", [
    ("  株式会社ＡＢＣ　", "株式会社ＡＢＣ"),     # no NFKC: kept as typed
    ("\u200b山田\ufeff", "山田"),
    ("=SUM(A1:A3)", "=SUM(A1:A3)"),            # stays text; writers store it as text
    ("+81-3-1234", "+81-3-1234"), ("@home", "@home"),
    ("line 1\nline 2", "line 1\nline 2"),
    (1200.0, "1200"), (1200, "1200"), (3.5, "3.5"), (0.00001, "0.00001"), (True, "TRUE"),
    (date(2026, 4, 1), "2026-04-01"), (datetime(2026, 4, 1), "2026-04-01"),
    (datetime(2026, 4, 1, 9, 30), "2026-04-01 09:30:00"), (time(9, 30), "09:30"),
])
def test_text_is_kept_as_typed(raw, expected):
    for t in ("text", "longtext", "id"):
        n = norm(BY_TYPE[t], raw)
        assert n == Normalized(expected)


@pytest.mark.parametrize("raw", [None, "", "   ", "\u3000\u3000", "\t\n", "\u200b"])
def test_empty_values_are_none_without_issue(raw):
    for fld in BY_TYPE.values():
        assert norm(fld, raw) == Normalized(None)


# -- placeholders ----------------------------------------------------------------------------
PLACEHOLDERS = ["-", "－", "—", "―", "ー", "--", "未定", "TBD", "tbd", "ＴＢＤ", "なし", "N/A", "n/a", "Ｎ／Ａ", "未",
                "？", "?", "??", "…", "不明", "none", " 未定 "]


@pytest.mark.parametrize("raw", PLACEHOLDERS)
def test_placeholders_are_empty_with_an_info_issue(raw):
    assert is_placeholder(raw)
    for t in ("text", "id", "amount", "integer", "number", "percent", "date", "month", "rating", "period"):
        n = norm(BY_TYPE[t], raw)
        assert n.value is None and n.code == "I-PLACEHOLDER", (t, raw)
        assert n.params["value"] == raw.strip()


@pytest.mark.parametrize("raw", ["0", "-1", "未来", "なしのつぶて", "NA", "x", "〃", "未確定案件", 0, None])
def test_not_placeholders(raw):
    assert not is_placeholder(raw)


# -- properties ------------------------------------------------------------------------------
def _kanji(n: int, commas: bool) -> str:
    """12345678 -> 1234万5678 (units 兆/億/万, zero parts left out)."""
    parts = []
    for unit, ch in ((10**12, "兆"), (10**8, "億"), (10**4, "万")):
        q, n = divmod(n, unit)
        if q:
            parts.append((f"{q:,}" if commas else str(q)) + ch)
    if n or not parts:
        parts.append(str(n))
    return "".join(parts)


@st.composite
def human_amounts(draw):
    """(text or number as a rep might type it, workbook factor, the yen it means)."""
    factor = draw(st.sampled_from([1, 1000, 1_000_000]))
    style = draw(st.sampled_from(["plain", "commas", "number", "float", "yen", "yen_sign", "yen_dash", "kanji",
                                  "kanji_commas", "sen", "million", "oku_decimal"]))
    if style in ("plain", "commas", "number", "float"):
        m = draw(st.integers(0, 10**15 // factor - 1))
        yen = m * factor
        text = {"plain": str(m), "commas": f"{m:,}", "number": m, "float": float(m)}[style]
        if style == "float":
            assume(float(m) == m)
    else:
        yen = draw(st.integers(0, 10**14))
        if style == "sen":
            yen -= yen % 1000
            text = f"{yen // 1000:,}千円"
        elif style == "million":
            yen -= yen % 10**6
            text = f"{yen // 10**6:,}百万円"
        elif style == "oku_decimal":
            yen -= yen % 10**4
            text = format(Decimal(yen).scaleb(-8).normalize(), "f") + "億"
        else:
            text = {"yen": f"{yen:,}円", "yen_sign": f"¥{yen:,}", "yen_dash": f"¥{yen:,}-",
                    "kanji": _kanji(yen, False) + "円", "kanji_commas": _kanji(yen, True) + "円"}[style]
    if draw(st.booleans()) and yen:
        neg = draw(st.sampled_from(["-{}", "−{}", "▲{}", "△{}", "({})"]))
        if isinstance(text, str):
            text = neg.format(text)
        else:
            text = -text
        yen = -yen
    if isinstance(text, str) and draw(st.booleans()):
        text = text.translate(FULL_WIDTH)
    return text, factor, yen


@given(human_amounts())
@example(("1億2,000万円", 1000, 120_000_000))
@example(("▲1,200万円", 1, -12_000_000))
def test_amount_round_trip(case):
    text, factor, yen = case
    assert parse_amount(text, factor) == yen
    # idempotence: the clean value read again (in a yen workbook) is itself
    assert parse_amount(yen) == yen
    assert parse_amount(f"{yen:,}円", 1000) == yen


_ERAS = [(date(2019, 5, 1), "令和", "R", 2018), (date(1989, 1, 8), "平成", "H", 1988), (date(1926, 12, 25), "昭和", "S", 1925)]


@st.composite
def human_dates(draw):
    d = draw(st.dates(min_value=DATE_MIN, max_value=DATE_MAX))
    y, m, dd = d.year, d.month, d.day
    start, era, abbr, base = next(e for e in _ERAS if d >= e[0])
    n = y - base
    ny = "元" if n == 1 and draw(st.booleans()) else str(n)
    forms = [f"{y}/{m}/{dd}", f"{y}-{m:02d}-{dd:02d}", f"{y}.{m}.{dd}", f"{y}年{m}月{dd}日", f"{y}{m:02d}{dd:02d}",
             f"{era}{ny}年{m}月{dd}日", f"{abbr}{n}.{m}.{dd}", f"{abbr}{n}/{m}/{dd}", f"{abbr.lower()}{n}.{m}.{dd}",
             f"{y}/{m}/{dd}({'月火水木金土日'[d.weekday()]})", f"{y}/{m:02d}/{dd:02d} 10:15:00",
             datetime(y, m, dd, 18, 5), d, (d - date(1899, 12, 30)).days, (d - date(1899, 12, 30)).days + 0.5,
             str((d - date(1899, 12, 30)).days)]
    if 2000 <= y <= 2099:
        forms.append(f"{y % 100:02d}/{m}/{dd}")
    raw = draw(st.sampled_from(forms))
    if isinstance(raw, str) and draw(st.booleans()):
        raw = raw.translate(FULL_WIDTH)
    return raw, d


@given(human_dates())
@example(("平成31年4月30日", date(2019, 4, 30)))
@example(("令和元年5月1日", date(2019, 5, 1)))
def test_date_round_trip(case):
    raw, d = case
    assert parse_date(raw, CTX) == d
    assert parse_date(d, CTX) == d and parse_date(d.isoformat(), CTX) == d


@given(st.integers(1951, 2098), st.sampled_from([None, 1, 2, 3, 4]), st.integers(1, 12), st.data())
def test_yearless_dates_land_in_the_plan_fiscal_year(fy, q, start_month, data):
    period = Period(fy, q, start_month)
    fiscal = period.year
    d = data.draw(st.dates(min_value=fiscal.start, max_value=fiscal.end - timedelta(days=1)))
    text = data.draw(st.sampled_from([f"{d.month}月{d.day}日", f"{d.month}/{d.day}", f"{d.month:02d}/{d.day:02d}"]))
    assert parse_date(text, NormContext(period=period, start_month=start_month)) == d


@given(st.integers(0, 1000), st.data())
def test_percent_round_trip(tenths, data):
    v = Decimal(tenths) / 10
    forms = [f"{v}%", f"{v}％".translate(FULL_WIDTH), f"{v} %"]
    if v == 0 or v >= 1:
        forms.append(str(v))                 # text: a number is a percentage...
    if v == 0 or v > 1:
        forms.append(float(v))               # numeric: above 1 it is a percentage too
    if 0 < v < 100:
        forms += [str(v / 100), float(v / 100)]  # ...unless it is a fraction
    raw = data.draw(st.sampled_from(forms))
    assert parse_percent(raw) == float(v)
    assert parse_percent(f"{parse_percent(raw)}%") == float(v)


#: characters that steer hypothesis into the parsers' corners
_SOUP = st.text(alphabet="0123456789０１２３４５６７８９,.，．-−▲△()（）¥￥円万億千百兆%％年月日/令和平成元RHSk★☆ 　?？未定TBD",
                max_size=14)
RAW = st.one_of(
    st.none(), st.text(max_size=30), _SOUP, st.integers(), st.integers(-100, 100_000), st.floats(),
    st.floats(min_value=-1e6, max_value=1e6), st.booleans(), st.dates(), st.datetimes(), st.times(), st.timedeltas(),
    st.sampled_from(PLACEHOLDERS + [c.label.ja for cl in SPEC.choice_lists.values() for c in cl.choices]),
)
_VALUE_CHECKS = {
    "amount": lambda v: type(v) is int and abs(v) < 10**15,
    "percent": lambda v: type(v) is float and 0 <= v <= 100,
    "date": lambda v: type(v) is date and DATE_MIN <= v <= DATE_MAX,
    "integer": lambda v: type(v) is int and 0 <= v < 10**15,
    "number": lambda v: type(v) in (int, float),
    "month": lambda v: type(v) is int and 1 <= v <= 12,
    "rating": lambda v: type(v) is int and 1 <= v <= 5,
    "period": lambda v: re.fullmatch(r"FY\d{4}(Q[1-4])?", v) is not None,
    "text": lambda v: type(v) is str and v == v.strip() and v != "",
}
_VALUE_CHECKS["longtext"] = _VALUE_CHECKS["id"] = _VALUE_CHECKS["text"]
for _t in ("ratio", "score", "fraction"):
    _VALUE_CHECKS[_t] = _VALUE_CHECKS["number"]


@settings(max_examples=600)
@given(st.sampled_from(ALL_FIELDS), RAW, st.sampled_from([CTX, CTX_Q4, NormContext(amount_factor=1000)]))
def test_normalize_value_never_raises_and_keeps_its_contract(fld, raw, ctx):
    n = normalize_value(fld, raw, ctx, SPEC)
    assert isinstance(n, Normalized)
    if n.code is not None:
        it = ISSUE_TYPES[n.code]
        assert it.scope == "cell"
        assert isinstance(n.params["value"], str) and n.params["value"]
        if it.severity == "error":
            assert n.value is None
        # the params fill every placeholder of the message (label, field, table come from the caller)
        for tpl in (it.ja, it.en):
            wanted = {name for _, name, _, _ in string.Formatter().parse(tpl) if name}
            assert wanted - {"label", "field", "table"} <= set(n.params), (n.code, tpl, n.params)
    if n.value is None:
        return
    if fld.type == "choice":
        if n.code == "I-CHOICE-OPEN":
            assert fld.open and isinstance(n.value, str)
        else:
            assert n.value in SPEC.choices(fld.choices).keys()
    else:
        assert _VALUE_CHECKS[fld.type](n.value), (fld.type, raw, n)


@settings(max_examples=400)
@given(st.sampled_from(ALL_FIELDS), RAW)
def test_clean_values_are_fixed_points(fld, raw):
    """Normalising a clean value again gives it back (percent: through its ``%`` text)."""
    n = normalize_value(fld, raw, CTX_Q4, SPEC)
    assume(n.value is not None)
    again = n.value if fld.type != "percent" else f"{n.value}%"
    assert normalize_value(fld, again, CTX_Q4, SPEC).value == n.value
