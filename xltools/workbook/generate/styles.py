"""How cells look: fonts, colours, number formats, and the named styles of a workbook."""
from __future__ import annotations

import re
from copy import copy
from typing import Any

from xltools.cells import a1
from xltools.spec.spec import Field

FONTS = {"ja": ("Meiryo UI", 10), "en": ("Calibri", 11)}

# colours: input, calculated, labels, headers, tones (Excel's own good/bad/neutral palette)
INPUT_FILL = "FFF2CC"
FORMULA_FILL = "E7E6E6"
LABEL_FILL = "DDEBF7"
HEADER_FILL = "1F4E78"
HEADER_REQUIRED_FILL = "C65911"
REQUIRED_FONT = "C00000"
#: fill of a cell the workbook's formulas cannot count (a number typed as text)
NOT_COUNTED_FILL = "F8CBAD"
BORDER_COLOUR = "BFBFBF"
TONES = {"good": ("C6EFCE", "006100"), "bad": ("FFC7CE", "9C0006"),
         "warn": ("FFEB9C", "9C5700"), "muted": ("D9D9D9", "595959")}

#: number formats by field type (ratio is language-dependent, see _number_format)
NUMBER_FORMATS = {
    "amount": "#,##0", "integer": "#,##0", "number": "General", "percent": '0"%"',
    "date": "yyyy/mm/dd", "month": "0", "rating": "0", "fraction": "0.0%", "score": "0.00",
    "text": "@", "longtext": "@", "id": "@", "period": "@", "choice": "@",
}
RATIO_FORMATS = {"ja": '0.0"倍"', "en": '0.0"x"'}
#: readable names for number formats and colours in style names ("xl Input (date)")
STYLE_TAGS = {"#,##0": "amount", "General": "general", '0"%"': "percent", "yyyy/mm/dd": "date", "0": "whole",
              "0.0%": "fraction", "0.00": "score", "@": "text", RATIO_FORMATS["ja"]: "ratio",
              RATIO_FORMATS["en"]: "ratio", INPUT_FILL: "input", FORMULA_FILL: "calculated",
              REQUIRED_FONT: "required", NOT_COUNTED_FILL: "not counted", **{fill: tone for tone, (fill, _font) in TONES.items()}}


def _number_format(f: Field, lang: str) -> str:
    if f.type == "ratio":
        return RATIO_FORMATS[lang]
    if f.formula and NUMBER_FORMATS.get(f.type) == "@":
        return "General"  # a formula in a text-formatted cell turns into text when edited
    return NUMBER_FORMATS.get(f.type, "General")


# -- styles -------------------------------------------------------------------------------------

#: (language, style key) -> (display name, number format, the named style's parts): see _Styles._make
_NAMED_PARTS: dict[tuple[str, str], tuple[str, str, dict[str, Any]]] = {}
#: the workbook's lists a named style adds its parts to
_STYLE_LISTS = ("_fonts", "_borders", "_fills", "_protections", "_alignments", "_number_formats")
#: (language, keys registered before, key) -> (the workbook's lists before, the style's array,
#: the lists after with their indexes): see _Styles._register
_REGISTERED: dict[tuple[str, tuple[str, ...], str], tuple[Any, Any, Any]] = {}


def _indexed_list(items: list, index: dict):
    """An openpyxl ``IndexedList`` of ``items`` with its value index, without hashing them again."""
    from openpyxl.utils.indexed_list import IndexedList

    lst = IndexedList()
    list.extend(lst, items)
    lst._dict = index.copy()
    return lst


class _Styles:
    """Named styles registered once per workbook; cells get a copy of the style array,
    which is what openpyxl does for ``cell.style = name`` minus the lookups."""

    def __init__(self, wb, lang: str):
        from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Protection, Side
        from openpyxl.utils.indexed_list import IndexedList

        self.wb, self.lang = wb, lang
        name, size = FONTS[lang]
        self._Font, self._Fill, self._Align, self._Prot, self._Named = Font, PatternFill, Alignment, Protection, NamedStyle
        base = Font(name=name, sz=size, family=3 if lang == "ja" else 2, charset=128 if lang == "ja" else None)
        self.font = base
        # the workbook default font (style 0 and the Normal style)
        wb._fonts = IndexedList([base])
        normal = wb._named_styles["Normal"]
        normal.font = copy(base)
        side = Side(style="thin", color=BORDER_COLOUR)
        self.border = Border(left=side, right=side, top=side, bottom=side)
        self._arrays: dict[str, Any] = {}
        self._path: tuple[str, ...] = ()  # the keys registered so far, in order
        self._Border = Border

    def _font(self, **kw):
        return self._Font(name=self.font.name, sz=kw.pop("sz", self.font.sz), family=self.font.family,
                          charset=self.font.charset, **kw)

    def _fill(self, rgb: str):
        return self._Fill(fill_type="solid", start_color=rgb, end_color=rgb)

    def array(self, key: str):
        """The style array for ``key`` (``"kind | number format or colour"``), its named style
        created on first use."""
        arr = self._arrays.get(key)
        if arr is None:
            arr = self._arrays[key] = self._register(key)
        return arr

    def _register(self, key: str):
        """Add the named style of ``key`` to the workbook.  What that does (the style's ids,
        the parts appended to the workbook's lists) depends only on the lists' contents, so it
        is remembered per language and sequence of keys: a later workbook whose lists hold the
        same (compared by value) gets the remembered outcome without openpyxl hashing every
        part again."""
        from openpyxl.styles.cell_style import StyleArray

        wb = self.wb
        state = (tuple(s.name for s in wb._named_styles), *(list(getattr(wb, n)) for n in _STYLE_LISTS))
        node_key = (self.lang, self._path, key)
        known = _REGISTERED.get(node_key)
        ns = self._make(key)
        if known is not None and known[0] == state:
            _, arr, lists = known
            wb._named_styles.append(ns)
            ns._style = StyleArray(arr)
            ns._wb = wb
            for n, (items, index) in zip(_STYLE_LISTS, lists):
                setattr(wb, n, _indexed_list(items, index))
        else:
            wb.add_named_style(ns)
            if known is None:
                _REGISTERED[node_key] = (state, tuple(ns._style),
                                         tuple((list(getattr(wb, n)), dict(getattr(wb, n)._dict)) for n in _STYLE_LISTS))
        self._path += (key,)
        return ns.as_tuple()

    @staticmethod
    def display_name(key: str) -> str:
        """The name Excel shows in its Cell Styles gallery, e.g. ``xl Input (date)``."""
        kind, _, detail = key.partition(" | ")
        if not detail:
            return kind
        tag = STYLE_TAGS.get(detail) or re.sub(r"[^A-Za-z0-9%#,./]+", "", detail) or "custom"
        return f"{kind} ({tag})"

    def apply(self, cell, name: str):
        cell._style = copy(self.array(name))
        return cell

    def _make(self, name: str):
        """The named style of ``name``, for this workbook.  Its parts (font, fill, border,
        alignment, protection) are made once per process and language and shared by the
        workbooks: openpyxl's style objects are values it never changes."""
        made = _NAMED_PARTS.get((self.lang, name))
        if made is None:
            made = _NAMED_PARTS[(self.lang, name)] = self._parts(name)
        display, number_format, kw = made
        return self._Named(name=display, number_format=number_format, **kw)

    def _parts(self, name: str) -> tuple[str, str, dict[str, Any]]:
        kind, _, fmt = name.partition(" | ")
        locked = self._Prot(locked=True)
        unlocked = self._Prot(locked=False)
        al = self._Align
        kw: dict[str, Any] = {"font": self._font(), "protection": locked}
        if kind == "xl Title":
            kw["font"] = self._font(b=True, sz=self.font.sz + 4, color=HEADER_FILL)
        elif kind == "xl Heading":
            kw["font"] = self._font(b=True, sz=self.font.sz + 1, color=HEADER_FILL)
        elif kind == "xl Hint":
            kw["font"] = self._font(i=True, color="595959")
        elif kind == "xl Paragraph":
            kw["alignment"] = al(wrap_text=True, vertical="top")
        elif kind == "xl Text":  # one line that may run into the empty cells to its right
            pass
        elif kind in ("xl Label", "xl Label required"):
            kw["font"] = self._font(b=kind.endswith("required"),
                                    color=REQUIRED_FONT if kind.endswith("required") else None)
            kw["fill"] = self._fill(LABEL_FILL)
            kw["border"] = self.border
            kw["alignment"] = al(vertical="center", wrap_text=True)
        elif kind in ("xl Header", "xl Header required"):
            kw["font"] = self._font(b=True, color="FFFFFF")
            kw["fill"] = self._fill(HEADER_REQUIRED_FILL if kind.endswith("required") else HEADER_FILL)
            kw["alignment"] = al(horizontal="center", vertical="center", wrap_text=True)
            kw["border"] = self.border
        elif kind in ("xl Input", "xl Input long"):
            kw["fill"] = self._fill(INPUT_FILL)
            kw["border"] = self.border
            kw["protection"] = unlocked
            # top-aligned, so that a row grown by wrapped text reads as one line of a table
            kw["alignment"] = al(wrap_text=kind.endswith("long"), vertical="top")
        elif kind == "xl Calculated":
            kw["fill"] = self._fill(FORMULA_FILL)
            kw["border"] = self.border
            kw["alignment"] = al(vertical="top")
        elif kind in ("xl Open column", "xl Open column long"):
            kw["protection"] = unlocked
            kw["alignment"] = al(wrap_text=kind.endswith("long"), vertical="top")
        elif kind in ("xl Cell", "xl Cell centred"):  # a presentation sheet's calculated cell
            kw["border"] = self.border
            kw["alignment"] = al(vertical="center", shrink_to_fit=True,
                                 horizontal="center" if kind.endswith("centred") else None)
        elif kind == "xl Label single":  # a label on one line (shrunk to fit, never wrapped)
            kw["font"] = self._font()
            kw["fill"] = self._fill(LABEL_FILL)
            kw["border"] = self.border
            kw["alignment"] = al(vertical="center", shrink_to_fit=True)
        elif kind == "xl Figure":  # a key figure on the summary
            kw["font"] = self._font(b=True, sz=self.font.sz + 1)
            kw["border"] = self.border
            kw["alignment"] = al(vertical="center", shrink_to_fit=True)
        elif kind == "xl Sample":  # legend samples: fill given in fmt
            kw["fill"] = self._fill(fmt)
            kw["border"] = self.border
            fmt = ""
        elif kind == "xl Sample font":
            kw["font"] = self._font(b=True, color=fmt)
            kw["border"] = self.border
            fmt = ""
        else:
            raise KeyError(name)
        return self.display_name(name), fmt or "General", kw


#: text columns at least this wide wrap (案件名, 次のアクション...): long text is never cut on paper
WRAP_MIN_WIDTH = 18


def _wraps(f: Field) -> bool:
    return f.type == "longtext" or (f.type == "text" and (f.width or 0) >= WRAP_MIN_WIDTH)


def _input_style(f: Field, lang: str) -> str:
    kind = "xl Input long" if _wraps(f) else "xl Input"
    return f"{kind} | {_number_format(f, lang)}"


def _column_style(f: Field, lang: str) -> str:
    kind = "xl Open column long" if _wraps(f) else "xl Open column"
    return f"{kind} | {_number_format(f, lang)}"


def _calc_style(f: Field, lang: str) -> str:
    return f"xl Calculated | {_number_format(f, lang)}"


def _merge(ws, min_row: int, min_col: int, max_row: int, max_col: int) -> None:
    """Merge a range whose cells other than the top-left one are empty and unstyled.
    (``ws.merge_cells`` also rewrites every cell's borders, which costs more than the
    rest of the Guide sheet.)"""
    from openpyxl.worksheet.merge import MergedCellRange

    ws.merged_cells.add(MergedCellRange(ws, f"{a1(min_row, min_col)}:{a1(max_row, max_col)}"))
