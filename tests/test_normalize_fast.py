"""The direct readings (``normalize.fast_normalizer``): whenever one gives a value, the full
rules (:func:`normalize_value`) give that value, of the same type, with no issue; every value
it leaves (``SLOW``) is read by the full rules.  No clock: dates are literals."""
from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from xltools.checking.normalize import (
    AMOUNT_MAX,
    DATE_MAX,
    DATE_MIN,
    NUMBER_MAX,
    SLOW,
    Normalized,
    NormContext,
    fast_normalizer,
    normalize_value,
)
from xltools.checking.validate import NOT_COUNTED_TYPES
from xltools.spec.config import Settings
from xltools.spec.model import CellError
from xltools.spec.periods import Period
from xltools.spec.spec import load_spec
from xltools.testing import strategies as xs

SPEC = Settings().apply(load_spec())
INPUTS = [f for f in SPEC.iter_all_fields() if f.is_input]
BY_TYPE = {f.type: f for f in INPUTS}
FACTORS = [c.factor or 1 for c in SPEC.choices(xs.unit_field(SPEC).choices).choices]
CONTEXTS = [NormContext(amount_factor=f, period=p) for f in FACTORS for p in (None, Period(2026, 3))]


def agrees(field, raw, ctx) -> object:
    """The direct reading of ``raw``, checked against the full rules; returns it."""
    fast = fast_normalizer(field, SPEC)
    got = SLOW if fast is None else fast(raw, ctx)
    if got is not SLOW:
        full = normalize_value(field, raw, ctx, SPEC)
        assert full == Normalized(got), (field.key, raw, got, full)
        assert type(full.value) is type(got), (field.key, raw, got, full)
    return got


_raw_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**17), 10**17),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e6, max_value=1e6).map(lambda x: float(round(x))),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 1, 1)),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
    st.times(),
    st.timedeltas(min_value=timedelta(days=-3), max_value=timedelta(days=3)),
    st.text(max_size=30),
    st.sampled_from(xs.PLACEHOLDERS + ("#REF!", " 未定 ", "\u3000山田\u200b", "ＡＢＣ", "=SUM(A1)", "1,200万円")),
    st.sampled_from(["#REF!", "#N/A"]).map(CellError),
)


@hsettings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(INPUTS), raw=_raw_values, ctx=st.sampled_from(CONTEXTS))
@example(field=BY_TYPE["amount"], raw=float(2**53), ctx=CONTEXTS[0])
@example(field=BY_TYPE["amount"], raw=-0.0, ctx=CONTEXTS[-1])
@example(field=BY_TYPE["number"], raw=-0.0, ctx=CONTEXTS[0])
@example(field=BY_TYPE["percent"], raw=-0.0, ctx=CONTEXTS[0])
@example(field=BY_TYPE["percent"], raw=1.0, ctx=CONTEXTS[0])
@example(field=BY_TYPE["percent"], raw=1, ctx=CONTEXTS[0])
@example(field=BY_TYPE["integer"], raw=float(NUMBER_MAX - 1), ctx=CONTEXTS[0])
@example(field=BY_TYPE["amount"], raw=float(AMOUNT_MAX), ctx=CONTEXTS[0])
def test_a_direct_reading_is_what_the_full_rules_read(field, raw, ctx):
    agrees(field, raw, ctx)


@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(INPUTS), period=xs.periods(), factor=st.sampled_from(FACTORS), data=st.data())
def test_clean_and_messy_cells_read_directly_or_by_the_full_rules(field, period, factor, data):
    ctx = NormContext(amount_factor=factor, period=period)
    agrees(field, data.draw(xs.cells(field, SPEC, period=period)), ctx)
    agrees(field, data.draw(xs.messy(field, SPEC, period=period, factor=factor))[0], ctx)


@pytest.mark.parametrize("ftype", sorted(NOT_COUNTED_TYPES))
def test_text_in_a_number_or_date_field_is_never_read_directly(ftype):
    """W-NOT-COUNTED depends on it: a number or date typed as text is left to the full rules."""
    fast = fast_normalizer(BY_TYPE[ftype], SPEC)
    assert fast is not None
    for text in ("1", "1,200", "3", "2026/4/1", "30%", "★★★", "4月", "", " "):
        assert fast(text, CONTEXTS[0]) is SLOW


def test_the_usual_values_are_read_directly():
    ctx = NormContext(amount_factor=1000)
    cases = [
        ("amount", 1200.0, 1_200_000), ("amount", 7, 7000), ("amount", -3.0, -3000),
        ("number", 2.5, 2.5), ("number", 3.0, 3), ("number", 12, 12),
        ("integer", 250.0, 250), ("month", 3.0, 3), ("rating", 5.0, 5), ("rating", 1, 1),
        ("percent", 1.0, 100.0), ("percent", 1, 100.0), ("percent", 30.0, 30.0), ("percent", 0, 0.0),
        ("date", date(2026, 4, 1), date(2026, 4, 1)), ("date", datetime(2026, 4, 1, 10, 30), date(2026, 4, 1)),
        ("date", DATE_MIN, DATE_MIN), ("date", DATE_MAX, DATE_MAX),
        ("text", "\u3000株式会社東邦精機 ", "株式会社東邦精機"), ("id", "OPP-001", "OPP-001"),
        ("text", "=SUM(A1)", "=SUM(A1)"),
    ]
    for ftype, raw, want in cases:
        got = agrees(BY_TYPE[ftype], raw, ctx)
        assert got == want and type(got) is type(want), (ftype, raw, got)
    stance = SPEC.table("Contacts").column("stance")
    key = SPEC.choices(stance.choices).choices[0]
    assert agrees(stance, f" {key.label.ja} ", ctx) == key.key
    assert agrees(stance, key.label.en.upper(), ctx) == key.key


def test_what_would_be_reported_is_left_to_the_full_rules():
    ctx = NormContext(amount_factor=1000)
    left = [
        ("amount", 1200.5),  # rounded to the yen: I-AMOUNT-ROUNDED
        ("amount", float(AMOUNT_MAX)),  # × 1000: out of range
        ("amount", math.nan), ("amount", math.inf), ("amount", True), ("amount", float(2**53)),
        ("number", float(NUMBER_MAX)), ("number", -math.inf), ("number", False),
        ("integer", -1.0), ("integer", 2.5), ("month", 13.0), ("month", 0), ("rating", 6), ("rating", 2.5),
        ("percent", 101.0), ("percent", -1), ("percent", 0.3), ("percent", 12.5),
        ("date", date(1949, 12, 31)), ("date", datetime(2100, 1, 1)), ("date", 46000), ("date", time(10)),
        ("text", "未定"), ("text", " - "), ("text", "ＴＢＤ"), ("text", ""), ("text", "\u200b"), ("text", 12.0),
        ("text", CellError("#REF!")), ("text", None),
    ]
    for ftype, raw in left:
        assert fast_normalizer(BY_TYPE[ftype], SPEC)(raw, ctx) is SLOW, (ftype, raw)
    stance = SPEC.table("Contacts").column("stance")
    for raw in ("未定", "どれでもない", CellError("#N/A"), 1.0, True):
        assert fast_normalizer(stance, SPEC)(raw, ctx) is SLOW, raw
    assert fast_normalizer(SPEC.field("period"), SPEC) is None
