"""Untrusted text shown on a terminal: control and format characters escaped, nothing else."""
from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from xltools.textwidth import printable


def test_japanese_text_with_ideographic_space_and_private_use_kanji_is_kept():
    for text in ("山田\u3000太郎", "株式会社\ue000商事", "ｶﾌﾞｼｷｶﾞｲｼｬ・①", "👨\u200d👩\u200d👧"):
        assert printable(text) == text


def test_controls_and_bidi_overrides_are_escaped_as_python_writes_them():
    assert printable("a\x1b[31mb\x9bc\u202ed\te\nf\x00") == "a\\x1b[31mb\\x9bc\\u202ed\\te\\nf\\x00"
    assert printable("line 1\nline\x1b 2", newlines=True) == "line 1\nline\\x1b 2"


@given(st.text())
def test_what_is_shown_cannot_drive_a_terminal_and_escaping_is_idempotent(text):
    shown = printable(text)
    assert all(ch.isprintable() or ch == "\u200d" or unicodedata.category(ch) in ("Zs", "Co") for ch in shown)
    assert printable(shown) == shown
    assert "\n" not in shown
    if text.isprintable():
        assert shown == text


@given(st.lists(st.text(), max_size=5))
def test_with_newlines_each_line_is_escaped_on_its_own(lines):
    text = "\n".join(lines)
    assert printable(text, newlines=True) == "\n".join(printable(x) for x in text.split("\n"))
