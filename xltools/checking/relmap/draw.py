"""The relationship map's picture (matplotlib, the shipped IPAex Gothic font) and its sheet in
a workbook."""
from __future__ import annotations

import io
import warnings
from datetime import date, datetime
from typing import Any, Callable

from xltools.checking.relmap.build import build_map
from xltools.checking.relmap.model import (
    BAND_LINES,
    CARD_BOTTOM,
    CARD_LEFT,
    CARD_RIGHT,
    CARD_TOP,
    COLUMN_WIDTH,
    DPI,
    FIG_H,
    FIG_W,
    FLAG_COLOUR,
    PX_H,
    PX_W,
    ROW_POINTS,
    ROWS_PER_PICTURE,
    SHEET,
    Page,
    RelMap,
    _t,
    _text,
)
from xltools.errors import XltoolsError
from xltools.messages import Label
from xltools.spec.config import Settings
from xltools.spec.contract import T
from xltools.spec.model import PlanData
from xltools.spec.spec import Spec

# -- the picture --------------------------------------------------------------------------------

class FontMissingError(XltoolsError):
    """The font the map is drawn in is not installed."""

    code = "relmap-font"
    template = Label("関係図には matplotlib-fontja パッケージが必要です（pip install matplotlib-fontja）",
                     "the relationship map needs the matplotlib-fontja package (pip install matplotlib-fontja)")


def font_path() -> str:
    """IPAex Gothic (IPA Font License), shipped inside the ``matplotlib-fontja`` package."""
    import importlib.util
    import os

    found = importlib.util.find_spec("matplotlib_fontja")  # located, not imported (it restyles matplotlib)
    if found is None or not found.submodule_search_locations:
        raise FontMissingError()
    return os.path.join(list(found.submodule_search_locations)[0], "fonts", "ipaexg.ttf")


_FONT: list[Any] = []  # the shipped font, loaded on first use (matplotlib's FT2Font)


def _width(text: str, size: float) -> float:
    """Width of ``text`` in points at font ``size``, measured on the shipped font."""
    if not _FONT:
        from matplotlib.ft2font import FT2Font

        _FONT.append(FT2Font(font_path()))
    f = _FONT[0]
    f.set_size(size, DPI)  # at the resolution it is drawn in: hinting changes the advances
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from")
        f.set_text(text, 0.0)
    width: float = f.get_width_height()[0] / 64.0 * 72 / DPI
    return width


def _fit(text: str, points: float, size: float) -> str:
    """``text``, cut with … to what ``points`` of width hold at font ``size``."""
    if not text or _width(text, size) <= points:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if _width(text[:mid] + "…", size) <= points:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "…"


def _hex(rgb: str) -> str:
    return "#" + rgb


def render_png(m: RelMap, page: int = 0) -> bytes:
    """Page ``page`` of the map as a PNG (FIG_W x FIG_H inches at DPI)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.patches import Rectangle

    font = FontProperties(fname=font_path())
    lang = m.lang
    fig = Figure(figsize=(FIG_W, FIG_H), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, FIG_W * 72)
    ax.set_ylim(FIG_H * 72, 0)  # points, y downwards
    ax.axis("off")
    W, H = FIG_W * 72, FIG_H * 72

    def text(x: float, y: float, s: str, size: float, colour: str = "#000000", **kw: Any) -> None:
        # parse_math off: a "$" in a name is a dollar sign, never TeX
        ax.text(x, y, s, fontproperties=font, fontsize=size, color=colour, va=kw.pop("va", "top"),
                parse_math=False, **kw)

    pg = m.pages[page] if m.pages else None
    head = m.title + ("　" + pg.subtitle if pg and pg.subtitle else "")
    text(14, 10, _fit(head, W - 200, 13), 13)
    right = m.as_of + (("　" + _t("page", lang, n=page + 1, of=len(m.pages))) if len(m.pages) > 1 else "")
    text(W - 14, 12, right, 9, "#404040", ha="right")

    # the bottom band: flags (left), legend (right)
    notes = list(m.notes) if page == 0 else []
    lines_flags = [f.text for f in m.flags] if page == 0 else []
    band_top = H - 118
    area = (14, 34, W - 28, band_top - 42)  # x, y, w, h of the card grid
    if pg is None:
        text(W / 2, H / 2 - 40, _t("placeholder", lang), 12, "#404040", ha="center")
    else:
        _draw_grid(ax, text, pg, area, lang)
    ax.add_patch(Rectangle((14, band_top), W * 0.66 - 14, 104, fill=False, edgecolor="#BFBFBF", lw=0.6))
    y = band_top + 6
    if page == 0:
        text(22, y, _t("flags", lang), 9.5, _hex(FLAG_COLOUR) if lines_flags else "#006100")
        y += 14
        for s in (lines_flags or [_t("no_flags", lang)]):
            text(26, y, _fit("! " + s if lines_flags else s, W * 0.66 - 50, 8), 8,
                 _hex(FLAG_COLOUR) if lines_flags else "#404040")
            y += 12
        room = max(0, BAND_LINES - len(lines_flags or [1]))
        if len(notes) > room:  # the band holds BAND_LINES lines
            notes = notes[:max(0, room - 1)] + [_t("more_notes", lang, n=len(notes) - max(0, room - 1))]
        for s in notes:
            text(26, y, _fit("※ " + s, W * 0.66 - 50, 7.5), 7.5, "#404040")
            y += 11
    else:
        text(22, y, _t("flags", lang) + ": p.1", 9, "#404040")
    lx = W * 0.66 + 8
    ax.add_patch(Rectangle((lx, band_top), W - 14 - lx, 104, fill=False, edgecolor="#BFBFBF", lw=0.6))
    text(lx + 8, band_top + 6, _t("legend", lang), 9.5)
    ly = band_top + 22
    stances, last = m.legend[:-1], m.legend[-1]
    for n, (label, (fill, edge)) in enumerate(stances):
        cx = lx + 10 + (n % 2) * ((W - 14 - lx) / 2)
        cy = ly + (n // 2) * 15
        ax.add_patch(Rectangle((cx, cy), 16, 10, facecolor=_hex(fill), edgecolor=_hex(edge), lw=0.8))
        text(cx + 22, cy - 0.5, _fit(label, (W - 14 - lx) / 2 - 30, 8), 8)
    ly += ((len(stances) + 1) // 2) * 15
    label, (fill, edge) = last
    ax.add_patch(Rectangle((lx + 10, ly), 16, 10, facecolor=_hex(fill), edgecolor=_hex(edge), lw=0.8, ls="--"))
    text(lx + 32, ly - 0.5, _fit(label, W - 14 - lx - 40, 8), 8)
    ly += 17
    text(lx + 10, ly, _t("legend_line", lang), 8, "#404040")
    text(lx + 10, ly + 13, _t("legend_flag", lang), 8, _hex(FLAG_COLOUR))

    buf = io.BytesIO()
    with warnings.catch_warnings():  # a character the font lacks (an emoji) is drawn as a box
        warnings.filterwarnings("ignore", message="Glyph .* missing from")
        fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _draw_grid(ax: Any, text: Callable[..., None], pg: Page, area: tuple[float, float, float, float],
               lang: str) -> None:
    from matplotlib.patches import FancyBboxPatch

    ax_x, ax_y, aw, ah = area
    sw = min(aw / max(pg.width, 1), 150.0)
    sh = min(ah / max(pg.height, 1), 78.0)
    x0 = ax_x + (aw - sw * pg.width) / 2

    def pt(x: float, y: float) -> tuple[float, float]:
        return x0 + x * sw, ax_y + y * sh

    for line in pg.lines:
        xs, ys = zip(*(pt(x, y) for x, y in line))
        ax.plot(xs, ys, color="#7F7F7F", lw=0.8, solid_capstyle="butt")
    cw = (CARD_RIGHT - CARD_LEFT) * sw
    ch = (CARD_BOTTOM - CARD_TOP) * sh
    size = min(8.0, (ch - 5) / 6.9, cw / 9.5)
    # a date always fits (0.92: hinting makes small text a little wider than scaled)
    size = max(4.0, min(size, 0.92 * (cw - 6) * 10 / _width(_t("last", lang, v="2026/12/31"), 10.0)))
    for c in pg.cards:
        p = c.person
        fill, edge = c.colours
        left, top = pt(c.x + CARD_LEFT, c.y + CARD_TOP)
        ax.add_patch(FancyBboxPatch((left, top), cw, ch, boxstyle="round,pad=0,rounding_size=3",
                                    facecolor=_hex(fill), edgecolor=_hex(edge),
                                    lw=1.4 if c.flags else 0.8, linestyle="--" if p.gone else "-"))
        ink = "#808080" if p.gone else "#000000"
        pad = 3
        avail = cw - 2 * pad
        status = f"［{p.stance}］" if p.stance and not p.gone else ""
        if p.gone:
            status = f"［{p.status}］"
        tag = _width(status, size * 0.9) + 2 if status else 0
        inline = _width(p.name, size * 1.25) + tag <= avail  # else the stance leads the role line
        text(left + pad, top + 2.5, _fit(p.name, avail - (tag if inline else 0), size * 1.25), size * 1.25, ink)
        if status and inline:
            text(left + cw - pad, top + 3, status, size * 0.9, _hex(edge) if not p.gone else ink, ha="right")
        first = [status.strip("［］")] if status and not inline else []
        rows = [" ".join(v for v in (p.title, p.department) if v),
                "・".join(v for v in first + [p.role, _t("influence", lang, v=p.influence) if p.influence else ""]
                         if v),
                _t("owner", lang, v=p.owner) if p.owner else "",
                _t("last", lang, v=p.last_contact.strftime("%Y/%m/%d") if p.last_contact else _t("never", lang))]
        y = top + 2.5 + size * 1.25 * 1.35
        for n, s in enumerate(rows):
            colour = _hex(FLAG_COLOUR) if (n == 3 and "stale" in c.flags) else ink
            if s:
                text(left + pad, y, _fit(s, avail, size), size, colour)
            y += size * 1.22
        if c.flags:  # in the gap right of the card
            text(left + cw + 0.5, top + ch / 2, "!", size * 1.6, _hex(FLAG_COLOUR), va="center")
        if c.upline:
            text(left, top - 1, _fit(_t("upline", lang, v=c.upline), cw, size * 0.85), size * 0.85, "#404040",
                 va="bottom")


# -- the workbook -------------------------------------------------------------------------------

def remove_from_workbook(wb: Any) -> int | None:
    """Delete the map sheet (either language) of ``wb``; its position, or None."""
    at = None
    for name in SHEET.all():
        if name in wb.sheetnames:
            at = wb.sheetnames.index(name)
            del wb[name]
    return at


def render_relmap_png(spec: Spec, plan: PlanData, lang: str = "ja", now: datetime | date | None = None, *,
                      settings: Settings | None = None) -> list[bytes]:
    """Every page of the relationship map of ``plan`` as PNG bytes (``xltools live map``
    puts them into the workbook open in Excel); no named contact: no page."""
    stale = settings.thresholds.contact_stale_days if settings is not None else 90
    m = build_map(spec, plan, lang, now=now, stale_days=stale)
    return [render_png(m, n) for n in range(len(m.pages))]


def add_to_workbook(wb: Any, spec: Spec, plan: PlanData, lang: str = "ja", now: datetime | date | None = None, *,
                    settings: Settings | None = None, account: str | None = None,
                    period: str | None = None) -> RelMap:
    """Draw the relationship map of ``plan`` onto the sheet 関係図 / Relationship map of
    the openpyxl workbook ``wb``, right after the sheet holding the Contacts table (an
    older map sheet is replaced), one picture per printed A4 landscape page.  A plan
    without any named contact gets no map sheet (and loses an old one).  Returns the map."""
    from openpyxl.drawing.image import Image
    from openpyxl.worksheet.pagebreak import Break, RowBreak

    from xltools.workbook.printing import page_setup

    stale = settings.thresholds.contact_stale_days if settings is not None else 90
    m = build_map(spec, plan, lang, now=now, stale_days=stale, account=account, period=period)
    old = remove_from_workbook(wb)
    if not m.pages:
        return m
    at = next((n + 1 for n, ws in enumerate(wb.worksheets) if T.CONTACTS in ws.tables), old)
    ws = wb.create_sheet(SHEET(m.lang), at)
    ws.column_dimensions["A"].width = COLUMN_WIDTH
    last = len(m.pages) * ROWS_PER_PICTURE
    for r in range(1, last + 1):
        ws.row_dimensions[r].height = ROW_POINTS
    ws.row_breaks = RowBreak()
    for n in range(len(m.pages)):
        img = Image(io.BytesIO(render_png(m, n)))
        img.width, img.height = PX_W, PX_H
        ws.add_image(img, f"A{1 + n * ROWS_PER_PICTURE}")
        if n:
            ws.row_breaks.append(Break(id=n * ROWS_PER_PICTURE))
    page_setup(ws, lang=m.lang, account=_text(account or plan.fields.get("account_name")
                                              or plan.meta.get("account_name")),
               period=_text(period or plan.fields.get("period") or plan.meta.get("period")))
    # not centred: LibreOffice centres the cell range, narrower there than the picture
    ws.print_options.horizontalCentered = False
    ws.print_area = f"A1:A{last}"
    ws.protection.sheet = True
    return m
