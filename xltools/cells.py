"""A1 cell addresses: small helpers shared by reader, validator and writers."""
from __future__ import annotations

import re

_A1 = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")

#: Excel's grid: A1:XFD1048576
MAX_ROW = 1_048_576
MAX_COL = 16_384


def _col_letter(idx: int) -> str:
    s = ""
    while idx > 0:
        idx, rem = divmod(idx - 1, 26)
        s = chr(65 + rem) + s
    return s


#: column letters computed so far (filled on first use: start-up builds none of the 16,384)
_LETTERS: dict[int, str] = {}


def col_letter(idx: int) -> str:
    """1 -> A, 27 -> AA."""
    try:
        return _LETTERS[idx]
    except KeyError:
        letters = _col_letter(idx)
        if 0 < idx <= MAX_COL:
            _LETTERS[idx] = letters
        return letters


def col_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def a1(row: int, col: int) -> str:
    """1-based row and column -> 'B3'."""
    return f"{col_letter(col)}{row}"


def parse_a1(ref: str) -> tuple[int, int]:
    """'B3' or '$B$3' -> (row 3, col 2)."""
    m = _A1.match(ref.strip().upper())
    if not m:
        raise ValueError(f"not a cell address: {ref!r}")
    return int(m.group(2)), col_index(m.group(1))


def in_grid(row: int, col: int) -> bool:
    """Whether (row, col) is a cell of Excel's grid (A1:XFD1048576)."""
    return 0 < row <= MAX_ROW and 0 < col <= MAX_COL


def parse_range(ref: str) -> tuple[int, int, int, int]:
    """'A1:C10' -> (min_row, min_col, max_row, max_col)."""
    a, _, b = ref.partition(":")
    r1, c1 = parse_a1(a)
    r2, c2 = parse_a1(b or a)
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


def cell_sort_key(ref: str | None) -> tuple[int, int]:
    if not ref:
        return (0, 0)
    try:
        r, c = parse_a1(ref)
    except ValueError:
        return (0, 0)
    return (r, c)
