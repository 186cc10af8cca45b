"""Hostile and broken input, kept fixed: hypothesis mutates real generated and filled plans
(zip structure, XML bytes, cell references, styles, shared strings, relationships, cell
values) and runs ``check_files`` and ``collect_paths`` on mixtures of good and mutated
files -- in a subprocess (``fuzz_worker.py``), so that an abort is caught.  Invariants:

* no crash: the subprocess answers every request; no ``E-INTERNAL`` anywhere;
* exactly one result per path, in ``check`` and in ``collect``;
* the good files' results are identical to a run without the bad ones;
* every input file is byte-identical afterwards (and keeps its mtime);
* every non-empty cell of a readable file (read independently with openpyxl) is stored
  or reported.

``make test`` runs a bounded, derandomised number of examples (``XLTOOLS_FUZZ_EXAMPLES``,
default 12); ``make fuzz`` a long random run.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, Phase, given, note
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from test_check import prefill

from xltools.spec.config import Settings
from xltools.spec.spec import load_spec
from xltools.workbook.generate import PlanInfo, generate_workbook

SETTINGS = Settings()
SPEC = SETTINGS.apply(load_spec())
EXAMPLES = int(os.environ.get("XLTOOLS_FUZZ_EXAMPLES", "12"))
LONG = "XLTOOLS_FUZZ_EXAMPLES" in os.environ


# -- real plans ------------------------------------------------------------------------------

def _plan(path: Path, account: str, rep: str, lang: str = "ja", filled: bool = True) -> Path:
    info = PlanInfo(account_name=account, rep=rep, period="FY2026Q3", lang=lang)
    return generate_workbook(SPEC, SETTINGS, info, path, prefill() if filled else None)


def _resaved(src: Path, dst: Path, edits: dict | None = None) -> Path:
    """The plan as a rep leaves it after editing it: saved again by another writer."""
    wb = openpyxl.load_workbook(src)
    for (sheet, ref), value in (edits or {}).items():
        wb[wb.sheetnames[sheet]][ref] = value
    wb.save(dst)
    return dst


_INLINE = re.compile(rb'<c ([^>]*?)t="inlineStr"([^>]*)><is>(.*?)</is></c>', re.S)
SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
SST_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"


def _with_shared_strings(data: bytes) -> bytes:
    """The same workbook with its text in a shared string table, as Excel saves it."""
    items: list[bytes] = []

    def share(m: re.Match) -> bytes:
        items.append(m.group(3))
        return b'<c %st="s"%s><v>%d</v></c>' % (m.group(1), m.group(2), len(items) - 1)

    src = zipfile.ZipFile(io.BytesIO(data))
    parts = {n: src.read(n) for n in src.namelist()}
    for name in parts:
        if name.startswith("xl/worksheets/") and name.endswith(".xml"):
            parts[name] = _INLINE.sub(share, parts[name])
    parts["xl/sharedStrings.xml"] = (
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">'
        % (len(items), len(items)) + b"".join(b"<si>" + i + b"</si>" for i in items) + b"</sst>")
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", f'<Relationship Id="rIdSST" Type="{SST_REL}" Target="sharedStrings.xml"/>'
                             "</Relationships>".encode())
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SST_TYPE}"/></Types>'.encode())
    return _zip(parts)


def _zip(parts: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return out.getvalue()


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    """Good plans and the plans the mutants are made from (other accounts and reps, so
    that a mutant never competes with a good plan for its account)."""
    d = tmp_path_factory.mktemp("bases")
    good = [_plan(d / "good_ja.xlsx", "良品工業株式会社", "佐藤 花子"),
            _resaved(_plan(d / "g2.xlsx", "Good Corp", "Jane Smith", lang="en"), d / "good_en_resaved.xlsx",
                     {(3, "Z40"): "memo"})]
    sources = [_plan(d / "m1.xlsx", "変異電機株式会社", "鈴木 一郎"),
               _resaved(_plan(d / "m2.xlsx", "Mutant Trading", "John Doe", lang="en"), d / "m2r.xlsx"),
               _plan(d / "m3.xlsx", "空欄産業", "高橋 次郎", filled=False)]
    bases = [p.read_bytes() for p in sources]
    bases.append(_with_shared_strings(bases[0]))
    return Plans(good=[p.read_bytes() for p in good], bases=bases)


class Plans(dict):
    """The plans' bytes (a short repr: hypothesis prints the arguments of a failing example)."""

    def __init__(self, **kw):
        super().__init__(**kw)

    def __repr__(self) -> str:
        return f"Plans({len(self['good'])} good, {len(self['bases'])} bases)"


# -- mutations ---------------------------------------------------------------------------------

def _parts(data: bytes) -> dict[str, bytes]:
    z = zipfile.ZipFile(io.BytesIO(data))
    return {n: z.read(n) for n in z.namelist()}


EXTREME_REFS = [b"XFD1048576", b"XFE1", b"A1048577", b"A0", b"ZZZZZZ9", b"zzzzzz9", b"A99999999999", b"1A", b"",
                b"XFD300", b"A1048576", b"AB12", b"$A$1", b"A-1", b"XFD1", b"B2"]
FRAGMENTS = [b"<", b">", b"</row>", b'<c r="A1">', b"&", b"&#0;", b"<!-- x", b"]]>", b"<x:y>", b'"', b"\x00", b"\xff",
             b'<!DOCTYPE x [<!ENTITY a "b">]>', b"</sheetData>", b"<sheetData/>", b"</c></row></sheetData>"]
ERRORS = [b"#REF!", b"#N/A", b"#DIV/0!", b"#VALUE!", b"#SPILL!", b"#CALC!", b"#BOGUS", b""]
NUMBERS = [b"1e999", b"-1e300", b"nan", b"abc", b"-99999999999", b"99999999999999", b"-1", b"4.5e15", b""]


def _sheet_names(parts: dict) -> list[str]:
    return sorted(n for n in parts if n.startswith("xl/worksheets/") and n.endswith(".xml")) or sorted(parts)


def m_zip(data: bytes, draw) -> bytes:
    parts = _parts(data)
    how = draw(st.sampled_from(["drop", "duplicate", "truncate", "flip", "stored", "junk", "rename"]))
    names = sorted(parts)
    name = draw(st.sampled_from(names))
    if how == "drop":
        parts.pop(name)
    elif how == "truncate":
        return data[:draw(st.integers(0, len(data) - 1))]
    elif how == "flip":
        raw = bytearray(data)
        for _ in range(draw(st.integers(1, 6))):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
        return bytes(raw)
    elif how == "stored":
        return _zip(parts, zipfile.ZIP_STORED)
    elif how == "junk":
        parts[draw(st.sampled_from(["xl/junk.bin", "xl/evil.xml", "customXml/item1.xml"]))] = draw(
            st.sampled_from([os.urandom(64), b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "c">]><a/>', b"<a>"]))
    elif how == "rename":
        parts[name + draw(st.sampled_from([".bak", "x", ""]))] = parts.pop(name)
    else:  # duplicate: a second member of the same name
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            for n, d in parts.items():
                z.writestr(n, d)
            with pytest.warns(UserWarning):
                z.writestr(name, b"<worksheet/>")
        return out.getvalue()
    return _zip(parts)


def m_xml(data: bytes, draw) -> bytes:
    parts = _parts(data)
    xml_names = sorted(n for n in parts if n.endswith((".xml", ".rels")))
    name = draw(st.sampled_from(xml_names))
    b = bytearray(parts[name])
    how = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
    if how == "flip":
        for _ in range(draw(st.integers(1, 5))):
            b[draw(st.integers(0, len(b) - 1))] = draw(st.sampled_from(list(b'<>/"=&x\x00 ') + [0xFF]))
    elif how == "delete":
        i = draw(st.integers(0, len(b) - 1))
        del b[i:i + draw(st.integers(1, 200))]
    elif how == "insert":
        i = draw(st.integers(0, len(b)))
        b[i:i] = draw(st.sampled_from(FRAGMENTS))
    else:
        del b[draw(st.integers(0, len(b))):]
    parts[name] = bytes(b)
    return _zip(parts)


def m_refs(data: bytes, draw) -> bytes:
    parts = _parts(data)
    name = draw(st.sampled_from(_sheet_names(parts)))
    xml = parts[name]
    refs = list(re.finditer(rb'(<c [^>]*?\br=")([^"]*)(")', xml))
    if not refs:
        return data
    how = draw(st.sampled_from(["cell", "cells", "drop-r", "row", "dimension"]))
    if how in ("cell", "cells"):
        chosen = draw(st.lists(st.sampled_from(refs), min_size=1, max_size=1 if how == "cell" else 5, unique_by=id))
        for m in sorted(chosen, key=lambda m: -m.start()):
            new = draw(st.sampled_from(EXTREME_REFS))
            xml = xml[:m.start(2)] + new + xml[m.end(2):]
    elif how == "drop-r":
        m = draw(st.sampled_from(refs))
        xml = xml[:m.start(1)] + b"<c " + xml[m.end(3):]
    elif how == "row":
        rows = list(re.finditer(rb'(<row [^>]*?\br=")(\d+)(")', xml))
        if rows:
            m = draw(st.sampled_from(rows))
            xml = xml[:m.start(2)] + draw(st.sampled_from([b"0", b"1048577", b"99999999999", b"1", b"x"])) + xml[m.end(2):]
    else:
        xml = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="%s"' % draw(st.sampled_from(
            [b"A1:XFD1048576", b"A1:ZZZZZZ9", b"A1", b"B2:A1", b"A1:B2:C3", b""])), xml)
    parts[name] = xml
    return _zip(parts)


_STYLED_CELL = re.compile(rb'<c r="([A-Z]+\d+)"([^>]*?)\bs="(\d+)"[^>]*?(?:/>|>.*?</c>)', re.S)


def m_styles(data: bytes, draw) -> bytes:
    parts = _parts(data)
    how = draw(st.sampled_from(["cell-style", "date-formats", "no-styles", "xf-count", "date-number"]))
    if how in ("cell-style", "date-number"):
        name = draw(st.sampled_from(_sheet_names(parts)))
        xml = parts[name]
        cells = list(_STYLED_CELL.finditer(xml))
        if not cells:
            return data
        m = draw(st.sampled_from(cells))
        if how == "cell-style":
            new = m.group()[:m.start(3) - m.start()] + draw(st.sampled_from([b"999999", b"-1", b"x", b"0", b"3"])) \
                + m.group()[m.end(3) - m.start():]
        else:  # a number in a (maybe date-formatted) cell that is no date
            new = b'<c r="%s" s="%s"><v>%s</v></c>' % (m.group(1), m.group(3), draw(st.sampled_from(NUMBERS)))
        parts[name] = xml[:m.start()] + new + xml[m.end():]
    elif "xl/styles.xml" not in parts:
        return data
    elif how == "date-formats":
        parts["xl/styles.xml"] = re.sub(rb'numFmtId="\d+"', b'numFmtId="14"', parts["xl/styles.xml"])
    elif how == "no-styles":
        parts.pop("xl/styles.xml")
    else:
        parts["xl/styles.xml"] = re.sub(rb'<cellXfs count="\d+"', b'<cellXfs count="99999999999"',
                                        parts["xl/styles.xml"])
    return _zip(parts)


def m_strings(data: bytes, draw) -> bytes:
    parts = _parts(data)
    if "xl/sharedStrings.xml" not in parts:
        return m_values(data, draw)
    how = draw(st.sampled_from(["index", "count", "drop-items", "drop-part", "drop-rel"]))
    sst = parts["xl/sharedStrings.xml"]
    if how == "index":
        name = draw(st.sampled_from(_sheet_names(parts)))
        cells = list(re.finditer(rb'(t="s"[^>]*><v>)(\d+)(</v>)', parts[name]))
        if not cells:
            return data
        m = draw(st.sampled_from(cells))
        parts[name] = parts[name][:m.start(2)] + draw(st.sampled_from([b"999999", b"-1", b"x", b"", b"0"])) \
            + parts[name][m.end(2):]
    elif how == "count":
        parts["xl/sharedStrings.xml"] = re.sub(rb'uniqueCount="\d+"', draw(st.sampled_from(
            [b'uniqueCount="99999999999999"', b'uniqueCount="0"', b'uniqueCount="-5"'])), sst)
    elif how == "drop-items":
        items = list(re.finditer(rb"<si>.*?</si>", sst, re.S))
        keep = draw(st.integers(0, max(0, len(items) - 1)))
        parts["xl/sharedStrings.xml"] = sst[:items[keep].start()] + sst[items[-1].end():] if items else sst
    elif how == "drop-part":
        parts.pop("xl/sharedStrings.xml")
    else:
        parts["xl/_rels/workbook.xml.rels"] = re.sub(rb'<Relationship Id="rIdSST"[^>]*/>', b"",
                                                     parts["xl/_rels/workbook.xml.rels"])
    return _zip(parts)


def m_relationships(data: bytes, draw) -> bytes:
    parts = _parts(data)
    rels = sorted(n for n in parts if n.endswith(".rels")) + ["[Content_Types].xml"]
    name = draw(st.sampled_from(rels))
    xml = parts.get(name, b"")
    how = draw(st.sampled_from(["remove", "retarget", "type", "duplicate-id", "absolute"]))
    items = list(re.finditer(rb"<(?:Relationship|Override|Default) [^>]*/>", xml))
    if not items:
        return data
    m = draw(st.sampled_from(items))
    el = m.group()
    if how == "remove":
        el = b""
    elif how == "retarget":
        el = re.sub(rb'(Target|PartName)="[^"]*"', rb'\1="/xl/missing.xml"', el)
    elif how == "type":
        el = re.sub(rb'(Type|ContentType)="[^"]*"', rb'\1="application/xml"', el)
    elif how == "duplicate-id":
        el = el + el
    else:
        el = re.sub(rb'Target="(?!/)([^"]*)"', rb'Target="/xl/\1"', el)
    parts[name] = xml[:m.start()] + el + xml[m.end():]
    return _zip(parts)


def m_values(data: bytes, draw) -> bytes:
    parts = _parts(data)
    name = draw(st.sampled_from(_sheet_names(parts)))
    xml = parts[name]
    cells = list(re.finditer(rb'<c r="([A-Z]+\d+)"[^>]*?(?:/>|>.*?</c>)', xml, re.S))
    if not cells:
        return data
    m = draw(st.sampled_from(cells))
    ref = m.group(1)
    how = draw(st.sampled_from(["error", "far", "bool", "number", "formula-error"]))
    if how == "error":
        new = b'<c r="%s" t="e"><v>%s</v></c>' % (ref, draw(st.sampled_from(ERRORS)))
    elif how == "formula-error":
        new = b'<c r="%s" t="e"><f>1/0</f><v>#DIV/0!</v></c>' % ref
    elif how == "far":  # one more value, far from the others
        row = re.sub(rb"[A-Z]+", b"", ref)
        at = draw(st.sampled_from([(row, b"XFD" + row), (b"300", b"XFD300"), (b"1048576", b"A1048576")]))
        parts[name] = _add_cell(xml, at[0], b'<c r="%s" t="inlineStr"><is><t>far away</t></is></c>' % at[1])
        return _zip(parts)
    elif how == "bool":
        new = b'<c r="%s" t="b"><v>%s</v></c>' % (ref, draw(st.sampled_from([b"1", b"0", b"2", b"true", b""])))
    else:
        new = b'<c r="%s"><v>%s</v></c>' % (ref, draw(st.sampled_from(NUMBERS)))
    parts[name] = xml[:m.start()] + new + xml[m.end():]
    return _zip(parts)


def _add_cell(xml: bytes, row: bytes, cell: bytes) -> bytes:
    """``cell`` added as the last cell of row ``row`` (the row added when there is none)."""
    m = re.search(rb'<row r="%s"[^>]*?(/?)>' % row, xml)
    if m is None:
        return xml.replace(b"</sheetData>", b'<row r="%s">%s</row></sheetData>' % (row, cell), 1)
    if m.group(1):
        return xml[:m.start()] + m.group()[:-2] + b">" + cell + b"</row>" + xml[m.end():]
    end = xml.find(b"</row>", m.end())
    return xml[:end] + cell + xml[end:]


MUTATIONS = [m_zip, m_xml, m_refs, m_styles, m_strings, m_relationships, m_values]


def mutant(bases: list[bytes], data) -> tuple[bytes, str]:
    """A mutated copy of one of ``bases`` and what was done to it."""
    base = data.draw(st.integers(0, len(bases) - 1), label="base")
    content, done = bases[base], [f"base {base}"]
    for i in data.draw(st.lists(st.integers(0, len(MUTATIONS) - 1), min_size=1, max_size=3), label="mutations"):
        log: list[str] = []

        def draw(strategy, log=log):
            value = data.draw(strategy)
            log.append(repr(value)[:80])
            return value

        try:
            content = MUTATIONS[i](content, draw)
        except Exception:  # noqa: BLE001 - zipfile, zlib...: no longer a zip the mutations can open
            break  # it stays as it is
        done.append(f"{MUTATIONS[i].__name__}({', '.join(log)})")
    return content, "; ".join(done)


# -- the subprocess -------------------------------------------------------------------------------

class Worker:
    """``fuzz_worker.py`` in a subprocess, fed one request at a time."""

    def __init__(self, work: Path):
        self.work = work
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), *sys.path]))
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("fuzz_worker.py")), str(work)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)

    def ask(self, request: dict) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait(timeout=60)
            err = self.proc.stderr.read()
            pytest.fail(f"the worker died (exit {code}) on {request['paths']}:\n{err[-3000:]}", pytrace=False)
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    w = Worker(tmp_path_factory.mktemp("worker"))
    yield w
    w.close()


def _fingerprint(p: Path) -> tuple[str, int]:
    return hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns


_RUN = [0]


@hsettings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG, database=None,
           phases=[Phase.explicit, Phase.generate],  # an example costs seconds: no shrinking, the note says it all
           suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_files_never_crash_lose_or_disturb_anything(plans, worker, tmp_path_factory, data):
    _RUN[0] += 1
    d = tmp_path_factory.mktemp(f"mix{_RUN[0]}")
    picked = data.draw(st.lists(st.integers(0, len(plans["good"]) - 1), min_size=1, max_size=2, unique=True),
                       label="good plans")
    files = [("good", plans["good"][i], "good") for i in picked]
    for _ in range(data.draw(st.integers(1, 4), label="bad files")):
        content, done = mutant(plans["bases"], data)
        files.append(("bad", content, done))
    order = data.draw(st.permutations(range(len(files))), label="order")
    paths, good = [], []
    for n, i in enumerate(order):
        kind, content, done = files[i]
        p = d / f"{n:02d}_{kind}.xlsx"
        p.write_bytes(content)
        note(f"{p.name}: {done}")
        paths.append(str(p))
        if kind == "good":
            good.append(str(p))
    before = {p: _fingerprint(Path(p)) for p in paths}
    jobs = data.draw(st.sampled_from([1, 2]))

    out = worker.ask({"paths": paths, "good": good, "jobs": jobs})

    # exactly one result per path, and no internal failure anywhere
    assert [r["file"] for r in out["check"]] == paths
    assert sorted(out["collect"]) == sorted(str(Path(p).resolve()) for p in paths)
    codes = [i["code"] for r in out["check"] for i in r["report"]["issues"]]
    codes += [c for res in out["collect"].values() for c in res[1]]
    assert "E-INTERNAL" not in codes, out
    # the good files get exactly what they get without the bad ones
    by_file = {r["file"]: {k: v for k, v in r.items() if k != "lost"} for r in out["check"]}
    assert [by_file[p] for p in good] == out["check_good"]
    assert {p: out["collect"][str(Path(p).resolve())] for p in good} == {
        p: out["collect_good"][str(Path(p).resolve())] for p in good}
    # readable files are stored (collect agrees with check), nothing they hold is lost
    for r in out["check"]:
        result = out["collect"][str(Path(r["file"]).resolve())]
        if r["readable"]:
            assert result[0] != "rejected" or "E-NOT-A-PLAN" in result[1], (r["file"], result)
            assert not r.get("lost"), (r["file"], r["lost"])
        else:
            assert result[0] == "rejected" or result[0] == "unchanged", (r["file"], result)
            assert len(r["report"]["issues"]) == 1  # one file-level issue
    # the inputs are untouched
    assert {p: _fingerprint(Path(p)) for p in paths} == before
