"""The generator's texts cached for the reader (xltools.workbook.statictexts), and what ``check``
imports: neither openpyxl nor pandas once the texts are cached."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import xltools.workbook.statictexts as stx
from xltools.spec.config import Settings
from xltools.spec.spec import load_spec
from xltools.textwidth import display_width

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = Settings()
SPEC = SETTINGS.apply(load_spec())


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("XLTOOLS_CACHE_DIR", str(d))
    monkeypatch.setattr(stx, "_memo", {})
    return d


def _no_generator(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("the generator was asked for its texts")

    monkeypatch.setattr(stx, "compute_texts", refuse)


def test_texts_are_computed_once_then_read_from_the_cache(cache, monkeypatch):
    fresh = stx.compute_texts(SPEC, SETTINGS)
    assert "このブックの使い方" in fresh or any("使い方" in t for t in fresh)
    assert stx.workbook_texts(SPEC, SETTINGS) == fresh
    (f,) = cache.glob("static-texts-*.json")
    assert json.loads(f.read_text(encoding="utf-8"))["texts"] == sorted(fresh)
    monkeypatch.setattr(stx, "_memo", {})  # a new process: only the file is left
    _no_generator(monkeypatch)
    assert stx.workbook_texts(SPEC, SETTINGS) == fresh
    got = stx.workbook_texts(SPEC, SETTINGS)
    got.add("changed by the caller")
    assert "changed by the caller" not in stx.workbook_texts(SPEC, SETTINGS)


def test_other_settings_or_spec_give_another_key_and_their_own_texts(cache):
    industries = ({"key": "zz_test", "ja": "テスト業界", "en": "Test industry"},)
    other = dataclasses.replace(SETTINGS, industries=industries)
    assert stx.texts_key(SPEC, SETTINGS) != stx.texts_key(other.apply(load_spec()), other)
    assert stx.texts_key(SPEC, SETTINGS) != stx.texts_key(SPEC, dataclasses.replace(SETTINGS, language="en"))
    assert stx.texts_key(SPEC, SETTINGS) != stx.texts_key(dataclasses.replace(SPEC, version="99"), SETTINGS)
    assert stx.texts_key(SPEC, SETTINGS) == stx.texts_key(Settings().apply(load_spec()), Settings())
    a = stx.workbook_texts(SPEC, SETTINGS)
    b = stx.workbook_texts(other.apply(load_spec()), other)
    assert b == stx.compute_texts(other.apply(load_spec()), other) and a == stx.compute_texts(SPEC, SETTINGS)
    assert len(list(cache.glob("static-texts-*.json"))) == 2


def test_a_changed_generator_source_gives_another_key(monkeypatch):
    before = stx.texts_key(SPEC, SETTINGS)
    monkeypatch.setattr(stx, "_source_digest", lambda: b"another generator")
    assert stx.texts_key(SPEC, SETTINGS) != before


@pytest.mark.parametrize("content", ["", "not json", "[1, 2]", '{"key": "other", "texts": []}',
                                     '{"key": "%KEY%", "texts": [1, 2]}', '{"key": "%KEY%", "texts": "abc"}'])
def test_a_damaged_or_foreign_cache_file_is_computed_again(cache, content):
    key = stx.texts_key(SPEC, SETTINGS)
    path = stx._path(key)
    path.parent.mkdir(parents=True)
    path.write_text(content.replace("%KEY%", key), encoding="utf-8")
    assert stx.workbook_texts(SPEC, SETTINGS) == stx.compute_texts(SPEC, SETTINGS)
    assert json.loads(path.read_text(encoding="utf-8"))["key"] == key  # rewritten


def test_a_cache_folder_that_cannot_be_written_is_no_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("XLTOOLS_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(stx, "_memo", {})
    assert stx.workbook_texts(SPEC, SETTINGS) == stx.compute_texts(SPEC, SETTINGS)
    assert list(tmp_path.iterdir()) == [blocker]


def test_cache_folder_default_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv("XLTOOLS_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert stx.cache_dir() == tmp_path / "xdg" / "xltools"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert stx.cache_dir() == Path.home() / ".cache" / "xltools"
    monkeypatch.setenv("XLTOOLS_CACHE_DIR", str(tmp_path / "mine"))
    assert stx.cache_dir() == tmp_path / "mine"


def test_the_key_covers_every_xltools_module_the_generator_imports():
    code = ("import sys, xltools.workbook.statictexts as s; from xltools.spec.config import Settings; "
            "from xltools.spec.spec import load_spec; st = Settings(); s.compute_texts(st.apply(load_spec()), st); "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('xltools'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    import importlib

    used = set()
    for m in out.stdout.split():
        f = Path(importlib.import_module(m).__file__).resolve()
        rel = f.relative_to(Path(stx.__file__).resolve().parent.parent).as_posix()
        if not rel.endswith("/__init__.py") or rel in ("__init__.py", "workbook/generate/__init__.py"):
            used.add(rel)
    assert {"workbook/generate/__init__.py", "workbook/generate/builder.py"} <= used
    assert used - {"workbook/statictexts.py"} <= set(stx.GENERATOR_SOURCES)


@given(st.text())
def test_display_width_is_the_writers_display_width(text):
    from xltools.workbook.xlwrite import display_width as writers

    assert display_width(text) == writers(text)


_BLOCK = ("import sys\n"
          "for m in ('openpyxl', 'pandas', 'numpy'):\n"
          "    sys.modules[m] = None  # importing it raises ImportError, here and in forked workers\n"
          "from xltools.cli import cli\n"
          "cli(sys.argv[1:])\n")


def test_check_imports_neither_openpyxl_nor_pandas(tmp_path):
    from test_check import make_plan

    plan = make_plan(tmp_path / "plan.xlsx")
    env = {**os.environ, "XLTOOLS_CACHE_DIR": str(tmp_path / "cache"), "XLTOOLS_NOW": "2026-10-01T12:00:00"}
    env.pop("CI", None)  # an import error must show as the report's E-INTERNAL, checked below
    cmd = [sys.executable, "-m", "xltools", "check", str(plan), "--format", "json"]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)  # computes, caches
    assert first.returncode == 0, first.stdout + first.stderr
    timed = subprocess.run([sys.executable, "-X", "importtime", *cmd[1:]], capture_output=True, text=True,
                           env=env, cwd=ROOT)
    assert timed.returncode == 0, timed.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in timed.stderr.splitlines() if "|" in line}
    assert "xltools.checking.check" in imported and "xltools.spec" in imported
    assert not {m for m in imported if m.split(".")[0] in ("openpyxl", "pandas", "numpy", "sqlalchemy")}
    # the worker too: with the heavy modules blocked, the file is still read, with the same result
    blocked = subprocess.run([sys.executable, "-c", _BLOCK, *cmd[3:]], capture_output=True, text=True,
                             env=env, cwd=ROOT)
    assert blocked.returncode == 0, blocked.stdout + blocked.stderr
    (report,) = json.loads(blocked.stdout)["files"]
    assert report["valid"] is True and not [i for i in report["issues"] if i["code"] == "E-INTERNAL"]
    assert _without_timings(json.loads(blocked.stdout)) == _without_timings(json.loads(first.stdout))


def _without_timings(out: dict) -> dict:
    for f in out["files"]:
        f["stats"] = {k: v for k, v in f["stats"].items() if not k.endswith("_seconds")}
    return out
