"""File names that are safe on Windows (and everywhere else) and unique in a folder.

Generated plans are named like ``FY2026Q3_<account>_<rep>.xlsx``.  Account and rep
names come from a roster typed by people, so anything can be in them.  The rules
(Windows naming conventions, which are the strictest of the usual systems):

* no ``\\ / : * ? " < > |`` and no control characters (they become ``_``);
* no ``..`` (runs of dots collapse to one dot), no trailing dot or space;
* not a reserved device name (``CON``, ``PRN``, ``AUX``, ``NUL``, ``COM1``-``COM9``,
  ``LPT1``-``LPT9``, also with superscript digits and ``CONIN$``/``CONOUT$``), not even
  with an extension (``con.xlsx`` is just as reserved);
* at most :data:`MAX_NAME_BYTES` bytes in UTF-8 (ext4's limit is 255 bytes, NTFS's 255
  UTF-16 units; a margin is left for a ``_2`` suffix and for zip tools);
* unique in the folder, compared as Windows does: case-insensitively, after Unicode
  normalisation (macOS stores names decomposed).
"""
from __future__ import annotations

import re
import unicodedata

#: the longest file name produced, in UTF-8 bytes
MAX_NAME_BYTES = 200
#: the most one component (account, rep) may take of a default name, in UTF-8 bytes
MAX_PART_BYTES = 80

_FORBIDDEN = set('\\/:*?"<>|')
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{dev}{d}" for dev in ("COM", "LPT") for d in "123456789\u00b9\u00b2\u00b3"}
_DOTS = re.compile(r"\.{2,}")
_SPACES = re.compile(r"\s+")


def _clean_char(ch: str) -> str:
    if ch in _FORBIDDEN:
        return "_"
    cat = unicodedata.category(ch)
    if cat in ("Cc", "Cs", "Cn", "Co", "Zl", "Zp"):  # control, lone surrogate, unassigned, private, separators
        return "_"
    if cat == "Cf":  # invisible format characters (zero-width, bidi overrides): drop
        return ""
    return ch


def _truncate_bytes(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 encoding fits in ``limit`` bytes."""
    if len(text.encode("utf-8")) <= limit:
        return text
    out, used = [], 0
    for ch in text:
        n = len(ch.encode("utf-8"))
        if used + n > limit:
            break
        out.append(ch)
        used += n
    # never end on a combining mark whose base was cut off, or on a lone joiner
    while out and unicodedata.combining(out[-1]):
        out.pop()
    return "".join(out)


def _strip_end(text: str) -> str:
    return text.rstrip(". ")


def sanitize(text: object, max_bytes: int = MAX_PART_BYTES, fallback: str = "_") -> str:
    """One piece of a file name: forbidden and control characters replaced, whitespace
    collapsed to single spaces, no ``..``, no leading or trailing dots and spaces, bounded
    in bytes.  Never empty (``fallback`` instead)."""
    s = unicodedata.normalize("NFC", str(text if text is not None else ""))
    s = _SPACES.sub(" ", s)  # tabs and line breaks are whitespace, not garbage
    s = "".join(_clean_char(ch) for ch in s)
    s = _DOTS.sub(".", s).strip(". ")
    s = _strip_end(_truncate_bytes(s, max_bytes))
    return s or fallback


def is_reserved(name: str) -> bool:
    """True for Windows device names, with or without an extension (``NUL``, ``com1.xlsx``)."""
    stem = name.split(".", 1)[0].rstrip(" ")
    return stem.upper() in _RESERVED


def safe_filename(stem: object, ext: str = ".xlsx", max_bytes: int = MAX_NAME_BYTES) -> str:
    """``stem`` + ``ext`` made safe: see the module rules.  ``ext`` must be a plain
    extension such as ``.xlsx``."""
    ext_bytes = len(ext.encode("utf-8"))
    body = sanitize(stem, max_bytes - ext_bytes)
    if is_reserved(body):
        body = _strip_end(_truncate_bytes("_" + body, max_bytes - ext_bytes))
    return body + ext


def plan_filename(period: object, account: object, rep: object, ext: str = ".xlsx") -> str:
    """The default name of a generated plan: ``FY2026Q3_<account>_<rep>.xlsx``."""
    stem = "_".join(sanitize(part, MAX_PART_BYTES) for part in (period, account, rep))
    return safe_filename(stem, ext)


def name_key(name: str) -> str:
    """How Windows and macOS compare names: case-insensitive, normalisation-insensitive."""
    return unicodedata.normalize("NFC", name).casefold()


def unique_filename(name: str, taken: set[str], max_bytes: int = MAX_NAME_BYTES) -> str:
    """``name``, or ``name`` with ``_2``, ``_3``... before the extension, so that it is not in
    ``taken`` (a set of :func:`name_key` values).  The chosen key is added to ``taken``."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    ext = dot + ext
    candidate, n = name, 1
    while name_key(candidate) in taken:
        n += 1
        suffix = f"_{n}"
        room = max_bytes - len((suffix + ext).encode("utf-8"))
        candidate = _strip_end(_truncate_bytes(stem, room)) + suffix + ext
    taken.add(name_key(candidate))
    return candidate
