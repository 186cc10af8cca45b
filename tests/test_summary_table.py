"""The collect summary's tables: aligned by display width, control characters escaped."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from xltools.collect.summary import CollectSummary, FileResult, TextTable, render_summary
from xltools.textwidth import display_width


def test_columns_line_up_with_wide_characters_and_numbers_on_the_right():
    t = TextTable("取り込み結果", ["項目", "件数"], [["ファイル", "3"], ["plans", "120"]], right=frozenset({1}))
    assert t.render().splitlines() == [
        "   取り込み結果",
        "┏━━━━━━━━━━┳━━━━━━┓",
        "┃ 項目     ┃ 件数 ┃",
        "┡━━━━━━━━━━╇━━━━━━┩",
        "│ ファイル │    3 │",
        "│ plans    │  120 │",
        "└──────────┴──────┘",
    ]


def test_control_characters_in_a_file_name_are_shown_escaped():
    t = TextTable("t", ["file"], [["a\x1b[31mred\nb\u202ec\td.xlsx"]])
    row = t.render().splitlines()[4]
    assert row == "│ a\\x1b[31mred\\nb\\u202ec\\td.xlsx │"
    assert all(ch.isprintable() for ch in t.render().replace("\n", ""))


@given(st.lists(st.lists(st.text(max_size=12), min_size=2, max_size=2), max_size=6), st.text(max_size=10))
def test_every_line_has_the_same_display_width(rows, title):
    lines = TextTable(title, ["名前", "n"], rows, right=frozenset({1})).render().splitlines()
    assert len(lines) == 5 + len(rows)
    assert len({display_width(line) for line in lines[1:]}) == 1


def test_the_summary_lists_the_counts_and_the_files_that_need_attention():
    s = CollectSummary(files=[FileResult(path="inbox/東商事.xlsx", status="rejected", result="rejected",
                                         codes=["E-NOT-A-PLAN"])])
    text = render_summary(s, "en")
    assert "│ Files " in text and "│ inbox/東商事.xlsx │" in text and "E-NOT-A-PLAN │" in text
    assert text.endswith("┘\n\n")
