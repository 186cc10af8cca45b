"""Golden file: any change to the generated workbook shows up here, part by part.

Like XlsxWriter's comparison tests, the .xlsx is compared as the set of its zip parts,
each XML part canonicalised (C14N) with the save timestamps in docProps masked.  The
plan_id and generated_at are fixed, so everything else must be byte-for-byte stable.

An intended change (a new field in the YAML, a new style...) is accepted by
regenerating the golden file and reviewing its diff in git:

    XLTOOLS_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py
"""
from __future__ import annotations

import difflib
import os
import re
import zipfile
from pathlib import Path
from xml.etree.ElementTree import canonicalize

import pytest

from xltools.spec.config import Settings
from xltools.spec.spec import load_spec
from xltools.workbook.generate import PlanInfo, generate_workbook

GOLDEN = Path(__file__).parent / "golden" / "account_plan_ja.xlsx"
INFO = dict(account_name="株式会社ゴールデン", rep="山田太郎", period="FY2026Q3", account_id="G-0001",
            target=30_000_000, lang="ja", team_members="佐藤、鈴木",
            plan_id="00000000-0000-4000-8000-000000000001", generated_at="2026-07-01T09:00:00+09:00")
MASKS = {
    "docProps/core.xml": [re.compile(r"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")],
}


def _parts(path: Path) -> dict[str, str]:
    out = {}
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            text = z.read(name).decode("utf-8")
            for rx in MASKS.get(name, ()):
                text = rx.sub(r"\1MASKED\2", text)
            if name.endswith((".xml", ".rels")):
                text = canonicalize(text, strip_text=False)
            out[name] = text
    return out


def _diff(name: str, want: str, got: str) -> str:
    def lines(s: str) -> list[str]:
        return s.replace("><", ">\n<").splitlines()

    diff = difflib.unified_diff(lines(want), lines(got), f"golden/{name}", f"generated/{name}", lineterm="", n=2)
    return "\n".join(list(diff)[:60])


def test_generated_workbook_matches_the_golden_file(tmp_path):
    path = generate_workbook(load_spec(), Settings(), PlanInfo(**INFO), tmp_path / "plan.xlsx")
    if os.environ.get("XLTOOLS_REGEN_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_bytes(path.read_bytes())
        pytest.skip(f"golden file regenerated: {GOLDEN}")
    assert GOLDEN.exists(), "no golden file: run with XLTOOLS_REGEN_GOLDEN=1 once"
    want, got = _parts(GOLDEN), _parts(path)
    assert sorted(got) == sorted(want), "the workbook's parts changed"
    for name in sorted(want):
        assert got[name] == want[name], (
            f"part {name} differs from the golden file (regenerate with XLTOOLS_REGEN_GOLDEN=1 if intended):\n"
            + _diff(name, want[name], got[name]))


def test_generation_is_deterministic(tmp_path):
    """Two runs with the same inputs give identical parts (timestamps masked): the golden
    comparison can only fail for a real change."""
    a = _parts(generate_workbook(load_spec(), Settings(), PlanInfo(**INFO), tmp_path / "a.xlsx"))
    b = _parts(generate_workbook(load_spec(), Settings(), PlanInfo(**INFO), tmp_path / "b.xlsx"))
    assert a == b


def test_golden_file_is_small():
    assert GOLDEN.stat().st_size < 80_000
