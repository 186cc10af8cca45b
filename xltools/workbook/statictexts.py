"""The generator's own texts, for the reader, without importing the generator.

The reader must tell the generator's texts (titles, labels, guide, legends) from a
rep's (:func:`xltools.workbook.generate.static_texts`).  Computing them means building a
workbook with openpyxl, which takes most of a second of start-up -- more than the
whole rest of ``xltools check``.  :func:`workbook_texts` therefore keeps them in a
small JSON file in the user's cache folder, keyed by everything they depend on: the
spec (with the company lists applied), the settings, the xltools version and the
source of the generator's modules.  A changed template, ``xltools.toml`` or
xltools gives another key, so a stale file is never used; a missing, damaged or
foreign cache file only means the texts are computed again (and the file rewritten
atomically; a cache folder that cannot be written is not an error).

The folder is ``$XLTOOLS_CACHE_DIR``, else ``$XDG_CACHE_HOME/xltools``, else
``~/.cache/xltools``.  This module imports neither openpyxl nor the generator unless
the texts must be computed.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from xltools import __version__
from xltools.spec.config import Settings
from xltools.spec.spec import LANGS, Spec, cache_dir, write_cache

#: the modules whose code decides what the generator writes (tests/test_statictexts.py checks
#: that every xltools module the generator imports is listed)
GENERATOR_SOURCES = ("workbook/generate/__init__.py", "workbook/generate/builder.py",
                     "workbook/generate/formulas.py", "workbook/generate/guide.py", "workbook/generate/plan.py",
                     "workbook/generate/rules.py", "workbook/generate/styles.py", "workbook/generate/tables.py",
                     "workbook/generate/texts.py", "workbook/layout.py", "workbook/charts.py", "workbook/printing.py",
                     "workbook/summary.py", "workbook/whitespace.py",
                     "workbook/xlwrite.py", "workbook/naming.py", "cells.py", "spec/spec.py", "spec/config.py",
                     "spec/derive.py", "spec/periods.py", "spec/model.py", "spec/issues.py", "spec/contract.py",
                     "errors.py", "clock.py", "messages.py", "textwidth.py", "__init__.py")
_FORMAT = 1
_memo: dict[str, frozenset[str]] = {}


def _source_digest() -> bytes:
    here = Path(__file__).resolve().parent.parent  # the xltools package
    h = hashlib.sha256()
    for name in GENERATOR_SOURCES:
        try:
            h.update(name.encode() + b"\0" + (here / name).read_bytes() + b"\0")
        except OSError:
            h.update(name.encode() + b"\0-\0")
    return h.digest()


def texts_key(spec: Spec, settings: Settings) -> str:
    """The cache key of ``spec`` + ``settings``: equal only when the texts must be equal."""
    h = hashlib.sha256()
    h.update(f"{_FORMAT}\0{__version__}\0".encode())
    h.update(_source_digest())
    h.update(repr(spec).encode("utf-8", "surrogatepass"))
    h.update(b"\0")
    h.update(repr(settings).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def compute_texts(spec: Spec, settings: Settings) -> set[str]:
    """The texts as the generator makes them, in both languages (imports openpyxl)."""
    from xltools.workbook.generate import static_texts

    texts: set[str] = set()
    for lang in LANGS:
        texts |= set(static_texts(spec, settings, lang))
    return texts


def _path(key: str) -> Path:
    return cache_dir() / f"static-texts-{key[:32]}.json"


def _load(key: str) -> set[str] | None:
    try:
        data = json.loads(_path(key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("texts"), list):
        return None
    texts = data["texts"]
    if not all(isinstance(t, str) for t in texts):
        return None
    return set(texts)


def _store(key: str, texts: set[str]) -> None:
    write_cache(_path(key), json.dumps({"key": key, "texts": sorted(texts)}, ensure_ascii=False))


def workbook_texts(spec: Spec, settings: Settings) -> set[str]:
    """The texts the generator itself writes into a workbook, in both languages
    (labels, titles, guide, legends): never reported as stray values.  Cached (see the
    module docs); the result is a fresh set the caller may change."""
    key = texts_key(spec, settings)
    known = _memo.get(key)
    if known is None:
        texts = _load(key)
        if texts is None:
            texts = compute_texts(spec, settings)
            _store(key, texts)
        known = _memo[key] = frozenset(texts)
    return set(known)
