"""How wide a text is on a terminal (East Asian wide characters count double): a
light module, so that ``check``'s text output does not import the workbook writer."""
from __future__ import annotations

import unicodedata


def display_width(text: str) -> int:
    """Columns ``text`` takes on screen: East Asian wide characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)
