"""Many plans on disk: the roster of a corpus (:func:`corpus_entries`), its plans written
through the real generator in parallel (:func:`write_corpus`, deterministic for a seed
whatever the number of processes) and the roster file (:func:`write_roster`)."""
from __future__ import annotations

import math
import os
import random
import uuid
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from xltools.errors import XltoolsError
from xltools.spec.config import Settings
from xltools.spec.model import PlanData
from xltools.spec.periods import parse_period
from xltools.spec.spec import Spec
from xltools.testing import vocabulary as words
from xltools.testing.corpus import Account, CorpusEntry, make_plan, round_to

__all__ = ["corpus_entries", "entry_rng", "make_entry_plan", "entry_info", "write_entries", "write_corpus",
           "write_roster"]


def corpus_entries(n: int, *, seed: int = 0, period: str = "FY2026Q3", en_share: float = 0.15,
                   per_rep: int | None = None, langs: Sequence[str] | None = None) -> list[CorpusEntry]:
    """The roster of a corpus of ``n`` plans: reps with 4-12 accounts each (exactly
    ``per_rep`` when given), one plan per account.  A rep works in English with the chance
    ``en_share``, or in the languages ``langs`` in turn (one per rep) when given."""
    if n < 0:
        raise XltoolsError(f"the number of plans must not be negative, got {n}")
    if per_rep is not None and per_rep < 1:
        raise XltoolsError(f"accounts per rep must be 1 or more, got {per_rep}")
    if langs is not None and (not langs or set(langs) - {"ja", "en"}):
        raise XltoolsError(f"languages must be ja or en, got {list(langs)!r}")
    rng = random.Random(f"xltools-corpus-roster:{seed}")
    names: set[str] = set()
    accounts: list[Account] = []
    while len(accounts) < n:
        tail, ind = rng.choice(words.NAME_TAILS)
        base = rng.choice(words.NAME_HEADS) + tail
        if len(names) > len(words.NAME_HEADS) * len(words.NAME_TAILS) // 2 or rng.random() < 0.1:
            base = rng.choice(words.PLACES) + base
        name = rng.choice(words.FORMS).format(base)
        core = name.replace("株式会社", "").replace("ホールディングス", "")
        if core in names:
            if len(names) >= len(words.NAME_HEADS) * len(words.NAME_TAILS) * len(words.PLACES) // 2:
                name = f"{name}（{len(accounts) + 1}）"
            else:
                continue
        names.add(core)
        accounts.append(Account(name=name, account_id=f"C{len(accounts) + 1:06d}", industry=ind))
    entries: list[CorpusEntry] = []
    taken: set[str] = set()
    i = 0
    while i < n:
        for _ in range(500):
            rep = f"{rng.choice(words.SURNAMES)} {rng.choice(words.GIVEN)}"
            if rep not in taken:
                break
        else:
            rep = f"{rep}{len(taken)}"
        lang = "en" if rng.random() < en_share else "ja"
        if langs is not None:
            lang = langs[len(taken) % len(langs)]
        taken.add(rep)
        team = tuple(rng.sample(words.OUR_STAFF, rng.randint(0, 3)))
        for _ in range(per_rep or rng.randint(4, 12)):
            if i >= n:
                break
            target = round_to(math.exp(rng.uniform(math.log(1e7), math.log(3e8))), 1_000_000)
            entries.append(CorpusEntry(index=i, account=accounts[i], rep=rep, team=team, lang=lang, period=period,
                                       target=target))
            i += 1
    return entries


def entry_rng(seed: int, index: int) -> random.Random:
    """The random generator of plan ``index``: independent of the order plans are made in."""
    return random.Random(f"xltools-corpus:{seed}:{index}")


def make_entry_plan(entry: CorpusEntry, spec: Spec, settings: Settings, *, seed: int = 0, messy: float = 0.1,
                    as_of: date | None = None) -> PlanData:
    return make_plan(entry_rng(seed, entry.index), spec, settings, account=entry.account, rep=entry.rep,
                     period=entry.period, messy=messy, lang=entry.lang, team=entry.team, as_of=as_of,
                     target=entry.target)


def entry_info(entry: CorpusEntry, *, seed: int = 0, as_of: date | None = None):
    """The generator's :class:`~xltools.workbook.generate.PlanInfo` of an entry: a plan id and
    a generation time that depend only on the seed and the entry (reproducible files)."""
    from xltools.workbook.generate import PlanInfo

    rng = random.Random(f"xltools-corpus-plan-id:{seed}:{entry.index}")
    when = as_of or (parse_period(entry.period).start + timedelta(days=7))
    return PlanInfo(account_name=entry.account.name, rep=entry.rep, period=entry.period,
                    account_id=entry.account.account_id, lang=entry.lang, target=entry.target,
                    team_members="、".join(entry.team) or None,
                    plan_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    generated_at=datetime.combine(when, time(9, 0)))


#: per-process state of corpus workers: spec, settings and the job's options
_WORKER: dict[str, Any] = {}


def _init_worker(spec: Spec, settings: Settings, out_dir: str, seed: int, messy: float,
                 as_of: date | None) -> None:
    _WORKER.update(spec=spec, settings=settings, out_dir=Path(out_dir), seed=seed, messy=messy, as_of=as_of)


def _write_entries(entries: list[CorpusEntry]) -> list[str]:
    from xltools.workbook.generate import generate_workbook

    w = _WORKER
    out = []
    for e in entries:
        plan = make_entry_plan(e, w["spec"], w["settings"], seed=w["seed"], messy=w["messy"], as_of=w["as_of"])
        path = w["out_dir"] / e.filename
        generate_workbook(w["spec"], w["settings"], entry_info(e, seed=w["seed"], as_of=w["as_of"]), path,
                          prefill=plan)
        out.append(str(path))
    return out


def write_entries(out_dir: str | os.PathLike, entries: Sequence[CorpusEntry], *, seed: int = 0,
                  jobs: int | None = None, messy: float = 0.1, as_of: date | None = None,
                  settings: Settings | None = None, spec: Spec | None = None) -> list[Path]:
    """Write the plans of ``entries`` into ``out_dir`` (created if missing) on ``jobs``
    processes (default: every core); the paths in the order of ``entries``."""
    from xltools.spec.spec import load_spec

    settings = settings or Settings()
    spec = settings.apply(spec or load_spec())
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise XltoolsError(f"{out}: cannot create the corpus folder ({e.strerror})") from None
    entries = list(entries)
    jobs = max(1, jobs or os.cpu_count() or 1)
    args = (spec, settings, str(out), seed, messy, as_of)
    if jobs == 1 or len(entries) < 2 * jobs:
        _init_worker(*args)
        return [Path(p) for p in _write_entries(entries)]
    # small chunks keep the processes evenly busy (plan sizes vary fivefold)
    size = max(1, min(50, len(entries) // (jobs * 8)))
    chunks = [entries[i:i + size] for i in range(0, len(entries), size)]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=args) as pool:
        return [Path(p) for chunk in pool.map(_write_entries, chunks) for p in chunk]


def write_corpus(out_dir: str | os.PathLike, n: int, *, seed: int = 0, jobs: int | None = None,
                 messy: float = 0.1, period: str = "FY2026Q3", as_of: date | None = None,
                 settings: Settings | None = None) -> list[Path]:
    """``n`` realistic filled plans in ``out_dir``, written by the real generator on ``jobs``
    processes.  The same ``seed`` gives the same plans whatever ``jobs`` is."""
    if not 0 <= messy <= 1:
        raise XltoolsError(f"messy must be between 0 and 1, got {messy!r}")
    return write_entries(out_dir, corpus_entries(n, seed=seed, period=period), seed=seed, jobs=jobs,
                         messy=messy, as_of=as_of, settings=settings)


def write_roster(path: str | os.PathLike, entries: Sequence[CorpusEntry], spec: Spec, *, lang: str = "ja") -> Path:
    """The roster ops would keep for ``entries`` (``.xlsx`` or ``.csv`` by the suffix), with
    the spec's labels in ``lang`` as headers: rep, account, account id, target, team, language."""
    from xltools.checking.roster import LANG_COLUMN, ROSTER_FIELDS, column_label

    p = Path(path)
    keys = [*ROSTER_FIELDS, LANG_COLUMN]
    header = [column_label(spec, k)(lang) for k in keys]

    def row(e: CorpusEntry) -> list[Any]:
        values = {"rep": e.rep, "account_name": e.account.name, "account_id": e.account.account_id,
                  "sales_target": e.target, "team_members": "、".join(e.team) or None, LANG_COLUMN: e.lang}
        return [values.get(k) for k in keys]

    if p.suffix.lower() == ".csv":
        import csv

        with p.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows([("" if v is None else v) for v in row(e)] for e in entries)
        return p
    from openpyxl import Workbook

    from xltools.workbook.generate import save_atomic
    from xltools.workbook.xlwrite import write_row

    wb = Workbook()
    ws = wb.active
    ws.title = {"ja": "名簿", "en": "Roster"}[lang]
    write_row(ws, 1, 1, header)
    for i, e in enumerate(entries, 2):
        write_row(ws, i, 1, row(e))
        ws.cell(row=i, column=keys.index("sales_target") + 1).number_format = "#,##0"
    for i, k in enumerate(keys, 1):
        ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = 14 if k != "account_name" else 32
    ws.freeze_panes = "A2"
    return save_atomic(wb, p)
