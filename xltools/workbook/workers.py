"""Worker processes for reading untrusted files: a worker that dies costs one file.

python-calamine is native code.  :mod:`xltools.workbook.safety` checks every file before it
reads it, but a file may still find a way to make native code abort the process
(exit 134, no Python exception, no output).  So ``check`` and ``collect`` read every
file in a worker process (:class:`ReadPool`, over ``concurrent.futures``):

* a worker that dies breaks the whole pool (``BrokenProcessPool``): every file in
  flight fails with it, innocent or not.  The pool is rebuilt and those files are
  read again one at a time; a file that breaks the pool when it is read alone is the
  one that killed it, and its result is :class:`WorkerDied`.  Every other file gets
  its real result, as if the bad one had not been there;
* workers start by ``fork`` when the parent runs a single thread (a few
  milliseconds: the parent has imported everything already), else by
  ``forkserver`` with the reader preloaded (or ``spawn`` where neither exists).
  Before a fork the store closes its pooled database connections
  (:mod:`xltools.store`), so no connection is shared with a worker.

``check`` reads its files one after another in ONE worker: :func:`one_worker` gives a
:class:`ForkedWorker` (``os.fork`` and two pipes, no ``multiprocessing``: importing
``concurrent.futures`` and ``multiprocessing`` costs more than the read of a plan) where
the process may fork, else a :class:`ReadPool` of one.  Both keep the rule above: the
file that kills its worker gets :class:`WorkerDied`, and the next file a new worker.
"""
from __future__ import annotations

import os
import struct

# typing, signal and collections are imported where they are used: ``check`` forks its
# worker from this module before anything else is imported (:mod:`xltools.console`)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor
    from typing import Any, Callable, Iterable

#: modules a forkserver imports once, so that each worker starts warm
PRELOAD = ("xltools.checking.check", "xltools.workbook.reader", "xltools.checking.validate", "xltools.checking.rules")


class WorkerDied(Exception):
    """The worker reading a file died (``exitcode``: negative for a signal, None if unknown)."""

    def __init__(self, exitcode: int | None = None):
        self.exitcode = exitcode
        super().__init__(self.describe("en"))

    def how(self) -> tuple[str, str]:
        """How the worker stopped, (Japanese, English), to follow "stopped": by a signal
        (named), with an exit status, or unexpectedly."""
        import signal

        code = self.exitcode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"シグナル {name} で", f"(killed by {name})"
        if code:
            return f"終了コード {code} で", f"with exit status {code}"
        return "予期せず", "unexpectedly"

    def describe(self, lang: str = "en") -> str:
        how = self.how()
        if lang == "ja":
            return f"読み込み処理が{how[0]}停止しました"
        return f"the reading process stopped {how[1]}"


def _start_worker(initializer: Callable | None, initargs: tuple) -> None:
    """In each worker: native code dying there must not write on the user's terminal
    (a Rust allocation failure prints its message and backtrace to fd 2), so fd 2
    goes to the null device, and so does Python's fault handler if it is on (it writes on
    its own copy of fd 2); Python errors come back to the parent as results."""
    import sys

    if "faulthandler" in sys.modules:
        sys.modules["faulthandler"].disable()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    if initializer is not None:
        initializer(*initargs)


def worker_context(preload: Iterable[str] = PRELOAD):
    """The multiprocessing context for workers (see the module docs)."""
    import multiprocessing as mp
    import threading

    methods = mp.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return mp.get_context("fork")
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(list(preload))
        return ctx
    return mp.get_context("spawn")


class ReadPool:
    """Run ``fn(arg)`` in up to ``jobs`` worker processes; results come back as
    ``(key, value)`` pairs.  ``value`` is what ``fn`` returned, the exception it raised
    (an instance, not raised here), or :class:`WorkerDied` for the read that killed
    its worker.

    ``initializer(*initargs)`` runs in every worker (again after a rebuild)."""

    def __init__(self, fn: Callable[[Any], Any], jobs: int = 1, *, initializer: Callable | None = None,
                 initargs: tuple = (), preload: Iterable[str] = PRELOAD):
        from collections import deque

        self.fn, self.jobs = fn, max(1, jobs)
        self.initializer, self.initargs, self.preload = initializer, initargs, tuple(preload)
        self.executor: ProcessPoolExecutor | None = None
        self.workers = 0
        self.running: dict[Future, tuple[Any, Any]] = {}
        self.waiting: deque[tuple[Any, Any]] = deque()  # submitted, not yet sent
        self.suspects: deque[tuple[Any, Any]] = deque()  # in flight when a worker died
        self.alone = False  # the one read running is a suspect, read alone
        self.deaths = 0  # workers that died (for the summary and the tests)
        self._seen: dict = {}  # pid -> worker process of the current pool

    def __enter__(self) -> "ReadPool":
        return self

    def start(self) -> "ReadPool":
        """Nothing yet: the workers start with the first read."""
        return self

    def configure(self, initargs: tuple) -> None:
        """The ``initargs`` of the workers (they start with the first read)."""
        self.initargs = initargs

    def __exit__(self, exc_type, *_: Any) -> None:
        self.close(cancel=exc_type is not None)

    @property
    def pending(self) -> int:
        """Reads submitted and not yet returned by :meth:`results`."""
        return len(self.running) + len(self.waiting) + len(self.suspects)

    def submit(self, key: Any, arg: Any) -> None:
        self.waiting.append((key, arg))
        self._feed()

    def run(self, arg: Any) -> Any:
        """Read one ``arg`` and return its value (the pool must be otherwise idle)."""
        self.submit(None, arg)
        while True:
            for _, value in self.results(block=True):
                return value

    def results(self, block: bool = True) -> list[tuple[Any, Any]]:
        """Finished reads; with ``block``, waits until at least one is finished (or none
        is left in flight)."""
        from concurrent.futures import FIRST_COMPLETED, wait

        out: list[tuple[Any, Any]] = []
        while not out:
            self._feed()
            if not self.running:
                break
            done, _ = wait(self.running, timeout=None if block else 0, return_when=FIRST_COMPLETED)
            if not done:
                break
            out += self._finished(done)
            if not block:
                break
        return out

    def close(self, cancel: bool = False) -> None:
        """Stop the workers (``cancel``: without reading what is still queued)."""
        if cancel:
            self.waiting.clear()
            self.suspects.clear()
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=cancel)
            self.executor = None

    # -- internals --------------------------------------------------------------------
    def _finished(self, done: set[Future]) -> list[tuple[Any, Any]]:
        from concurrent.futures.process import BrokenProcessPool

        out, broken = [], []
        for fut in done:
            item = self.running.pop(fut)
            try:
                out.append((item[0], fut.result()))
            except BrokenProcessPool:
                broken.append(item)
            except Exception as exc:  # noqa: BLE001 - raised by fn (or its result would not pickle)
                out.append((item[0], exc))
        if not broken:
            self.alone = False
            return out
        # every read still in flight dies with the pool: none of them is to blame yet
        broken += self.running.values()
        self.running.clear()
        culprit = self.alone and len(broken) == 1
        died = WorkerDied(self._exit_code()) if culprit else None
        self.deaths += 1
        self._restart()
        self.alone = False
        if died is not None:
            out.append((broken[0][0], died))
        else:
            self.suspects.extend(broken)
        return out

    def _feed(self) -> None:
        if self.suspects or self.alone:  # isolating: one suspect at a time, nothing else
            if not self.running and self.suspects:
                self._send(self.suspects.popleft(), workers=1)
                self.alone = True
            return
        while self.waiting:
            self._send(self.waiting.popleft(), workers=self.jobs)

    def _send(self, item: tuple[Any, Any], workers: int) -> None:
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        for attempt in (1, 2):
            if self.executor is not None and self.workers != workers and not self.running:
                self._restart()
            if self.executor is None:
                self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=worker_context(self.preload),
                                                    initializer=_start_worker,
                                                    initargs=(self.initializer, self.initargs))
                self.workers = workers
            try:
                self.running[self.executor.submit(self.fn, item[1])] = item
                # the worker processes as they are now: once the pool breaks, the executor
                # forgets them, and their exit status says why (a signal, e.g. SIGABRT)
                self._seen.update(getattr(self.executor, "_processes", None) or {})
                return
            except BrokenProcessPool:  # a worker died while idle
                if attempt == 2:
                    raise
                self._restart()

    def _exit_code(self) -> int | None:
        import signal

        self._seen.update(getattr(self.executor, "_processes", None) or {})
        procs = list(self._seen.values())
        for p in procs:  # on a busy machine the dead worker may not be reaped yet
            if p.exitcode is None:
                p.join(timeout=5.0)  # a dying process may still be writing a core dump
        codes = [p.exitcode for p in procs if p.exitcode not in (None, 0, -signal.SIGTERM)]
        return codes[0] if codes else None

    def _restart(self) -> None:
        self._seen = {}
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None


#: a message on a worker's pipe: its length, then that many bytes of pickle
_LENGTH = struct.Struct("!Q")


def _read_exactly(fd: int, n: int) -> bytes | None:
    """``n`` bytes from ``fd``, or None at the end of the stream before them."""
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _receive(fd: int) -> bytes | None:
    head = _read_exactly(fd, _LENGTH.size)
    return None if head is None else _read_exactly(fd, _LENGTH.unpack(head)[0])


def _send_message(fd: int, data: bytes) -> None:
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


if TYPE_CHECKING:
    Fn = Callable[..., Any] | str  # a function, or its "module:name" (imported where it runs)


def resolve(fn: Fn | None) -> Callable[..., Any] | None:
    """The function ``fn`` names (``"package.module:function"``), or ``fn`` itself."""
    if not isinstance(fn, str):
        return fn
    import importlib

    module, _, name = fn.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


class ForkedWorker:
    """Run ``fn(arg)`` in one worker process made by ``os.fork`` (POSIX), one read at a
    time; :meth:`run` returns what ``fn`` returned, the exception it raised (an instance,
    not raised here) or :class:`WorkerDied` when the worker died during that read.  The
    worker is made on the first read (or by :meth:`start`) and again after one dies;
    ``initializer(*initargs)`` runs in each before its first read.  Arguments, results and
    the ``initargs`` cross two pipes as pickles.

    ``fn`` and ``initializer`` may be given by name (``"module:function"``), and
    :meth:`start` may come before ``initargs`` are known (set them before the first
    :meth:`run`, or send them early with :meth:`configure`): the worker then imports its
    modules (``preload`` first; an entry ``"module:function"`` is called, to warm a cache)
    while the parent goes on -- on two cores, in parallel.

    The parent must run a single thread (:func:`one_worker` checks): only the forking
    thread goes on in the child."""

    def __init__(self, fn: Fn, *, initializer: Fn | None = None, initargs: tuple = (),
                 preload: Iterable[str] = ()):
        self.fn, self.initializer, self.initargs, self.preload = fn, initializer, initargs, tuple(preload)
        self.pid: int | None = None
        self.to_worker = self.from_worker = -1
        self.initialised = False  # the current worker has its initargs
        self.deaths = 0
        self._broken = False  # the worker died before it read the last argument

    def __enter__(self) -> "ForkedWorker":
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def start(self) -> "ForkedWorker":
        """Make the worker now (it waits for its ``initargs``); a no-op when there is one."""
        if self.pid is None:
            self._start()
        return self

    def configure(self, initargs: tuple) -> None:
        """Set ``initargs`` and send them to the worker now, if it is running and has none
        yet: its ``initializer`` runs while the parent goes on."""
        import pickle

        self.initargs = initargs
        if self.pid is not None and not self.initialised:
            try:
                _send_message(self.to_worker, pickle.dumps(initargs))
                self.initialised = True
            except BrokenPipeError:  # it died: the first run finds out and reports it
                pass

    def run(self, arg: Any) -> Any:
        self.submit(arg)
        return self.result()

    def submit(self, arg: Any) -> None:
        """Send ``arg`` to the worker and return at once: the parent goes on while the
        worker runs ``fn(arg)``; :meth:`result` waits for what it gives (one read in flight)."""
        import pickle

        self.start()
        self._broken = False
        try:
            if not self.initialised:
                _send_message(self.to_worker, pickle.dumps(self.initargs))
                self.initialised = True
            _send_message(self.to_worker, pickle.dumps(arg))
        except BrokenPipeError:  # it died before it read the argument
            self._broken = True

    def result(self) -> Any:
        """What ``fn`` returned for the argument of :meth:`submit` (as :meth:`run`)."""
        import pickle

        try:
            data = None if self._broken else _receive(self.from_worker)
        except BrokenPipeError:
            data = None
        if data is None:
            return self._died()
        try:
            return pickle.loads(data)
        except Exception as exc:  # noqa: BLE001 - the result of fn could not be rebuilt here
            return exc

    def kill(self) -> None:
        """Stop the worker now, whatever it is doing, and wait for it."""
        import signal

        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.close()

    def close(self) -> None:
        """End the worker: it exits when its pipe closes."""
        if self.pid is None:
            return
        for fd in (self.to_worker, self.from_worker):
            os.close(fd)
        os.waitpid(self.pid, 0)
        self.pid = None

    def _start(self) -> None:
        args_r, args_w = os.pipe()
        results_r, results_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: never returns
            os.close(args_w)
            os.close(results_r)
            self._serve(args_r, results_w)
        os.close(args_r)
        os.close(results_w)
        self.pid, self.to_worker, self.from_worker = pid, args_w, results_r
        self.initialised = False

    def _serve(self, args: int, results: int) -> None:
        status = 0
        try:
            import importlib
            import pickle

            _start_worker(None, ())
            for module in self.preload:  # a module, or a "module:function" to call
                if ":" in module:
                    warm_up = resolve(module)
                    assert warm_up is not None
                    warm_up()
                else:
                    importlib.import_module(module)
            fn, initializer = resolve(self.fn), resolve(self.initializer)
            initargs = _receive(args)
            if initargs is not None and initializer is not None:
                initializer(*pickle.loads(initargs))
            while initargs is not None and (data := _receive(args)) is not None:
                try:
                    assert fn is not None
                    value = fn(pickle.loads(data))
                except Exception as exc:  # noqa: BLE001 - the parent reports it
                    value = exc
                try:
                    out = pickle.dumps(value)
                except Exception as exc:  # noqa: BLE001 - a result that does not pickle
                    out = pickle.dumps(RuntimeError(f"{type(value).__name__} result cannot be sent back: {exc}"))
                _send_message(results, out)
        except BaseException:  # noqa: BLE001 - the parent sees the pipe close (WorkerDied)
            status = 1
        finally:
            os._exit(status)  # no atexit handlers, no flushing of the parent's buffers

    def _died(self) -> WorkerDied:
        assert self.pid is not None
        for fd in (self.to_worker, self.from_worker):
            os.close(fd)
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        self.deaths += 1
        return WorkerDied(-os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))


def one_worker(fn: Fn, *, initializer: Fn | None = None, initargs: tuple = (),
               preload: Iterable[str] = ()) -> "ForkedWorker | ReadPool":
    """A worker for reads one at a time (``with one_worker(...) as w: w.run(arg)``): a
    :class:`ForkedWorker` where the process can fork safely (POSIX, one thread), else a
    :class:`ReadPool` of one (its functions imported here; it starts on the first read)."""
    import threading

    if hasattr(os, "fork") and threading.active_count() == 1:
        return ForkedWorker(fn, initializer=initializer, initargs=initargs, preload=preload)
    function = resolve(fn)
    assert function is not None
    return ReadPool(function, 1, initializer=resolve(initializer), initargs=initargs)
