"""The console command ends with a quick exit: exit handlers run, output is complete, the
exit status is the command's -- without the interpreter's teardown."""
from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import atexit, sys, threading, time
from xltools.console import quick_exit
mode, out = sys.argv[1], sys.argv[2]
atexit.register(lambda: open(out, "a").write("atexit ran\\n"))
sys.stdout.write("x" * 1_000_000)  # far more than a pipe holds: flushed before the exit
if mode == "thread":
    threading.Thread(target=lambda: (time.sleep(0.3), open(out, "a").write("thread done\\n"))).start()
    quick_exit(4)
quick_exit({"int": 3, "none": None, "text": "bad things"}[mode])
"""


@pytest.mark.parametrize("mode, code, err", [("int", 3, ""), ("none", 0, ""), ("text", 1, "bad things\n"),
                                             ("thread", 4, "")])
def test_quick_exit_runs_the_exit_handlers_and_flushes_the_output(tmp_path, mode, code, err):
    out = tmp_path / "log.txt"
    r = subprocess.run([sys.executable, "-c", SCRIPT, mode, str(out)], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stderr, len(r.stdout)) == (code, err, 1_000_000)
    expected = "thread done\natexit ran\n" if mode == "thread" else "atexit ran\n"  # a running thread is waited for
    assert out.read_text() == expected


def test_the_console_command_exits_with_the_command_status(tmp_path):
    missing = tmp_path / "no such plan.xlsx"
    r = subprocess.run([sys.executable, "-m", "xltools", "check", str(missing), "--format", "json", "--lang", "en"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    assert str(missing) in r.stdout and '"E-FILE-' in r.stdout
    r = subprocess.run([sys.executable, "-m", "xltools", "check"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "Missing argument" in r.stderr
    r = subprocess.run([sys.executable, "-m", "xltools", "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("xltools, version ")
