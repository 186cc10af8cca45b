"""A1 addresses: column letters are computed on first use and agree with col_index."""
import subprocess
import sys

from xltools.cells import MAX_COL, a1, col_index, col_letter, parse_a1


def test_column_letters_at_the_edges_and_beyond_the_grid():
    assert [col_letter(i) for i in (1, 26, 27, 52, 53, 702, 703, MAX_COL)] == [
        "A", "Z", "AA", "AZ", "BA", "ZZ", "AAA", "XFD"]
    assert col_letter(MAX_COL + 1) == "XFE" and col_letter(0) == ""
    assert a1(1_048_576, MAX_COL) == "XFD1048576" and parse_a1("$XFD$1048576") == (1_048_576, MAX_COL)


def test_every_column_letter_round_trips_and_a_second_call_gives_the_same_text():
    letters = [col_letter(i) for i in range(1, MAX_COL + 1)]
    assert len(set(letters)) == MAX_COL and [col_index(s) for s in letters] == list(range(1, MAX_COL + 1))
    assert [col_letter(i) for i in range(1, MAX_COL + 1)] == letters


def test_importing_cells_builds_no_column_letters():
    code = "import xltools.cells as c; print(len(c._LETTERS)); c.col_letter(30); print(len(c._LETTERS))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "1"]
