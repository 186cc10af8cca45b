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
#: what the worker does before its first file: import the reader, load the packaged spec
WARM_UP = "xltools.checking.check:_warm_up"
#: the first of the ``initargs`` that ask the worker to load the context itself
LOAD_CONTEXT = "load-context"


#: a worker started by :func:`start_early`, for the next :func:`check_worker`
_EARLY: list[ForkedWorker | ReadPool] = []


def check_worker() -> ForkedWorker | ReadPool:
    """The worker :func:`~xltools.checking.check.check_files` reads in (``.start()`` it early
    and pass it as ``worker=``): the one :func:`start_early` started, else a new one."""
    if _EARLY:
        return _EARLY.pop()
    from xltools.workbook.workers import PRELOAD, one_worker

    return one_worker(WORKER_FN, initializer=WORKER_INIT, preload=(*PRELOAD, WARM_UP))


def send_context(worker: ForkedWorker | ReadPool, config_path: str | None, now: object,
                 win_rate: float | None = None) -> None:
    """Let the worker load the spec and settings of ``config_path`` itself, now (what the
    command line loads with :func:`xltools.spec.config.load_context`), instead of being sent
    them with the first file: it reads that file sooner.  ``check_files`` then keeps these
    ``initargs``."""
    worker.configure((LOAD_CONTEXT, config_path, now, win_rate))


def start_early() -> None:
    """Start a worker now, before anything else is imported (:mod:`xltools.console`)."""
    _EARLY.append(check_worker().start())
