"""File names of generated plans: valid on Windows for any input, and unique."""
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from xltools.workbook.naming import (
    MAX_NAME_BYTES,
    is_reserved,
    name_key,
    plan_filename,
    safe_filename,
    sanitize,
    unique_filename,
)

WINDOWS_FORBIDDEN = set('\\/:*?"<>|')
RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def assert_windows_valid(name: str) -> None:
    """An independent statement of the Windows naming rules (not the module's own code)."""
    assert name, "empty name"
    assert not WINDOWS_FORBIDDEN & set(name), name
    assert all(ord(ch) >= 32 and not 0xD800 <= ord(ch) <= 0xDFFF for ch in name), repr(name)
    assert not name.endswith((".", " ")), repr(name)
    assert ".." not in name, name
    assert name.split(".")[0].rstrip(" ").upper() not in RESERVED, name
    assert len(name.encode("utf-8")) <= 255 and len(name.encode("utf-16-le")) // 2 <= 255
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert name.endswith(".xlsx") and len(name) > len(".xlsx")


names = st.text(min_size=0, max_size=300)


@given(account=names, rep=names)
@example(account="CON", rep="NUL")
@example(account="..", rep=". .")
@example(account="a\x00b\x1fc", rep="\ud800x")
@example(account="株式会社" * 100, rep="山田" * 100)
@example(account="e\u0301" * 200, rep="x")
@settings(max_examples=300, deadline=None)
def test_any_account_and_rep_give_a_windows_valid_name(account, rep):
    name = plan_filename("FY2026Q3", account, rep)
    assert_windows_valid(name)
    assert name.startswith("FY2026Q3_")


@given(st.lists(st.tuples(names, names), min_size=1, max_size=25))
@settings(max_examples=150, deadline=None)
def test_names_are_unique_in_a_folder_and_stay_valid(pairs):
    raw = [plan_filename("FY2026Q3", a, r) for a, r in pairs]
    taken: set[str] = set()
    out = [unique_filename(n, taken) for n in raw]
    assert len(out) == len(raw)
    keys = [name_key(n) for n in out]
    assert len(set(keys)) == len(keys)
    for n in out:
        assert_windows_valid(n)


@pytest.mark.parametrize("stem, expected", [
    ("CON", "_CON.xlsx"), ("con", "_con.xlsx"), ("Lpt9", "_Lpt9.xlsx"), ("COM1.backup", "_COM1.backup.xlsx"),
    ("AUX ", "_AUX.xlsx"), ("CONSOLE", "CONSOLE.xlsx"), ("NUL_1", "NUL_1.xlsx"),
])
def test_reserved_device_names_even_with_an_extension(stem, expected):
    assert safe_filename(stem) == expected
    assert is_reserved("con.xlsx") and is_reserved("COM3") and not is_reserved("COM10")


def test_forbidden_characters_dots_and_spaces():
    assert plan_filename("FY2026Q3", 'A/B\\C:D*E?F"G<H>I|J', "x") == "FY2026Q3_A_B_C_D_E_F_G_H_I_J_x.xlsx"
    assert sanitize("..a...b.. ") == "a.b"
    assert sanitize("  山田\u3000 太郎\t") == "山田 太郎"
    assert sanitize("\x00\x01") == "__"
    assert sanitize("") == "_" and sanitize(None) == "_"
    assert sanitize("a\u200bb") == "ab"  # zero-width space dropped


def test_length_is_bounded_in_bytes_and_cut_on_character_boundaries():
    name = plan_filename("FY2026Q3", "あ" * 500, "い" * 500)
    assert len(name.encode()) <= MAX_NAME_BYTES
    name.encode("utf-8")  # no broken character
    assert "あ" in name and "い" in name  # both parts survive the cut


def test_unique_is_case_and_normalisation_insensitive():
    taken: set[str] = set()
    assert unique_filename("Plan.xlsx", taken) == "Plan.xlsx"
    assert unique_filename("PLAN.xlsx", taken) == "PLAN_2.xlsx"
    composed, decomposed = "Caf\u00e9.xlsx", unicodedata.normalize("NFD", "Caf\u00e9.xlsx")
    assert unique_filename(composed, taken) == composed
    assert unique_filename(decomposed, taken).endswith("_2.xlsx")
    assert unique_filename("a.xlsx", {name_key("A.XLSX")}) == "a_2.xlsx"
