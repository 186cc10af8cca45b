"""``xltools --help`` is printed without importing click, and is exactly click's text."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

RUN = "import sys; sys.argv[0] = sys.argv[1]; del sys.argv[1]; from xltools.console import run; run()"
CLICK = "import sys; from xltools.cli import cli; cli.main(sys.argv[1:], prog_name='xltools')"


def xltools(*args: str, columns: str | None, code: str = RUN, prog: str = "xltools") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = columns
    argv = [sys.executable, "-X", "importtime", "-c", code, *([prog] if code == RUN else []), *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)


def imported(r: subprocess.CompletedProcess) -> set[str]:
    return {line.rsplit("|", 1)[1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize("flag", ["--help", "-h"])
@pytest.mark.parametrize("columns", [None, "80", "200"])
def test_help_is_clicks_text_without_click(flag, columns):
    fast, slow = xltools(flag, columns=columns), xltools(flag, columns=columns, code=CLICK)
    assert fast.returncode == slow.returncode == 0
    assert fast.stdout == slow.stdout and fast.stdout.startswith("Usage: xltools [OPTIONS] COMMAND")
    assert "click" not in imported(fast) and "click" in imported(slow)


def test_a_narrow_terminal_or_another_name_gets_clicks_own_wrapping():
    narrow = xltools("--help", columns="60")
    assert narrow.returncode == 0 and "click" in imported(narrow)
    assert narrow.stdout == xltools("--help", columns="60", code=CLICK).stdout
    assert narrow.stdout != xltools("--help", columns="80").stdout  # wrapped at 58, not 78
    other = xltools("--help", columns="80", prog="xlt")
    assert other.stdout.startswith("Usage: xlt [OPTIONS]") and "click" in imported(other)


def test_other_arguments_go_to_click():
    r = xltools("--help", "check", columns="80")
    assert "click" in imported(r)
    r = xltools("check", "--help", columns="80")
    assert r.returncode == 0 and r.stdout.startswith("Usage: xltools check")
