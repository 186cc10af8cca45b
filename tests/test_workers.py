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
