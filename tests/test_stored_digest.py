"""tools/stored_digest.py: what collect stored, table by table, byte for byte -- equal for
the same folder collected twice at the same time, different as soon as one value is."""
from __future__ import annotations

import json
import sqlite3
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import stored_digest  # noqa: E402

from xltools.collect import collect_paths  # noqa: E402
from xltools.spec.config import Settings  # noqa: E402
from xltools.spec.spec import load_spec  # noqa: E402
from xltools.store.engine import Store  # noqa: E402
from xltools.testing.folders import write_corpus  # noqa: E402

NOW = datetime(2026, 11, 20, 9, 0)


def _collect(folder: Path, db: Path) -> str:
    settings = Settings()
    spec = settings.apply(load_spec())
    url = f"sqlite:///{db}"
    with Store(url, spec) as store:
        collect_paths([folder], store, spec, settings, jobs=2, now=NOW)
    return url


def test_the_same_folder_gives_the_same_digests_and_a_changed_value_does_not(tmp_path, capsys):
    folder = tmp_path / "plans"
    write_corpus(folder, 3, seed=5, jobs=1, messy=0.3, period="FY2026Q3")
    a = _collect(folder, tmp_path / "a.db")
    b = _collect(folder, tmp_path / "b.db")
    da, db_ = stored_digest.digests(a), stored_digest.digests(b)
    assert da == db_ and da["plan_versions"]["rows"] == 3 and da["files"]["rows"] == 3
    assert da["issues"]["rows"] > 0 and stored_digest.differences(da, db_) == []
    saved = tmp_path / "a.json"
    assert stored_digest.main([a, "--write", str(saved)]) == 0
    assert stored_digest.main([b, "--compare", str(saved)]) == 0
    assert "identical" in capsys.readouterr().out
    bench = tmp_path / "stored-digest-3.json"  # what make bench keeps: the digests with their corpus and commit
    bench.write_text(json.dumps({"fingerprint": "f", "commit": "c", "tables": da}), encoding="utf-8")
    assert stored_digest.main([b, "--compare", str(bench)]) == 0
    assert "identical" in capsys.readouterr().out
    with sqlite3.connect(tmp_path / "b.db") as c:  # one stored message changes
        c.execute("update issues set message_en = message_en || '.' where id = (select max(id) from issues)")
    assert stored_digest.main([b, "--compare", str(saved)]) == 1
    out = capsys.readouterr().out
    assert "issues:" in out and "same count, other content" in out and "plan_versions" not in out
