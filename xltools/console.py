"""The ``xltools`` console command: the command line of :mod:`xltools.cli`, started and ended
for speed.

* ``xltools check ...`` forks the worker process that reads the files first, before the
  command line's own modules (click) are imported: the worker imports the reader while
  the parent parses the command line and loads the spec -- on two cores, at the same time
  (:mod:`xltools.checking.worker`).
* Once a command is done, Python's exit handlers run (``atexit``), its output is flushed
  and the process ends with ``os._exit`` (:func:`quick_exit`): the interpreter's teardown,
  which frees every object of every module, is skipped -- it takes longer than many
  commands (SQLAlchemy's modules alone about 0.17 s).  Every file xltools writes is closed
  (and replaced atomically) before the command returns, the store's connections are
  closed by then and worker processes have been joined.  While another thread still
  runs, the exit is the normal one (it waits for that thread).
"""
from __future__ import annotations

import os
import sys


def run() -> None:
    """The console entry point (``xltools``, ``python -m xltools``)."""
    if sys.argv[1:2] == ["check"]:
        from xltools.checking.worker import start_early

        start_early()
    from xltools.cli import cli

    try:
        cli.main()
        code: object = 0
    except SystemExit as e:
        code = e.code
    quick_exit(code)


def quick_exit(code: object) -> None:
    """End the process with ``code`` (as :func:`sys.exit` reads it: None is 0, a text is
    printed on stderr and gives 1) after the exit handlers, without the teardown."""
    import atexit
    import threading

    if not isinstance(code, int):
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (xltools ... | head) or a closed stream
            pass
    os._exit(code)
