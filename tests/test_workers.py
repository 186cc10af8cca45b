"""The one-at-a-time worker of ``check``: a read that kills its process costs that read only."""
from __future__ import annotations

import os
import signal
import threading

import pytest

from xltools.workbook.workers import ForkedWorker, ReadPool, WorkerDied, one_worker

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")

_STATE: dict = {}


def _init(tag: str) -> None:
    _STATE["tag"] = tag


def _job(arg):
    kind, value = arg
    if kind == "echo":
        return (_STATE["tag"], value, os.getpid())
    if kind == "raise":
        raise ValueError(value)
    if kind == "abort":
        os.abort()
    if kind == "exit":
        os._exit(value)
    if kind == "unpicklable":
        return lambda: None
    raise AssertionError(kind)


def test_values_exceptions_and_deaths_each_cost_one_read():
    with ForkedWorker(_job, initializer=_init, initargs=("t",)) as w:
        tag, value, pid1 = w.run(("echo", "あ" * 100_000))  # more than a pipe buffer holds
        assert (tag, value) == ("t", "あ" * 100_000) and pid1 != os.getpid()
        assert w.run(("echo", 2))[2] == pid1  # the same worker reads the next one
        exc = w.run(("raise", "bad cell"))
        assert isinstance(exc, ValueError) and str(exc) == "bad cell"
        died = w.run(("abort", None))
        assert isinstance(died, WorkerDied) and died.exitcode == -signal.SIGABRT
        assert "SIGABRT" in died.describe("en") and "SIGABRT" in died.describe("ja")
        tag, _, pid2 = w.run(("echo", 3))  # a new worker, initialised again
        assert tag == "t" and pid2 != pid1
        died = w.run(("exit", 7))
        assert isinstance(died, WorkerDied) and died.exitcode == 7
        bad = w.run(("unpicklable", None))
        assert isinstance(bad, RuntimeError) and "cannot be sent back" in str(bad)
        assert w.deaths == 2
    assert w.pid is None
    with pytest.raises(ChildProcessError):  # the last worker was reaped on close
        os.waitpid(pid2, os.WNOHANG)


def test_one_worker_forks_only_from_a_single_thread():
    assert isinstance(one_worker(_job), ForkedWorker) == (threading.active_count() == 1)
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        w = one_worker(_job, initializer=_init, initargs=("pool",))
        assert isinstance(w, ReadPool)
        with w:
            assert w.run(("echo", 1))[:2] == ("pool", 1)
    finally:
        stop.set()
        t.join()


def test_a_worker_started_early_gets_its_functions_by_name_and_its_initargs_later():
    w = ForkedWorker(f"{__name__}:_job", initializer=f"{__name__}:_init", preload=("json",)).start()
    first = w.pid
    with w:
        w.initargs = ("late",)  # known only after the fork
        assert w.run(("echo", 1))[:2] == ("late", 1)
        assert isinstance(w.run(("abort", None)), WorkerDied)
        assert w.run(("echo", 2))[:2] == ("late", 2) and w.pid != first  # the new worker gets them too
        assert w.start() is w and w.pid is not None


def test_the_console_starts_checks_worker_before_the_command_line_is_imported(tmp_path):
    import subprocess
    import sys

    probe = ("import atexit, sys\n"
             "sys.argv = ['xltools', 'check', 'missing.xlsx']\n"
             "from xltools.checking import worker\n"
             "seen = {}\n"
             "real_start, real_get = worker.start_early, worker.check_worker\n"
             "def start_early():\n"
             "    seen['click imported'] = 'click' in sys.modules\n"
             "    real_start()\n"
             "    seen['early'] = worker._EARLY[0]\n"
             "def check_worker():\n"
             "    w = real_get()\n"
             "    seen['used the early one'] = w is seen.get('early')\n"
             "    return w\n"
             "worker.start_early, worker.check_worker = start_early, check_worker\n"
             "atexit.register(lambda: print(sorted((k, v) for k, v in seen.items() if k != 'early')))\n"
             "from xltools.console import run\n"
             "run()\n")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 1 and "E-FILE-UNREADABLE" in r.stdout, r.stdout + r.stderr
    assert r.stdout.rstrip().splitlines()[-1] == "[('click imported', False), ('used the early one', True)]"


def _init_to_file(path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(str(os.getpid()))
    _STATE["tag"] = path


def _warm() -> None:
    _STATE["warm"] = os.getpid()


def _warmed(arg):
    return _STATE.get("warm"), arg


def test_configure_sends_the_initargs_before_the_first_read_and_preload_calls_warm_ups(tmp_path):
    import time

    marker = tmp_path / "initialised"
    with ForkedWorker(_job, initializer=_init_to_file, preload=("json", f"{__name__}:_warm")) as w:
        w.configure((str(marker),))  # not started: nothing is sent, the first read sends it
        assert not marker.exists()
        w.start()
        w.configure((str(marker),))
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert marker.read_text(encoding="utf-8") == str(w.pid)  # ran in the worker, before any read
        assert w.run(("echo", 1))[:2] == (str(marker), 1)
    with ForkedWorker(_warmed, preload=(f"{__name__}:_warm",)) as w:
        warm_pid, _ = w.run("x")
        assert warm_pid == w.pid != os.getpid()
    pool = ReadPool(_job)
    pool.configure(("z",))
    assert pool.initargs == ("z",)
