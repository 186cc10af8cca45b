"""The worker process ``check`` reads in, named so that it can start before the checking
modules are imported: the command line starts it first, and it imports the reader while
the parent loads the spec (on two cores, at the same time)."""
from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported before the worker is forked
if TYPE_CHECKING:
    from xltools.workbook.workers import ForkedWorker, ReadPool

#: the functions of the worker, imported where it runs (see :mod:`xltools.checking.check`)
WORKER_FN = "xltools.checking.check:_check_in_worker"
WORKER_INIT = "xltools.checking.check:_init_check_worker"


#: a worker started by :func:`start_early`, for the next :func:`check_worker`
_EARLY: list[ForkedWorker | ReadPool] = []


def check_worker() -> ForkedWorker | ReadPool:
    """The worker :func:`~xltools.checking.check.check_files` reads in (``.start()`` it early
    and pass it as ``worker=``): the one :func:`start_early` started, else a new one."""
    if _EARLY:
        return _EARLY.pop()
    from xltools.workbook.workers import PRELOAD, one_worker

    return one_worker(WORKER_FN, initializer=WORKER_INIT, preload=PRELOAD)


def start_early() -> None:
    """Start a worker now, before anything else is imported (:mod:`xltools.console`)."""
    _EARLY.append(check_worker().start())
