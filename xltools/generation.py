"""Generating plans for people: one plan, or one per roster line, optionally prefilled from
the stored history (a new rep inherits the account).

The workbook itself is built by :mod:`xltools.workbook.generate`; this module does the
orchestration the ``generate`` command needs -- reading the roster, naming the files,
looking up the predecessor plan in the database, and a process pool for big rosters -- so
that the command only parses options and prints the result.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Callable

from xltools import clock
from xltools.errors import UsageError, XltoolsError
from xltools.spec.config import Settings
from xltools.spec.issues import Issue
from xltools.spec.model import PlanData
from xltools.spec.spec import Label, Spec
from xltools.workbook.generate import PlanInfo, generate_workbook, plan_period
from xltools.workbook.generate.plan import OutputFolderError, check_lang
from xltools.workbook.naming import plan_filename, unique_filename

#: serial generation below this many workbooks (a process pool costs more than it saves)
MIN_PARALLEL = 8

TEXTS: dict[str, Label] = {
    "summary_written": Label("{n} 件のブックを作成しました：{dir}（1件あたり {ms} ms）",
                             "Wrote {n} workbook(s) to {dir} ({ms} ms per workbook)."),
    "summary_skipped": Label("{n} 行はエラーのため作成していません。", "{n} roster row(s) skipped because of errors."),
    "bad_target": Label("売上目標が金額として読めません: {value!r}", "not an amount in yen: {value!r}"),
}


@dataclass
class GenerateResult:
    """What a roster run produced: ``paths`` written, ``errors`` for rows left out, and a
    ``note`` about the prefill source (e.g. no database yet), if any."""

    paths: list[Path] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    rows: int = 0  # roster rows read (written + left out)
    seconds: float = 0.0
    note: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def ms_per_workbook(self) -> float:
        return 1000 * self.seconds / len(self.paths) if self.paths else 0.0

    def to_dict(self, lang: str = "ja") -> dict[str, Any]:
        """For scripts (``generate --format json``): paths written, rows left out with their
        issue, the prefill note, timing."""
        return {"paths": [str(p) for p in self.paths], "rows": self.rows,
                "errors": [i.to_dict(lang) for i in self.errors], "note": self.note,
                "seconds": round(self.seconds, 3)}

    def summary(self, lang: str = "ja", out_dir: str | os.PathLike = "") -> str:
        """One line for people: how many workbooks, where, how fast, how many rows left out."""
        text = TEXTS["summary_written"](lang).format(n=len(self.paths), dir=out_dir,
                                                       ms=f"{self.ms_per_workbook:.0f}")
        if self.errors:
            text += " " + TEXTS["summary_skipped"](lang).format(n=len({i.row for i in self.errors}))
        return text


@dataclass
class GeneratedPlan:
    """One plan written: its ``path``, and a ``note`` about the prefill source, if any."""

    path: Path
    note: str | None = None


# -- writing one workbook ------------------------------------------------------------------------

def _draw_map(spec: Spec, settings: Settings, info: PlanInfo, plan: PlanData, wb: Any) -> None:
    from xltools.checking.relmap import add_to_workbook

    generated = info.generated_at
    when = datetime.fromisoformat(generated) if isinstance(generated, str) else generated
    add_to_workbook(wb, spec, plan, info.lang, clock.resolve(when), settings=settings,
                    account=info.account_name, period=str(plan_period(info.period, settings)))


def write_plan(spec: Spec, settings: Settings, info: PlanInfo, path: str | os.PathLike,
               prefill: PlanData | None = None) -> Path:
    """:func:`~xltools.workbook.generate.generate_workbook`, plus the relationship map
    (:mod:`xltools.checking.relmap`) of the prefill when ``info.relationship_map`` is set
    (a hand-over: the successor sees the inherited key persons on the org chart)."""
    finish = partial(_draw_map, spec, settings, info, prefill) if prefill is not None and info.relationship_map \
        else None
    return generate_workbook(spec, settings, info, path, prefill, finish=finish)


# -- one plan ---------------------------------------------------------------------------------

def generate_plan(spec: Spec, settings: Settings, *, account: str, rep: str, period: str,
                  account_id: str | None = None, target: Any = None, lang: str | None = None,
                  team_members: str | None = None, output: str | os.PathLike | None = None,
                  prefill: bool = False, db_url: str | None = None,
                  now: datetime | None = None) -> GeneratedPlan:
    """Write one plan for ``account`` x ``rep`` x ``period``.  ``target`` is an amount as a
    person types it (``5000万``, ``50,000,000``); ``output`` defaults to the safe file name
    of the plan in the current folder.  With ``prefill`` the latest stored plan of the
    account (``db_url``) fills the new workbook and is named as its predecessor."""
    from xltools.checking.roster import parse_yen
    from xltools.reports.history import open_prefill

    now = clock.resolve(now)
    lang = lang or settings.language
    check_lang(lang)
    try:
        target_yen = None if target is None else parse_yen(target)
    except ValueError:
        raise UsageError(TEXTS["bad_target"](lang).format(value=target)) from None
    per = plan_period(period, settings)
    info = PlanInfo(account_name=account, rep=rep, period=str(per), account_id=account_id, target=target_yen,
                    lang=lang, team_members=team_members, generated_at=now.replace(microsecond=0))
    note = None
    with open_prefill(prefill, db_url, spec, now=now) as src:
        pre = src.get(account_id, account) if src else None
        if pre is None and src:
            note = src.note(lang) or None
    if pre is not None:
        info.predecessor_plan_id = pre.meta.get("predecessor_plan_id")
        info.relationship_map = True  # a hand-over: draw the map of the inherited key persons
    path = write_plan(spec, settings, info, output or Path.cwd() / plan_filename(per, account, rep), prefill=pre)
    return GeneratedPlan(path, note)


# -- rosters ------------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(spec: Spec, settings: Settings) -> None:
    _WORKER.clear()
    _WORKER["spec"], _WORKER["settings"] = spec, settings


def _blank_plan(info: PlanInfo) -> Any:
    """This worker's blank plan for ``info`` (built on first use per language, period and
    generation time; :mod:`xltools.workbook.generate.stamp`)."""
    from xltools.workbook.generate.stamp import BlankPlan, blank_key

    blanks = _WORKER.setdefault("blanks", {})
    key = blank_key(info)
    if key not in blanks:
        blanks[key] = BlankPlan(_WORKER["spec"], _WORKER["settings"], info)
    return blanks[key]


def _generate_one(task: tuple) -> tuple[int, str | None, str | None]:
    row, info, path, prefill = task
    try:
        if prefill is None and info.generated_at is not None:  # a blank plan: re-stamp the worker's own
            _blank_plan(info).save(info, path)
        else:
            write_plan(_WORKER["spec"], _WORKER["settings"], info, path, prefill)
    except (XltoolsError, OSError) as e:
        return row, None, str(e)
    return row, str(path), None


def generate_plans(spec: Spec, settings: Settings, roster_path: str | os.PathLike, period: str,
                   out_dir: str | os.PathLike, *, lang: str | None = None, jobs: int | None = None,
                   prefill: bool = False, db_url: str | None = None,
                   now: datetime | None = None) -> GenerateResult:
    """:func:`generate_from_roster`, prefilled from the stored history of ``db_url`` when
    ``prefill`` is set (the ``generate --roster`` command)."""
    from xltools.reports.history import open_prefill

    with open_prefill(prefill, db_url, spec, now=now) as src:
        result = generate_from_roster(spec, settings, roster_path, period, out_dir, lang=lang, jobs=jobs,
                                      prefill_lookup=src, now=now)
    if src is not None:
        result.note = src.note(lang or settings.language) or None
    return result


def generate_from_roster(spec: Spec, settings: Settings, roster_path: str | os.PathLike, period: str,
                         out_dir: str | os.PathLike, *, lang: str | None = None, jobs: int | None = None,
                         prefill_lookup: Callable[[Any], PlanData | None] | None = None,
                         now: datetime | None = None) -> GenerateResult:
    """One workbook per usable roster row into ``out_dir`` (created if missing), named
    ``<period>_<account>_<rep>.xlsx`` (Windows-safe, unique in the folder; an existing file of
    the same name is replaced).  A row's language: its own lang column, else ``lang``,
    else the settings' language.  ``jobs`` worker processes (default: all cores) for big
    rosters.  Bad rows end up in ``result.errors``; the other rows are still generated.
    ``now`` (default: :func:`xltools.clock.now`): every workbook's ``generated_at``."""
    from xltools.checking.roster import read_roster

    started = time.perf_counter()
    generated_at = clock.resolve(now).replace(microsecond=0)
    spec = settings.apply(spec)
    per = plan_period(period, settings)
    if lang is not None:
        check_lang(lang)
    roster = read_roster(roster_path, spec)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputFolderError(path=out, reason=e.strerror or str(e)) from None
    result = GenerateResult(errors=list(roster.errors), rows=len(roster) + len(roster.errors))
    taken: set[str] = set()
    tasks = []
    for e in roster:
        info = PlanInfo(account_name=e.account_name, rep=e.rep, period=str(per), account_id=e.account_id,
                        target=e.target, lang=e.lang or lang or settings.language, team_members=e.team_members,
                        generated_at=generated_at, relationship_map=prefill_lookup is not None)
        name = unique_filename(plan_filename(per, e.account_name, e.rep), taken)
        prefill = prefill_lookup(e) if prefill_lookup else None
        tasks.append((e.row, info, out / name, prefill))
    jobs = max(1, jobs or os.cpu_count() or 1)
    if jobs == 1 or len(tasks) < MIN_PARALLEL:
        _init_worker(spec, settings)
        outcomes = [_generate_one(t) for t in tasks]
    else:
        chunk = max(1, len(tasks) // (jobs * 4))
        with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), initializer=_init_worker,
                                 initargs=(spec, settings)) as pool:
            outcomes = list(pool.map(_generate_one, tasks, chunksize=chunk))
    for row, path, error in outcomes:
        if path is not None:
            result.paths.append(Path(path))
        else:
            result.errors.append(Issue("E-GENERATE-FAILED", file=str(roster_path), row=row,
                                       params={"row": row, "detail": error}))
    result.errors.sort(key=lambda i: i.row or 0)
    result.seconds = time.perf_counter() - started
    return result
