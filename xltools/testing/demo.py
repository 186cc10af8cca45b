"""``make demo``: the whole monthly routine on SQLite, in one folder.

    python -m xltools.testing.demo demo [--reps 3] [--accounts 4] [--seed 0] [--lang ja|en]

1. a roster of reps x accounts (mixed Japanese and English workbooks), ``roster.xlsx``
   with the spec's labels;
2. blank plans for the current fiscal quarter from the roster (``xltools generate``),
   ``plans/``;
3. the reps fill them (:mod:`xltools.testing.corpus`: varied, messy, some mistakes) and send them
   back to ``inbox/`` -- with one file broken in transit and one Excel lock file;
4. ``xltools collect inbox/`` into ``xltools.db`` (with the roster: missing plans), on a
   clock 31 days back (``now=``, as ``XLTOOLS_NOW`` does for the command);
5. a month later (``now``) a few plans change and the broken one is sent again; collected again,
   so the history has two months;
6. the roll-up ``rollup.xlsx`` (``xltools report``), the success-case library
   ``case_library.xlsx`` (when :mod:`xltools.reports.cases` is installed), and the check of one
   plan with issues (``check.txt`` and an annotated copy in ``annotated/``).

Running it again clears the folder and rebuilds it (only a folder the demo made, or an
empty one, is ever cleared).
"""
from __future__ import annotations

import argparse
import importlib.util
import random
import shutil
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

from xltools import clock
from xltools.errors import XltoolsError
from xltools.spec.spec import LANGS, Label

#: the file that marks a folder as made by the demo (and safe to clear)
MARKER = ".xltools-demo"
#: the deliberate mistakes of the demo's plans, by position in the roster
MISTAKES_BY_PLAN = {1: ("unknown_contact", "low_coverage"), 2: ("missing_required",), 5: ("bad_choice",)}
#: how messy the reps of the demo type
MESSY = 0.15


TEXTS: dict[str, Label] = {
    "title": Label("xltools デモ：アカウントプランの月次サイクル（{period}）",
                "xltools demo: the monthly account-plan routine ({period})"),
    "roster": Label("① 名簿：{n} 件（担当 {reps} 名 × 顧客 {accounts} 社）→ {path}",
                 "1 Roster: {n} lines ({reps} reps x {accounts} accounts) -> {path}"),
    "generated": Label("② 白紙のプランを生成：{n} ファイル → {path}", "2 Blank plans generated: {n} files -> {path}"),
    "filled": Label("③ 担当者が記入して提出：{n} ファイル（うち 1 件は転送中に破損、ロックファイル 1 件）→ {path}",
                 "3 Reps filled and submitted {n} files (one broken in transit, plus an Excel lock file) -> {path}"),
    "collect1": Label("④ 取り込み（1 か月目）→ {path}", "4 Collected (month 1) -> {path}"),
    "backdate": Label("   （デモのため、1 か月目は {day} 時点として取り込みました）",
                   "   (for the demo, month 1 is collected as of {day})"),
    "changed": Label("⑤ 翌月：{n} 件のプランを更新、破損していたプランを再提出", "5 A month later: {n} plans updated, the broken one resent"),
    "collect2": Label("   取り込み（2 か月目）", "   Collected (month 2)"),
    "plans": Label("   データベースのプラン数：{n}", "   Plans in the database: {n}"),
    "rollup": Label("⑥ 集計ブック（経営層向け）→ {path}", "6 Roll-up workbook for leaders -> {path}"),
    "cases": Label("⑧ 成功事例集：{n} 件 → {path}（「{query}」の検索結果 {hits} 件）",
                "8 Success-case library: {n} cases -> {path} ({hits} hits for '{query}')"),
    "no_cases": Label("⑧ 成功事例集：xltools.reports.cases がないため省略", "8 Success-case library: skipped (xltools.reports.cases is not installed)"),
    "check": Label("⑨ 指摘のあるプランのチェック結果：{path}（注記付きのコピー：{annotated}）",
                "9 Check of a plan with issues: {path} (annotated copy: {annotated})"),
    "more": Label("   … 続きは {path}", "   ... the rest is in {path}"),
    "open": Label("開いてみてください：", "What to open:"),
    "pack": Label("⑦ APS 資料（{account}、前月からの変化つき）→ {path}", "7 APS pack ({account}, with the changes since last month) -> {path}"),
    "open_pack": Label("  APS 資料            {path}", "  APS pack             {path}"),
    "open_rollup": Label("  集計ブック          {path}", "  Roll-up workbook     {path}"),
    "open_plan": Label("  記入済みのプラン    {path}", "  A filled plan        {path}"),
    "open_blank": Label("  白紙のプラン        {path}", "  A blank plan         {path}"),
    "open_cases": Label("  成功事例集          {path}", "  Success cases        {path}"),
    "open_check": Label("  チェック結果        {path}", "  Check output         {path}"),
    "open_db": Label("  データベース        {path}（例：xltools export opportunities --db sqlite:///{path}）",
                  "  Database             {path} (e.g. xltools export opportunities --db sqlite:///{path})"),
    "not_demo": Label("{path} は空ではなく、デモが作ったフォルダーでもありません。別のフォルダーを指定してください。",
                   "{path} is not empty and was not made by the demo: give another folder."),
}


@dataclass
class DemoResult:
    """Where everything is, and what the demo counted."""

    out_dir: Path
    period: str
    roster: Path
    plans: list[Path]
    inbox: list[Path]
    db_url: str
    rollup: Path
    check: Path
    annotated: Path | None = None
    case_library: Path | None = None
    plans_after_month1: int = 0
    plans_in_db: int = 0
    cases: int = 0
    months: list[str] = field(default_factory=list)
    packs: list[Path] = field(default_factory=list)


def _t(key: str, lang: str, **params) -> str:
    return TEXTS[key](lang).format(**params)


def prepare_dir(out: Path, lang: str) -> None:
    """Clear ``out`` for a new run: only a folder the demo made, or an empty one."""
    if out.exists():
        if not out.is_dir():
            raise XltoolsError(_t("not_demo", lang, path=out))
        if any(out.iterdir()) and not (out / MARKER).exists():
            raise XltoolsError(_t("not_demo", lang, path=out))
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("made by python -m xltools.testing.demo; cleared on every run\n", encoding="utf-8")


def _broken_copy(src: Path, dest: Path) -> None:
    """A workbook cut off half-way, as a failed upload leaves it."""
    data = src.read_bytes()
    dest.write_bytes(data[: len(data) // 2])


def _lock_file(dest: Path, owner: str) -> None:
    """What Excel leaves next to an open workbook: ``~$name.xlsx`` with the owner's name."""
    name = owner.encode("utf-16-le")[:108]
    dest.write_bytes(bytes([len(owner[:54])]) + name.ljust(108, b"\0") + b"\0" * 56)


def run_demo(out_dir: str | Path, *, reps: int = 3, accounts: int = 4, seed: int = 0, lang: str | None = None,
             now: datetime | None = None, echo: Callable[[str], None] = print) -> DemoResult:
    """Run the whole pipeline into ``out_dir`` (cleared first) and return where it all is.

    ``now`` (default: :func:`xltools.clock.now`): the time of the second collection, the
    roll-up and the check; the first collection runs 31 days earlier ("month 1")."""
    from xltools.checking.check import check_files, render
    from xltools.collect import collect_paths, render_summary
    from xltools.generation import generate_from_roster
    from xltools.reports.rollup import write_rollup
    from xltools.spec.config import load_settings
    from xltools.spec.periods import fiscal_quarter_of
    from xltools.spec.spec import load_spec
    from xltools.store.engine import Store
    from xltools.testing.corpus import advance_plan, make_plan
    from xltools.testing.folders import corpus_entries, entry_rng, write_roster
    from xltools.workbook.generate import PlanInfo, generate_workbook
    from xltools.workbook.reader import read_workbook

    if reps < 1 or accounts < 2:
        raise XltoolsError("the demo needs at least 1 rep and 2 accounts / 担当 1 名以上、顧客 2 社以上を指定してください")
    settings = load_settings()
    lang = lang or settings.language
    if lang not in LANGS:
        raise XltoolsError(f"language must be one of {', '.join(LANGS)}, got {lang!r}")
    spec = settings.apply(load_spec())
    now = clock.resolve(now)
    today = clock.today(now)
    period = str(fiscal_quarter_of(today, settings.fiscal_year_start_month))
    out = Path(out_dir).resolve()
    prepare_dir(out, lang)
    echo(_t("title", lang, period=period))

    # 1. roster: the last rep works in English (mixed ja/en workbooks)
    langs = ["ja"] * (reps - 1) + ["en"] if reps > 1 else ["ja"]
    entries = corpus_entries(reps * accounts, seed=seed, period=period, per_rep=accounts, langs=langs)
    roster = write_roster(out / "roster.xlsx", entries, spec, lang=lang)
    echo(_t("roster", lang, n=len(entries), reps=reps, accounts=accounts, path=roster))

    # 2. blank plans, as ops generate them
    gen = generate_from_roster(spec, settings, roster, period, out / "plans", now=now)
    if gen.errors:
        raise XltoolsError(f"generate: {gen.errors[0].message(lang)}")
    echo(_t("generated", lang, n=len(gen.paths), path=out / "plans"))

    # 3. the reps fill their plans and send them back
    inbox = out / "inbox"
    inbox.mkdir()
    by_who = {(e.account.name, e.rep): e for e in entries}
    month1 = now - timedelta(days=31)
    month1_day = clock.today(month1)
    filled: list[tuple[Path, PlanInfo, object, object]] = []  # (file, info, plan, roster entry)
    for blank in gen.paths:
        meta = read_workbook(blank, spec).meta
        e = by_who[(meta["account_name"], meta["rep"])]
        info = PlanInfo(account_name=e.account.name, rep=e.rep, period=period, account_id=e.account.account_id,
                        target=e.target, lang=meta.get("language") or e.lang, team_members="、".join(e.team) or None,
                        plan_id=meta["plan_id"], generated_at=meta.get("generated_at"))
        plan = make_plan(entry_rng(seed, e.index), spec, settings, account=e.account, rep=e.rep, period=period,
                         messy=MESSY, lang=info.lang, team=e.team, as_of=month1_day, target=e.target,
                         mistakes=MISTAKES_BY_PLAN.get(e.index, ()))
        filled.append((inbox / blank.name, info, plan, e))
    for path, info, plan, _ in filled:
        generate_workbook(spec, settings, info, path, prefill=plan)
    broken_path = filled[-1][0]
    good_copy = broken_path.read_bytes()
    _broken_copy(broken_path, broken_path)
    _lock_file(inbox / f"~${filled[0][0].name}", filled[0][1].rep)
    echo(_t("filled", lang, n=len(filled), path=inbox))

    # 4. collect, month 1
    db = out / "xltools.db"
    db_url = f"sqlite:///{db}"
    store = Store(db_url, spec)
    try:
        s1 = collect_paths([inbox], store, spec, settings, roster=roster, period=period, lang=lang,
                           now=month1)
        echo(_t("collect1", lang, path=db))
        echo(render_summary(s1, lang).rstrip())
        echo(_t("backdate", lang, day=month1_day.isoformat()))
        after1 = len(store.versions(period))

        # 5. a month later: a few plans move on, the broken file is sent again
        rng = random.Random(f"xltools-demo:{seed}")
        candidates = filled[:-1]
        changed = rng.sample(candidates, min(3, len(candidates)))
        for path, info, plan, _ in changed:
            generate_workbook(spec, settings, info, path, prefill=advance_plan(rng, plan, spec, as_of=today))
        broken_path.write_bytes(good_copy)
        echo(_t("changed", lang, n=len(changed)))
        s2 = collect_paths([inbox], store, spec, settings, roster=roster, period=period, lang=lang, now=now)
        echo(_t("collect2", lang))
        echo(render_summary(s2, lang).rstrip())
        in_db = len(store.versions(period))
        echo(_t("plans", lang, n=in_db))

        # 6. roll-up, case library
        # no roster given: report checks the submissions against the one collect stored
        rollup = write_rollup(store, spec, settings, out / "rollup.xlsx", period=period, lang=lang, now=now)
        echo(_t("rollup", lang, path=rollup))
        from xltools.reports.pack import pack_from_store

        account = changed[0][1].account_name
        packed = pack_from_store(store, spec, settings, out / "aps", period=period, account=account, lang=lang,
                                 pdf=True, now=now)
        for note in packed.notes:
            echo(note)
        packs = packed.paths + packed.pdfs
        echo(_t("pack", lang, account=account, path=packs[-1]))
        library, n_cases = None, 0
        if importlib.util.find_spec("xltools.reports.cases") is not None:
            from xltools.reports.cases import export_library, search_cases

            library = out / "case_library.xlsx"
            n_cases = export_library(store, library, lang=lang, now=now)
            query = "在庫削減"
            hits = search_cases(store, query, now=now)
            echo(_t("cases", lang, n=n_cases, path=library, query=query, hits=len(hits)))
        else:
            echo(_t("no_cases", lang))
    finally:
        store.close()

    # 7. the check of one plan with issues, as ops send it back to the rep
    mistaken = next((p for p, _, _, e in filled if e.index in MISTAKES_BY_PLAN), filled[0][0])
    reports = check_files([mistaken], spec, settings, lang=lang, annotate_dir=out / "annotated", now=now)
    text = render(reports, "text", lang)
    check_txt = out / "check.txt"
    check_txt.write_text(text, encoding="utf-8")
    annotated = reports[0].stats.get("annotated")
    echo(_t("check", lang, path=check_txt, annotated=annotated))
    lines = text.rstrip().splitlines()
    echo("\n".join(lines[:25]))
    if len(lines) > 25:
        echo(_t("more", lang, path=check_txt))

    result = DemoResult(out_dir=out, period=period, roster=roster, plans=list(gen.paths),
                        inbox=sorted(inbox.iterdir()), db_url=db_url, rollup=rollup, check=check_txt,
                        annotated=Path(annotated) if annotated else None, case_library=library,
                        plans_after_month1=after1, plans_in_db=in_db, cases=n_cases,
                        months=[month1_day.strftime("%Y-%m"), today.strftime("%Y-%m")], packs=packs)
    echo("")
    echo(_t("open", lang))
    echo(_t("open_rollup", lang, path=rollup))
    echo(_t("open_pack", lang, path=packs[-1]))
    echo(_t("open_plan", lang, path=filled[0][0]))
    echo(_t("open_blank", lang, path=gen.paths[0]))
    if library is not None:
        echo(_t("open_cases", lang, path=library))
    echo(_t("open_check", lang, path=check_txt))
    echo(_t("open_db", lang, path=db))
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m xltools.testing.demo",
                                 description="The whole account-plan routine on SQLite in one folder "
                                             "(generate, fill, collect twice, report, case library, check). "
                                             "The folder is cleared and rebuilt on every run.")
    ap.add_argument("out_dir", nargs="?", default="demo", help="the demo folder (default: demo)")
    ap.add_argument("--reps", type=int, default=3, help="reps in the roster (default 3)")
    ap.add_argument("--accounts", type=int, default=4, help="accounts per rep (default 4)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the invented plans (default 0)")
    ap.add_argument("--lang", choices=LANGS, default=None, help="language of the output (default: settings, ja)")
    args = ap.parse_args(argv)
    try:
        run_demo(args.out_dir, reps=args.reps, accounts=args.accounts, seed=args.seed, lang=args.lang,
                 now=clock.now())
    except XltoolsError as e:
        print(f"xltools demo: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
