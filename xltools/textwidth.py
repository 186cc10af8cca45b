"""Text for a terminal: how wide it is (East Asian wide characters count double) and how
to show untrusted text safely.  A light module, so that ``check``'s text output does not
import the workbook writer."""
from __future__ import annotations

import unicodedata


def display_width(text: str) -> int:
    """Columns ``text`` takes on screen: East Asian wide characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


#: Unicode categories shown as they are although ``str.isprintable`` says no: spaces (the
#: ideographic space of a Japanese name) and private-use characters (a company's own kanji)
_KEPT = frozenset({"Zs", "Co"})
#: the zero-width joiner of emoji sequences (a format character, but harmless)
_ZWJ = "\u200d"


def printable(text: str, *, newlines: bool = False) -> str:
    """``text`` with control and format characters escaped as Python writes them
    (``\\n``, ``\\t``, ``\\x1b``, ``\\x9b``, ``\\u202e``): a typed value, a sheet name or a file
    name from an untrusted workbook can then neither move the cursor, recolour or clear a
    terminal, nor reorder what is shown (bidirectional overrides).  With ``newlines`` the line
    breaks are kept (our own multi-line messages) and everything else is escaped.  Escaping is
    idempotent: escaped text is printable."""
    if text.isprintable():
        return text
    if newlines and "\n" in text:
        return "\n".join(printable(part) for part in text.split("\n"))
    return "".join(ch if ch.isprintable() or ch == _ZWJ or unicodedata.category(ch) in _KEPT
                   else ascii(ch)[1:-1] for ch in text)
