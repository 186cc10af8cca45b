"""The success-case library: every case from every collected plan, once, searchable in
Japanese, exportable as a workbook for reps.

Source 000: "成功事例をデータベース化し、共有し、二次利用".  The store keeps the
``SuccessCases`` rows of every plan version; this module merges them into
``case_library`` (see the block at the end of :mod:`xltools.store.schema`):

* **Once per case.**  A row is the same case as a stored one when an earlier row of
  the same plan with the same ``case_id`` (normalised) was merged into it -- reps type
  IDs like ``1``, ``2`` per workbook, so an ID alone never joins two plans -- else when
  its normalised title (or challenge) + customer match, whichever plan it comes from.  The newest
  source (file time, then collection) supplies the values; a value it leaves empty
  keeps the older one, so a blank ``shareable`` never widens who may see a case.  The
  source plans and rows are kept in ``case_sources``.  :func:`sync_library` merges
  every stored row not merged yet; it is idempotent and runs before every read.
* **Search.**  ``search_text`` holds the searched columns (the spec's
  ``search_weight`` columns: title, challenge, solution, value, success factors,
  reusable-for) folded by :func:`fold`: NFKC per character cluster (``ｻﾞｲｺ`` ->
  ``ザイコ``, ``ＥＲＰ`` -> ``ERP``), casefolded, whitespace collapsed.  Queries are
  folded the same way and split on whitespace into terms that must all occur
  (substring match; the database's index answers first, see :mod:`xltools.store.library`).
  Hits are ranked by the weighted number of occurrences (title counts most) and carry
  a snippet of the original text around the first match.
* **Sharing scopes** are enforced wherever cases leave the database (search, show,
  export): ``非公開`` (private) never; ``部内限定`` (department) only with an explicit
  scope; the default scope is ``社内公開`` (company).  A row without a scope gets the
  spec's default for the column (社内公開).

Every statement is the store's (:mod:`xltools.store.library`): this module decides what
a case is, how text is folded and ranked, and how the library is shown.
"""
from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from xltools import clock
from xltools.checking.validate import name_key
from xltools.errors import UsageError, XltoolsError
from xltools.spec.contract import T
from xltools.spec.spec import Field, Label, Spec, SpecError, Table
from xltools.store.library import LibraryWriter
from xltools.store.queries import LibraryStore, ReadStore

#: the spec table the library is built from
CASES_TABLE = T.SUCCESS_CASES
#: the scope that means every shareable case except private ones
ALL = "all"
#: a row needs one of these to be a case; the first one present names it (see case_keys)
_CASE_TEXT = ("title", "challenge", "solution")
#: how many characters of context a snippet shows before / after the match
SNIPPET_BEFORE, SNIPPET_AFTER = 24, 56

_SPACE = re.compile(r"\s+")
_MARKS = ("Mn", "Mc", "Me")
_HALFWIDTH_SOUND_MARKS = "\uff9e\uff9f"


class CaseNotFound(XltoolsError):
    """No case with that number, or it is not shared in the requested scope."""

    code = "not-found"


# -- text folding ----------------------------------------------------------------------------

def _clusters(text: str) -> Iterator[tuple[int, str]]:
    """(start index, cluster): a character with the marks that follow it (combining marks,
    half-width dakuten/handakuten), so that NFKC can compose ``ｻﾞ`` into ``ザ``."""
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        while j < n and (unicodedata.category(text[j]) in _MARKS or text[j] in _HALFWIDTH_SOUND_MARKS):
            j += 1
        yield i, text[i:j]
        i = j


def _fold_cluster(cluster: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", cluster).casefold())


def fold_map(text: str) -> tuple[str, list[int]]:
    """``(folded, starts)``: :func:`fold` of ``text`` and, for each folded character, the
    index in ``text`` where the cluster it came from starts."""
    out: list[str] = []
    starts: list[int] = []
    for i, cluster in _clusters(text or ""):
        for ch in _fold_cluster(cluster):
            if ch.isspace():
                if out and out[-1] != " ":
                    out.append(" ")
                    starts.append(i)
                continue
            if unicodedata.category(ch) == "Cf":  # zero-width space, BOM, bidi marks
                continue
            out.append(ch)
            starts.append(i)
    if out and out[-1] == " ":
        out.pop()
        starts.pop()
    return "".join(out), starts


def fold(text: str | None) -> str:
    """How the library compares text: NFKC per character cluster, casefolded, runs of
    whitespace as one space, invisible format characters dropped."""
    return fold_map(text or "")[0]


def query_terms(query: str) -> list[str]:
    """The folded, whitespace-separated terms of a query (each must occur)."""
    return [t for t in fold(query).split(" ") if t]


# -- spec helpers ----------------------------------------------------------------------------

def cases_table(spec: Spec) -> Table:
    return spec.table(CASES_TABLE)


def searched_columns(spec: Spec) -> list[Field]:
    """The columns the search looks in, highest weight first (spec order among equals)."""
    cols = [c for c in cases_table(spec).columns if c.search_weight]
    return sorted(cols, key=lambda c: -c.search_weight)


def scopes(spec: Spec) -> list[str]:
    """Valid scope names: every ``shareable`` key except private, then ``all``."""
    private = spec.meaning(cases_table(spec).column("shareable").choices, "private")
    return [k for k in _shareable_keys(spec) if k not in private] + [ALL]


def _shareable_keys(spec: Spec) -> list[str]:
    col = cases_table(spec).column("shareable")
    keys = spec.choices(col.choices).keys()
    if not spec.meaning(col.choices, "private"):
        raise SpecError(f"choice list {col.choices!r} has no choice meaning 'private': the library cannot tell "
                        "which cases must never leave the database")
    return keys


def scope_keys(spec: Spec, scope: str | None) -> tuple[str, ...]:
    """The ``shareable`` keys a scope lets out: ``company`` -> company-wide cases,
    ``department`` -> department-only cases, ``all`` -> both.  Never private."""
    scope = (scope or "company").strip().lower()
    valid = scopes(spec)
    if scope not in valid:
        raise UsageError(Label(f"共有範囲 {scope!r} は指定できません（{' / '.join(valid)}）",
                                f"Unknown scope {scope!r} (use one of: {', '.join(valid)})"))
    if scope == ALL:
        return tuple(valid[:-1])
    return (scope,)


def _default_shareable(spec: Spec) -> str:
    col = cases_table(spec).column("shareable")
    return col.default or spec.the(col.choices, "private")


def _choice_label(spec: Spec, col: Field, value: Any, lang: str) -> Any:
    if col.choices and isinstance(value, str):
        try:
            return spec.choices(col.choices).get(value).label(lang)
        except KeyError:
            return value
    return value


# -- records ---------------------------------------------------------------------------------

@dataclass
class CaseSource:
    plan_id: str
    account_name: str | None
    rep: str | None
    period: str | None
    version_no: int | None


@dataclass
class Case:
    """One case of the library: ``no``, its library number (事例 No., given once when the
    case first entered the library, never changed or reused; ``id`` is the row's internal
    key), the SuccessCases values (spec keys, clean values: choice keys, yen, dates),
    where it was collected from and whom to ask (``contacts``: the author and the current
    account manager of each source account)."""

    id: int
    values: dict[str, Any]
    sources: list[CaseSource] = field(default_factory=list)
    first_seen_at: datetime | None = None
    updated_at: datetime | None = None
    no: int | None = None
    current_reps: list[str] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        return self.values.get(key)

    def to_dict(self, spec: Spec, lang: str = "ja") -> dict[str, Any]:
        out: dict[str, Any] = {"no": self.no, "id": self.id}
        for c in cases_table(spec).columns:
            v = self.values.get(c.key)
            out[c.key] = v.isoformat() if isinstance(v, (date, datetime)) else v
            if c.choices and v is not None:
                out[f"{c.key}_label"] = _choice_label(spec, c, v, lang)
        out["sources"] = [vars(s).copy() for s in self.sources]
        out["current_reps"] = list(self.current_reps)
        out["first_seen_at"] = self.first_seen_at.isoformat() if self.first_seen_at else None
        out["updated_at"] = self.updated_at.isoformat() if self.updated_at else None
        return out


@dataclass
class CaseHit:
    """A search result: the case, its rank score and a snippet of the best match
    (``highlight``: start and end of the matched text inside ``snippet``)."""

    case: Case
    score: int
    column: str
    snippet: str
    highlight: tuple[int, int]

    def to_dict(self, spec: Spec, lang: str = "ja") -> dict[str, Any]:
        return {"score": self.score, "column": self.column, "snippet": self.snippet,
                "highlight": list(self.highlight), "case": self.case.to_dict(spec, lang)}


# -- database access -------------------------------------------------------------------------

def _utc_naive(at: datetime | None) -> datetime:
    """The time of a library write (``at``, default :func:`xltools.clock.now`) as the
    database keeps it: naive UTC."""
    return clock.resolve(at).astimezone(timezone.utc).replace(tzinfo=None)


# -- merging stored rows into the library ----------------------------------------------------

def case_keys(values: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(case_key, title_key)`` of a row: the normalised ``case_id`` (None if blank), and
    the normalised title (else challenge, else solution) + customer (None for a row
    without any of them: nothing to identify or show)."""
    cid = values.get("case_id")
    case_key = name_key(cid) if cid is not None and name_key(cid) else None
    head = next((values.get(k) for k in _CASE_TEXT if values.get(k) is not None and name_key(values.get(k))), None)
    if head is None:
        return case_key, None
    return case_key, name_key(head) + "|" + name_key(values.get("customer") or "")


def search_text(spec: Spec, values: dict[str, Any]) -> str:
    """The folded text the index holds for a case: one line per searched column, in
    :func:`searched_columns` order (empty for an empty column; folded text has no line
    breaks), so ranking needs no folding at query time."""
    return "\n".join("" if values.get(c.key) is None else fold(str(values[c.key])) for c in searched_columns(spec))


def sync_library(store: LibraryStore, *, now: datetime | None = None) -> int:
    """Merge every stored SuccessCases row that is not in the library yet; returns how
    many rows were merged.  Idempotent; safe to run from several processes at once.
    ``now`` (default: :func:`xltools.clock.now`) stamps ``first_seen_at`` / ``updated_at``."""
    spec = store.spec
    if not store.library_pending(_CASE_TEXT):
        return 0
    cols = [c.key for c in cases_table(spec).columns]
    default_scope = _default_shareable(spec)
    sources: list[dict[str, Any]] = []
    with store.library_write() as lib:
        rows = lib.pending(_CASE_TEXT)
        if not rows:
            return 0
        next_no = lib.max_library_no() + 1
        by_title: dict[str, int] = {}
        for cid, title_key in lib.title_keys():
            by_title.setdefault(title_key, cid)
        by_case: dict[tuple[str, str], int] = {}
        for cid, plan_id, own_id in lib.merged_case_ids():
            by_case.setdefault((plan_id, name_key(own_id)), cid)
        stamp = _utc_naive(now)
        for r in rows:
            values = {k: r[k] for k in cols}
            case_key, title_key = case_keys(values)
            if title_key is None and case_key is None:
                continue
            when = r["file_mtime"] or r["collected_at"]
            found = by_case.get((r["plan_id"], case_key)) if case_key else None
            if found is None and title_key is not None:
                found = by_title.get(title_key)
            if found is None:
                if title_key is None:
                    continue  # an ID alone, never seen with a title: nothing to show
                values["shareable"] = values.get("shareable") or default_scope
                found = lib.insert_case(dict(
                    library_no=next_no, case_key=case_key, title_key=title_key,
                    search_text=search_text(spec, values), source_version_id=r["vid"], source_time=when,
                    first_seen_at=stamp, updated_at=stamp, **values))
                next_no += 1
            else:
                _update_case(lib, spec, found, values, case_key, title_key, when, r["vid"], stamp)
            if case_key:
                by_case.setdefault((r["plan_id"], case_key), found)
            if title_key:
                by_title.setdefault(title_key, found)
            sources.append({"case_library_id": found, "plan_id": r["plan_id"], "version_id": r["vid"],
                            "row_index": r["row_index"]})
        lib.add_sources(sources)
    return len(sources)


def _update_case(lib: LibraryWriter, spec: Spec, cid: int, values: dict[str, Any], case_key: str | None,
                 title_key: str | None, when: datetime, vid: int | None, now: datetime) -> None:
    """Merge a newer (or older) source row into a stored case: the newest source
    supplies the values, an empty value keeps the older one."""
    cur = lib.case(cid)
    newer = (when, vid or 0) >= (cur["source_time"], cur["source_version_id"] or 0)
    merged = {}
    for k, v in values.items():
        old = cur[k]
        if v is None:
            merged[k] = old
        elif old is None or newer:
            merged[k] = v
        else:
            merged[k] = old
    text = search_text(spec, merged)
    update = dict(merged, search_text=text, updated_at=now)
    if newer:
        update.update(source_time=when, source_version_id=vid, title_key=title_key or cur["title_key"])
    if newer and case_key:
        update["case_key"] = case_key
    if all(update.get(k) == cur[k] for k in update if k != "updated_at"):
        return
    lib.update_case(cid, update, reindex=text != cur["search_text"])


def rebuild_search_index(store: LibraryStore, *, now: datetime | None = None) -> int:
    """Recompute ``search_text`` of every case (and the SQLite FTS table) from the stored
    values, e.g. after the searched columns changed in the spec.  Returns the case count."""
    sync_library(store, now=now)
    cols = [c.key for c in cases_table(store.spec).columns]
    with store.library_write() as lib:
        rows = lib.all_cases()
        lib.reindex_all({r["id"]: search_text(store.spec, {k: r[k] for k in cols}) for r in rows})
    return len(rows)


# -- reading cases ---------------------------------------------------------------------------

def _cases_from_rows(store: ReadStore, rows: list[dict[str, Any]], *, sources: bool = True) -> list[Case]:
    cols = [c.key for c in cases_table(store.spec).columns]
    cases = [Case(id=r["id"], no=r["library_no"], values={k: r[k] for k in cols},
                  first_seen_at=r["first_seen_at"], updated_at=r["updated_at"]) for r in rows]
    if sources:
        _attach_sources(store, cases)
    return cases


def _attach_sources(store: ReadStore, cases: list[Case]) -> None:
    """Fill ``case.sources`` (one entry per plan: its latest version that had the case)
    and ``case.current_reps``: for each source plan's account, the account manager of
    the account's current plan of the latest period (the plan's own rep when the account
    has no current plan any more)."""
    if not cases:
        return
    by_id = {c.id: c for c in cases}
    seen: set[tuple[int, str]] = set()
    for s in store.library_sources(by_id):
        if (s.case_library_id, s.plan_id) in seen:
            continue
        seen.add((s.case_library_id, s.plan_id))
        by_id[s.case_library_id].sources.append(CaseSource(s.plan_id, s.account_name, s.rep, s.period,
                                                           s.version_no))
    managers = store.account_managers({s.plan_id for c in cases for s in c.sources})
    for c in cases:
        reps: list[str] = []
        for s in c.sources:
            rep = managers.get(s.plan_id) or s.rep
            if rep and rep not in reps:
                reps.append(rep)
        c.current_reps = reps


def list_cases(store: LibraryStore, *, scope: str | None = "company", now: datetime | None = None) -> list[Case]:
    """Every case the scope lets out, by library number (``now``: see :func:`sync_library`)."""
    keys = scope_keys(store.spec, scope)
    sync_library(store, now=now)
    return _cases_from_rows(store, store.library_cases(keys))


def get_case(store: LibraryStore, ref: str | int, *, scope: str | None = "company",
             now: datetime | None = None) -> Case:
    """One case by its library number (``12``, as search shows it) or else by its
    ``case_id`` (``C-012``; the first such case), if the scope lets it out; otherwise
    :class:`CaseNotFound` (the same answer either way: nothing leaks)."""
    keys = scope_keys(store.spec, scope)
    sync_library(store, now=now)
    text = unicodedata.normalize("NFKC", str(ref)).strip()
    if text.isdigit() and len(text) < 10:
        rows = store.library_cases(keys, library_no=int(text), first=True)
    else:
        rows = store.library_cases(keys, case_key=name_key(text), first=True)
    found = _cases_from_rows(store, rows)
    if not found:
        raise CaseNotFound(Label(f"事例 {text} は見つからないか、この共有範囲（{scope or 'company'}）では表示できません。",
                                f"No case {text}, or it is not shared in scope {scope or 'company'}."))
    return found[0]


# -- search ----------------------------------------------------------------------------------

def _snippet(original: str, term: str) -> tuple[str, tuple[int, int]] | None:
    folded, starts = fold_map(original)
    pos = folded.find(term)
    if pos < 0:
        return None
    a = starts[pos]
    last = starts[pos + len(term) - 1]  # the match may end inside a cluster (¼ -> 1⁄4): take it whole
    b = next((s for s in starts[pos + len(term):] if s > last), len(original))
    lo, hi = max(0, a - SNIPPET_BEFORE), min(len(original), b + SNIPPET_AFTER)
    prefix = "…" if lo > 0 else ""
    suffix = "…" if hi < len(original) else ""
    body = _SPACE.sub(" ", original[lo:a]), _SPACE.sub(" ", original[a:b]), _SPACE.sub(" ", original[b:hi])
    start = len(prefix) + len(body[0])
    return prefix + "".join(body) + suffix, (start, start + len(body[1]))


def _rank(spec: Spec, case: Case, terms: list[str], indexed: str | None = None) -> CaseHit | None:
    """Score = sum over searched columns of weight x occurrences of every term, and the
    heaviest column holding the first term (the snippet is cut later, by
    :func:`_with_snippet`, for the hits shown only).  None unless every term occurs
    (the database's answer is re-checked).  ``indexed``: the stored ``search_text``
    (folded columns, one per line), used when it matches the spec."""
    score = 0
    best: tuple[str, str] | None = None
    found: set[str] = set()
    cols = searched_columns(spec)
    lines = indexed.split("\n") if indexed is not None else []
    for i, c in enumerate(cols):
        v = case.values.get(c.key)
        if v is None:
            continue
        hay = lines[i] if len(lines) == len(cols) else fold(str(v))
        for t in terms:
            n = hay.count(t)
            if n:
                found.add(t)
                score += c.search_weight * n
        if best is None and terms[0] in hay:
            best = (c.key, str(v))
    if best is None or len(found) < len(set(terms)):
        return None
    return CaseHit(case=case, score=score, column=best[0], snippet=best[1], highlight=(0, 0))


def _with_snippet(hit: CaseHit, term: str) -> CaseHit:
    """``hit`` with its snippet: the match in the original text of its column, in context."""
    snip = _snippet(str(hit.case.values.get(hit.column) or ""), term)
    if snip is not None:
        hit.snippet, hit.highlight = snip
    return hit


def _filter_match(spec: Spec, case: Case, industry: str | None, product: str | None,
                  department: str | None) -> bool:
    if industry:
        col = cases_table(spec).column("industry")
        wanted = fold(industry)
        v = case.values.get("industry")
        if v is None:
            return False
        names = {fold(v)}
        if col.choices:
            try:
                ch = spec.choices(col.choices).get(v)
                names |= {fold(ch.label.ja), fold(ch.label.en), *(fold(a) for a in ch.aliases)}
            except KeyError:
                pass
        if wanted not in names and not any(wanted in n for n in names):
            return False
    for key, wanted in (("products", product), ("department", department)):
        if wanted and fold(wanted) not in fold(str(case.values.get(key) or "")):
            return False
    return True


def search_cases(store: LibraryStore, query: str, *, industry: str | None = None, product: str | None = None,
                 department: str | None = None, scope: str | None = "company",
                 limit: int | None = 50, now: datetime | None = None) -> list[CaseHit]:
    """Cases whose searched columns contain every term of ``query`` (see the module
    docs), filtered, limited to the scope, best first."""
    spec = store.spec
    terms = query_terms(query or "")
    if not terms:
        raise UsageError(Label("検索語を指定してください。", "Give a search query."))
    if limit is not None and limit < 1:
        raise UsageError(Label("件数は 1 以上を指定してください。", "The limit must be at least 1."))
    keys = scope_keys(spec, scope)
    sync_library(store, now=now)
    rows = store.library_cases(keys, terms=terms)
    hits = []
    for row, case in zip(rows, _cases_from_rows(store, rows, sources=False)):
        if not _filter_match(spec, case, industry, product, department):
            continue
        hit = _rank(spec, case, terms, row["search_text"])
        if hit is not None:
            hits.append(hit)
    hits.sort(key=lambda h: (-h.score, -(h.case.updated_at.timestamp() if h.case.updated_at else 0),
                             h.case.id))
    hits = [_with_snippet(h, terms[0]) for h in (hits[:limit] if limit else hits)]
    _attach_sources(store, [h.case for h in hits])
    return hits


# -- text output -----------------------------------------------------------------------------

_UI = {
    "no_hits": Label("該当する事例はありません。", "No matching cases."),
    "hits": Label("{n} 件", "{n} case(s)"),
    "sources": Label("出典", "Sources"),
    "case": Label("事例", "Case"),
    "updated": Label("更新", "Updated"),
}


def _src_text(case: Case) -> str:
    return ", ".join(f"{s.account_name or '?'} {s.period or ''}".strip() for s in case.sources)


def format_hits(spec: Spec, hits: list[CaseHit], lang: str = "ja") -> str:
    """Search results as text: number, title, customer / industry, the snippet with the
    match in 【】, the source plans."""
    if not hits:
        return _UI["no_hits"](lang)
    cols = cases_table(spec)
    lines = [_UI["hits"](lang).format(n=len(hits))]
    for h in hits:
        c = h.case
        ind = _choice_label(spec, cols.column("industry"), c["industry"], lang)
        head = f"[{c.no}] {c['title'] or ''}"
        extra = " / ".join(str(x) for x in (c["customer"], ind, c["department"]) if x)
        lines.append("")
        lines.append(head + (f"  ({extra})" if extra else ""))
        a, b = h.highlight
        label = cols.column(h.column).label(lang)
        lines.append(f"  {label}: {h.snippet[:a]}【{h.snippet[a:b]}】{h.snippet[b:]}")
        if c.sources:
            lines.append(f"  {_UI['sources'](lang)}: {_src_text(c)}")
    return "\n".join(lines)


def format_case(spec: Spec, case: Case, lang: str = "ja") -> str:
    """One case as a readable card."""
    from xltools.workbook.xlwrite import display_width

    cols = cases_table(spec)
    lines = [f"{_UI['case'](lang)} {case.no}: {case['title'] or ''}"]
    width = max(display_width(c.label(lang)) for c in cols.columns)
    for c in cols.columns:
        v = case.values.get(c.key)
        if v is None:
            continue
        v = _choice_label(spec, c, v, lang)
        if c.type == "amount" and isinstance(v, int):
            v = f"{v:,}"
        text = str(v.isoformat() if isinstance(v, (date, datetime)) else v)
        pad = " " * (width - display_width(c.label(lang)))
        lines.append(f"  {c.label(lang)}{pad} : " + text.replace("\n", "\n" + " " * (width + 5)))
    if case.sources:
        lines.append(f"  {_UI['sources'](lang)}: {_src_text(case)}")
    return "\n".join(lines)


# -- the library workbook --------------------------------------------------------------------

def export_library(store: LibraryStore, path: str | os.PathLike[str], *, scope: str | None = "company",
                   lang: str = "ja", now: datetime | None = None) -> int:
    """Write the library workbook for reps: a filterable table with one row per case
    (sheet 事例一覧 / Cases, numbers link to the card) and a readable card per case (sheet
    事例カード / Case cards), laid out by :mod:`xltools.reports.casebook`.  Only the cases
    the scope lets out.  Written atomically (a temporary file, then renamed).  Returns the
    number of cases written."""
    from xltools.reports.casebook import write_library

    if lang not in ("ja", "en"):
        raise UsageError(Label(f"言語は ja か en を指定してください（{lang!r}）。", f"language must be ja or en, got {lang!r}"))
    cases = list_cases(store, scope=scope, now=now)
    out = Path(path)
    if out.suffix.lower() != ".xlsx":
        raise UsageError(Label(f"{out}: 拡張子は .xlsx にしてください。", f"{out}: the file name must end in .xlsx"))
    if not out.parent.exists():
        raise UsageError(Label(f"{out.parent}: フォルダーがありません。", f"{out.parent}: no such folder"))
    write_library(store.spec, cases, out, lang=lang, now=now)
    return len(cases)
