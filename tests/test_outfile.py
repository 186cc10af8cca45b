"""Output files: atomic writes, temporary files of killed runs cleaned up (only xltools'
own, only older than the running command, only when their process is gone), and a
failed write that names its file."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook

from xltools.workbook import outfile
from xltools.workbook.outfile import OutputError, atomic_path, clean_stale, save_workbook


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def leftovers(d: Path) -> dict[str, Path]:
    """Temporary files as killed runs leave them, and files that only look alike."""
    before = outfile.STARTED - 3600  # made an hour before this process started
    host, dead = outfile._HOST, dead_pid()
    files = {
        "killed": d / f".~xltools-{host}-{dead}-k1ll3d_x.xlsx",           # a report killed by kill -9
        "killed_csv": d / f".~xltools-{host}-{dead}-abc12345.csv",         # an export
        "legacy": d / ".~xltools-a1b2c3d4.xlsx",                           # the earlier name
        "running": d / f".~xltools-{host}-{os.getppid()}-r4nn1ng0.xlsx",   # a run still going
        "other_host_recent": d / f".~xltools-000000-{dead}-0th3rh0s.xlsx",
        "other_host_old": d / f".~xltools-000000-{dead}-0ldh0st0.xlsx",
        "new": d / f".~xltools-{host}-{dead}-n3wf1l3x.xlsx",               # made after this run began
        "not_ours": d / ".~lock.plan.xlsx#",
        "a_plan": d / "xltools-report.xlsx",
    }
    for name, p in files.items():
        p.write_bytes(b"PK")
        at = outfile.STARTED + 60 if name == "new" else before
        if name == "other_host_old":
            at = outfile.STARTED - 2 * outfile.OTHER_HOST_AGE
        os.utime(p, (at, at))
    return files


def test_stale_temporary_files_of_killed_runs_are_removed_and_nothing_else(tmp_path):
    files = leftovers(tmp_path)
    removed = clean_stale(tmp_path)
    assert sorted(p.name for p in removed) == sorted(files[k].name for k in
                                                     ("killed", "killed_csv", "legacy", "other_host_old"))
    assert {k for k, p in files.items() if p.exists()} == {"running", "other_host_recent", "new", "not_ours",
                                                             "a_plan"}


def test_every_write_cleans_its_folder_first(tmp_path):
    files = leftovers(tmp_path)
    save_workbook(Workbook(), tmp_path / "rollup.xlsx")
    assert not files["killed"].exists() and files["running"].exists()
    assert (tmp_path / "rollup.xlsx").is_file()


def test_a_full_disk_names_the_file_and_leaves_nothing_behind(tmp_path):
    out = tmp_path / "rollup.xlsx"
    out.write_bytes(b"previous")
    with pytest.raises(OutputError) as ei:
        with atomic_path(out) as tmp:
            tmp.write_bytes(b"half")
            raise OSError(28, "No space left on device")
    assert str(out) in str(ei.value) and "No space left on device" in str(ei.value)
    assert isinstance(ei.value, OSError) and ei.value.filename == str(out)
    assert out.read_bytes() == b"previous" and [p.name for p in tmp_path.iterdir()] == ["rollup.xlsx"]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """A database with one collected plan."""
    from datetime import datetime

    from test_collect import simple_plan

    from xltools.collect import collect_paths
    from xltools.spec.config import Settings
    from xltools.spec.spec import load_spec
    from xltools.store.engine import Store

    d = tmp_path_factory.mktemp("db")
    settings = Settings()
    spec = settings.apply(load_spec())
    simple_plan(d / "in" / "alpha.xlsx", spec, settings, "アルファ工業", "佐藤")
    url = f"sqlite:///{d / 'x.db'}"
    with Store(url, spec) as store:
        collect_paths([d / "in"], store, spec, settings, jobs=1, now=datetime(2026, 10, 15, 12, 0))
    return url


@pytest.mark.parametrize("command", [["report", "--period", "FY2026Q3", "-o"], ["export", "plans", "-o"],
                                     ["cases", "export", "-o"]], ids=["report", "export", "cases export"])
def test_the_next_run_removes_what_a_killed_run_left(db, tmp_path, command):
    from click.testing import CliRunner

    from xltools.cli import cli

    files = leftovers(tmp_path)
    out = tmp_path / ("plans.csv" if command[0] == "export" and command[1] == "plans" else "out.xlsx")
    r = CliRunner().invoke(cli, [*command, str(out), "--db", db])
    assert r.exit_code == 0, r.output
    assert out.is_file() and not files["killed"].exists() and not files["legacy"].exists()
    assert files["running"].exists() and files["not_ours"].exists()
    assert not [p for p in tmp_path.iterdir() if outfile._OURS.match(p.name) and p.stat().st_mtime >= outfile.STARTED
                and p != files["new"]]  # this run's own temporary file is gone too


def test_a_full_disk_during_report_names_the_file(db, tmp_path, monkeypatch):
    import zipfile

    from click.testing import CliRunner

    from xltools.cli import cli

    def full(self, *args, **kwargs):  # the disk fills up as the package is being written
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", full)
    out = tmp_path / "rollup.xlsx"
    r = CliRunner().invoke(cli, ["report", "--period", "FY2026Q3", "-o", str(out), "--db", db])
    assert r.exit_code == 3 and str(out) in r.output and "No space left on device" in r.output
    assert "Error: :" not in r.output and "Traceback" not in r.output
    assert list(tmp_path.iterdir()) == []
