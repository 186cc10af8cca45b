"""The cell encodings of :mod:`xltools.workbook.cellxml`, and the streamed sheets of
:func:`xltools.workbook.outfile.write_xlsx` that are written with them."""
from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from datetime import date, datetime

import openpyxl
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from xltools.workbook import cellxml
from xltools.workbook.outfile import stream_rows, write_xlsx
from xltools.workbook.xlwrite import stored_text

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def parse(cell: str) -> ET.Element:
    return ET.fromstring(f'<x xmlns="{NS}">{cell}</x>')[0]


def test_text_cell_is_an_inline_string_with_the_safety_rules():
    el = parse(cellxml.text_cell("B7", 3, "=1+2 & <b> _x0041_"))
    assert (el.get("r"), el.get("s"), el.get("t")) == ("B7", "3", "inlineStr")
    assert el.find(f"{{{NS}}}f") is None and el.find(f"{{{NS}}}v") is None
    assert "".join(el.itertext()) == "=1+2 & <b> _x005F_x0041_" == stored_text("=1+2 & <b> _x0041_")


def test_whitespace_and_carriage_returns():
    assert cellxml.inline("a  b\nc") == "<is><t>a  b\nc</t></is>"  # inner whitespace: kept by XML itself
    assert cellxml.inline(" lead") == '<is><t xml:space="preserve"> lead</t></is>'
    assert cellxml.inline("trail\n") == '<is><t xml:space="preserve">trail\n</t></is>'
    assert cellxml.inline("   ") == '<is><t xml:space="preserve">   </t></is>'
    assert cellxml.inline("a\r\nb") == "<is><t>a&#13;\nb</t></is>"
    assert "".join(parse(cellxml.text_cell("A1", 0, "a\r\nb")).itertext()) == "a\r\nb"


def test_numbers_booleans_formulas_dates():
    assert cellxml.number_cell("C2", 1, 0.1 + 0.2) == '<c r="C2" s="1"><v>0.30000000000000004</v></c>'
    assert cellxml.number_cell("C3", None, 10 ** 18) == '<c r="C3"><v>1000000000000000000</v></c>'
    assert cellxml.number(100.0) == "100.0" and cellxml.number(True) == "1"
    with pytest.raises(ValueError):
        cellxml.number_cell("C4", 1, float("nan"))
    assert cellxml.bool_cell("D1", 2, False) == '<c r="D1" s="2" t="b"><v>0</v></c>'
    assert cellxml.formula_cell("E1", None, '=IF(A1<1,"&","")') == '<c r="E1"><f>IF(A1&lt;1,"&amp;","")</f><v /></c>'
    with pytest.raises(ValueError):
        cellxml.formula_cell("E2", None, "SUM(A1)")
    assert cellxml.date_serial(date(2026, 10, 1)) == 46296
    assert cellxml.date_serial(datetime(2026, 10, 1, 9, 30)) == pytest.approx(46296.395833333336)
    assert cellxml.row(4, ["<c/>", "<c/>"], ' ht="20"') == '<row r="4" ht="20"><c/><c/></row>'


@hsettings(max_examples=200, deadline=None)
@given(text=st.text(max_size=40))
def test_any_text_reads_back_as_stored(text):
    el = parse(cellxml.text_cell("A1", 0, text))
    assert "".join(el.itertext()) == stored_text(text)


def test_a_streamed_sheet_is_written_with_the_rest_of_the_workbook(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "streamed"
    ws.column_dimensions["B"].width = 30
    wb.create_sheet("cells")["A1"] = "ordinary"
    chunks = (cellxml.row(r, [cellxml.text_cell(f"A{r}", 0, f"=row {r}"), cellxml.number_cell(f"B{r}", 0, r * 1.5)])
              for r in range(1, 1001))
    stream_rows(ws, chunks, "A1:B1000")
    out = tmp_path / "s.xlsx"
    write_xlsx(wb, out, compresslevel=1)
    back = openpyxl.load_workbook(out)
    rows = list(back["streamed"].iter_rows(values_only=True))
    assert len(rows) == 1000 and rows[0] == ("=row 1", 1.5) and rows[999] == ("=row 1000", 1500.0)
    assert back["streamed"].cell(1, 1).data_type == "s"
    assert back["streamed"].column_dimensions["B"].width == 30
    assert back["cells"]["A1"].value == "ordinary"
    with zipfile.ZipFile(out) as z:
        assert b'<dimension ref="A1:B1000" />' in z.read("xl/worksheets/sheet1.xml")


def test_a_carriage_return_in_a_plan_cell_reads_back(tmp_path):
    from xltools.workbook.xlwrite import write_text

    wb = openpyxl.Workbook()
    write_text(wb.active["A1"], "line\r\nnext")
    write_xlsx(wb, tmp_path / "cr.xlsx")
    assert openpyxl.load_workbook(tmp_path / "cr.xlsx").active["A1"].value == "line\r\nnext"
