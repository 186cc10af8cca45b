"""Plan history and hand-over: plans are a company asset that survives a change of rep.

* :func:`account_history` -- every stored version of an account's plans (period, rep,
  collected at, target, plan total, coverage, counts of contacts / opportunities /
  issues) and what changed between consecutive versions (:class:`PlanChanges`: stance
  changes, people added or gone, opportunities added / won / lost / dropped, a new rep).
* :func:`prefill_from_store` -- the latest stored plan of an account turned into the
  pre-fill of the next period's workbook (:func:`handover_plan`).  What is inherited is
  declared in the spec: fields and columns with ``handover: clear`` are cleared (period,
  dates of the plan and its session, the sales target, KPI actuals) and each table's
  ``handover`` says which rows go (won and lost opportunities, activities done or
  cancelled or already past, review actions done; success cases live in the library).
  The result names its predecessor in ``meta["predecessor_plan_id"]``; the generator
  gives the new workbook a new ``plan_id``.
* :func:`load_plans` -- stored versions back as :class:`~xltools.spec.model.PlanData`.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from xltools import clock
from xltools.checking.validate import name_key
from xltools.errors import UsageError, XltoolsError
from xltools.spec.contract import T
from xltools.spec.model import PlanData, Row
from xltools.spec.periods import PeriodError, parse_period
from xltools.spec.spec import Label, Spec, load_spec
from xltools.store.queries import ReadStore

#: stage keys of a closed opportunity
#: the employment status of a contact still at the customer
ACTIVE = "active"



# -- loading stored versions -----------------------------------------------------------------

def _aware(v: Any) -> Any:
    return v.replace(tzinfo=timezone.utc) if isinstance(v, datetime) and v.tzinfo is None else v


def load_plans(store: ReadStore, version_ids: list[int]) -> dict[int, PlanData]:
    """Stored versions as PlanData (version id -> plan): input fields in ``fields``,
    formula fields (plan_total, coverage_ratio, ...) in ``derived``, ``_meta`` in
    ``meta``, table rows in workbook order."""
    if not version_ids:
        return {}
    spec = store.spec
    out: dict[int, PlanData] = {}
    for v in store.version_records(version_ids):
        meta = json.loads(v["meta"]) if v["meta"] else {}
        meta.setdefault("plan_id", v["plan_id"])
        fields = {f.key: v[f.key] for f in spec.fields if not f.computed}
        derived = {f.key: v[f.key] for f in spec.fields if f.computed}
        out[v["id"]] = PlanData(meta=meta, fields=fields, tables={t.name: [] for t in spec.tables},
                                file=v["source_file"] or "", derived=derived)
    for name, table in store.spec_tables.items():
        for r in store.table_records(name, out):
            out[r["version_id"]].tables[table.name].append(
                Row(values={c.key: r[c.key] for c in table.columns}, sheet=r["sheet"] or "", row=r["row"] or 0,
                    index=r["row_index"]))
    return out


def period_key(period: Any) -> tuple[int, int]:
    """Sort key of a period text: (fiscal year, quarter; 0 for a whole year or none)."""
    try:
        p = parse_period(str(period))
    except PeriodError:
        return (0, 0)
    return (p.fiscal_year, p.quarter or 0)


def time_key(v: dict) -> datetime:
    """When a stored version was made: its file time, else when it was collected (aware)."""
    t = v.get("file_mtime") or v.get("collected_at")
    if isinstance(t, datetime):
        return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
    return datetime.min.replace(tzinfo=timezone.utc)


def _chronological(versions: list[dict]) -> list[dict]:
    return sorted(versions, key=lambda v: (period_key(v.get("period")), time_key(v), v["version_id"]))


def account_versions(store, account_id: str | None = None, account_name: str | None = None) -> list[dict]:
    """Every stored version of one account (by ID, else by name), oldest first."""
    for ref in (account_id, account_name):
        if ref is not None and str(ref).strip():
            found = store.versions_of(str(ref).strip())
            if found:
                return _chronological(found)
    return []


def latest_version(versions: list[dict]) -> dict | None:
    """The version a successor starts from: of the latest period, the current version
    if there is one (not a conflicting or superseded copy), else the newest."""
    if not versions:
        return None
    top = max(period_key(v.get("period")) for v in versions)
    last = [v for v in versions if period_key(v.get("period")) == top]
    current = [v for v in last if v.get("is_current")]
    return _chronological(current or last)[-1]


# -- hand-over -------------------------------------------------------------------------------

def handover_plan(plan: PlanData, spec: Spec, *, now: datetime | None = None) -> PlanData:
    """What a successor plan inherits from ``plan`` (see the module docs): only input
    fields and columns, without the ``handover: clear`` ones, and per table the rows its
    ``handover`` keeps.  The local date of ``now`` (default: :func:`xltools.clock.now`)
    decides which dated rows are past."""
    today = clock.today(clock.resolve(now))
    fields = {f.key: plan.fields.get(f.key) for f in spec.fields
              if f.is_input and f.handover != "clear" and plan.fields.get(f.key) is not None}
    tables: dict[str, list[Row]] = {}
    for t in spec.tables:
        rows: list[Row] = []
        if t.handover.carry:
            for r in plan.rows(t.name):
                if any(r.get(col) in keys for col, keys in t.handover.drop_if):
                    continue
                if t.handover.drop_before:
                    when = r.get(t.handover.drop_before)
                    if isinstance(when, datetime):
                        when = when.date()
                    if isinstance(when, date) and when < today:
                        continue
                values = {c.key: r.get(c.key) for c in t.columns
                          if c.is_input and c.handover != "clear" and r.get(c.key) is not None}
                if values:
                    rows.append(Row(values=values, sheet="", row=0, index=len(rows) + 1))
        tables[t.name] = rows
    meta = {"predecessor_plan_id": plan.plan_id}
    for k in ("account_id", "account_name"):
        v = plan.fields.get(k) or plan.meta.get(k)
        if v:
            meta[k] = str(v)
    return PlanData(meta=meta, fields=fields, tables=tables)


def prefill_from_store(store, spec: Spec, account_id: str | None = None, account_name: str | None = None,
                       *, now: datetime | None = None) -> PlanData | None:
    """The pre-fill of an account's next plan from its latest stored plan (by account ID,
    else name), or None when nothing is stored for it.  ``meta["predecessor_plan_id"]``
    names the plan it comes from.  ``now``: see :func:`handover_plan`."""
    if not (account_id and str(account_id).strip()) and not (account_name and str(account_name).strip()):
        raise UsageError(Label("顧客コードか顧客名を指定してください。", "Give an account ID or an account name."))
    latest = latest_version(account_versions(store, account_id, account_name))
    if latest is None:
        return None
    plan = load_plans(store, [latest["version_id"]])[latest["version_id"]]
    return handover_plan(plan, spec, now=now)


class PrefillSource:
    """Pre-fills from the database at ``db_url`` for ``xltools generate --prefill``.

    Call it with a roster entry (anything with ``account_id`` / ``account_name``): it
    is the ``prefill_lookup`` of :func:`xltools.generation.generate_from_roster`; or use
    :meth:`get` for one plan.  ``misses`` lists the accounts nothing was stored for
    (their workbooks start blank).  A context manager: closes the database.  ``now``
    (default: :func:`xltools.clock.now`, read once) decides which dated rows are past."""

    def __init__(self, db_url: str | None, spec: Spec, *, now: datetime | None = None):
        from xltools.store.engine import Store

        self.spec = spec
        self.now = clock.resolve(now)
        self.misses: list[str] = []
        self.store = Store(db_url, spec, create=False)

    def get(self, account_id: str | None = None, account_name: str | None = None) -> PlanData | None:
        found = prefill_from_store(self.store, self.spec, account_id, account_name, now=self.now)
        if found is None:
            self.misses.append(str(account_name or account_id))
        return found

    def __call__(self, entry: Any) -> PlanData | None:
        return self.get(getattr(entry, "account_id", None), getattr(entry, "account_name", None))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "PrefillSource":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def note(self, lang: str = "ja") -> str | None:
        """A line naming the accounts that start blank, or None."""
        if not self.misses:
            return None
        names = ", ".join(self.misses)
        return (f"保存済みのプランがないため空のブックを作成しました: {names}" if lang == "ja"
                else f"No stored plan, so these start blank: {names}")


@contextmanager
def open_prefill(enabled: bool, db_url: str | None, spec: Spec, *, now: datetime | None = None):
    """A :class:`PrefillSource` when ``enabled`` (``generate --prefill``), else None."""
    if not enabled:
        yield None
        return
    with PrefillSource(db_url, spec, now=now) as src:
        yield src


# -- history ---------------------------------------------------------------------------------

@dataclass
class VersionSummary:
    version_id: int
    plan_id: str
    version_no: int
    period: str | None
    rep: str | None
    collected_at: datetime | None
    source_file: str | None
    is_current: bool
    sales_target: int | None
    plan_total: int | None
    coverage_ratio: float | None
    contacts: int
    opportunities: int
    errors: int
    warnings: int
    infos: int


@dataclass
class PlanChanges:
    """What changed from one stored version to the next (``before`` -> ``after``, by
    version id).  Contacts are matched by name, opportunities by ID, else by name."""

    before: int
    after: int
    rep: tuple[str | None, str | None] | None = None  # (old, new) when the rep changed
    stance_changes: list[dict] = field(default_factory=list)  # {name, old, new}
    contacts_added: list[dict] = field(default_factory=list)  # {name, department, title, stance}
    contacts_left: list[dict] = field(default_factory=list)  # {name, reason: removed | <status key>}
    opportunities_added: list[dict] = field(default_factory=list)  # {opp_id, opportunity, amount, stage}
    opportunities_won: list[dict] = field(default_factory=list)
    opportunities_lost: list[dict] = field(default_factory=list)
    opportunities_dropped: list[dict] = field(default_factory=list)  # open ones no longer listed

    @property
    def empty(self) -> bool:
        return not any(v for k, v in asdict(self).items() if k not in ("before", "after"))


@dataclass
class AccountHistory:
    account: str
    versions: list[VersionSummary]
    changes: list[PlanChanges]

    def to_dict(self) -> dict:
        def plain(v: Any) -> Any:
            if isinstance(v, (date, datetime)):
                return v.isoformat()
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [plain(x) for x in v]
            return v
        return {"account": self.account, "versions": [plain(asdict(v)) for v in self.versions],
                "changes": [plain(asdict(c)) for c in self.changes]}


def _opp_record(r: Row) -> dict:
    return {"opp_id": r.get("opp_id"), "opportunity": r.get("opportunity"), "amount": r.get("amount"),
            "stage": r.get("stage")}


def diff_plans(before: PlanData, after: PlanData, *, before_id: int = 0, after_id: int = 0,
               spec: Spec | None = None) -> PlanChanges:
    """The changes from ``before`` to ``after`` as data (see :class:`PlanChanges`); which
    stages are won and lost comes from ``spec`` (default: the packaged one)."""
    spec = spec or load_spec()
    won, lost = spec.the("stage", "won"), spec.the("stage", "lost")
    ch = PlanChanges(before=before_id, after=after_id)
    old_rep, new_rep = before.fields.get("rep"), after.fields.get("rep")
    if (old_rep or new_rep) and name_key(old_rep or "") != name_key(new_rep or ""):
        ch.rep = (old_rep, new_rep)

    old_c = {name_key(r.get("name")): r for r in before.rows(T.CONTACTS) if r.get("name")}
    new_c = {name_key(r.get("name")): r for r in after.rows(T.CONTACTS) if r.get("name")}
    for k, r in new_c.items():
        o = old_c.get(k)
        if o is None:
            ch.contacts_added.append({"name": r.get("name"), "department": r.get("department"),
                                      "title": r.get("title"), "stance": r.get("stance")})
            continue
        if o.get("stance") != r.get("stance"):
            ch.stance_changes.append({"name": r.get("name"), "old": o.get("stance"), "new": r.get("stance")})
        status = r.get("status")
        if status not in (None, ACTIVE) and status != o.get("status"):
            ch.contacts_left.append({"name": r.get("name"), "reason": status})
    for k, o in old_c.items():
        if k not in new_c:
            ch.contacts_left.append({"name": o.get("name"), "reason": "removed"})

    old_rows = before.rows(T.OPPORTUNITIES)
    by_id = {name_key(r.get("opp_id")): r for r in old_rows if r.get("opp_id") is not None}
    by_name = {name_key(r.get("opportunity")): r for r in old_rows if r.get("opportunity")}
    matched: set[int] = set()
    for r in after.rows(T.OPPORTUNITIES):
        o = None
        if r.get("opp_id") is not None:
            o = by_id.get(name_key(r.get("opp_id")))
        if o is None and r.get("opportunity"):
            o = by_name.get(name_key(r.get("opportunity")))
        if o is not None:
            matched.add(id(o))
        stage, old_stage = r.get("stage"), (o.get("stage") if o is not None else None)
        if stage == won and old_stage != won:
            ch.opportunities_won.append(_opp_record(r))
        elif stage == lost and old_stage != lost:
            ch.opportunities_lost.append(_opp_record(r))
        elif o is None and stage not in (won, lost):
            ch.opportunities_added.append(_opp_record(r))
    for o in old_rows:
        if id(o) not in matched and o.get("stage") not in (won, lost):
            ch.opportunities_dropped.append(_opp_record(o))
    return ch


def account_history(store, account: str) -> AccountHistory:
    """Every stored version of ``account`` (ID or name) with the changes between
    consecutive ones.  Raises :class:`XltoolsError` when nothing is stored for it."""
    if not account or not str(account).strip():
        raise UsageError(Label("顧客名か顧客コードを指定してください。", "Give an account name or ID."))
    versions = account_versions(store, account, account)
    if not versions:
        raise XltoolsError(Label(f"顧客 {account} のプランはデータベースにありません。",
                                f"No stored plan for account {account}."))
    plans = load_plans(store, [v["version_id"] for v in versions])
    summaries = []
    for v in versions:
        p = plans[v["version_id"]]
        summaries.append(VersionSummary(
            version_id=v["version_id"], plan_id=v["plan_id"], version_no=v["version_no"], period=v.get("period"),
            rep=v.get("rep"), collected_at=_aware(v.get("collected_at")), source_file=v.get("source_file"),
            is_current=bool(v.get("is_current")), sales_target=v.get("sales_target"),
            plan_total=v.get("plan_total"), coverage_ratio=v.get("coverage_ratio"),
            contacts=len(p.rows(T.CONTACTS)), opportunities=len(p.rows(T.OPPORTUNITIES)),
            errors=v.get("error_count") or 0, warnings=v.get("warning_count") or 0,
            infos=v.get("info_count") or 0))
    changes = [diff_plans(plans[a["version_id"]], plans[b["version_id"]], before_id=a["version_id"],
                          after_id=b["version_id"], spec=store.spec) for a, b in zip(versions, versions[1:])]
    name = next((v.get("account_name") for v in reversed(versions) if v.get("account_name")), str(account))
    return AccountHistory(account=name, versions=summaries, changes=changes)


# -- text ------------------------------------------------------------------------------------

_UI = {
    "title": Label("{account} のプラン履歴（{n} 版）", "Plan history of {account} ({n} versions)"),
    "period": Label("期間", "Period"),
    "version": Label("版", "Ver"),
    "rep": Label("担当", "Rep"),
    "collected": Label("取込日時", "Collected"),
    "target": Label("売上目標", "Target"),
    "plan_total": Label("計画合計", "Plan total"),
    "coverage": Label("カバレッジ", "Coverage"),
    "contacts": Label("キーマン", "Contacts"),
    "opps": Label("案件", "Opps"),
    "issues": Label("指摘 E/W/I", "Issues E/W/I"),
    "current": Label("（現行）", " (current)"),
    "no_change": Label("変更なし", "no changes"),
    "rep_change": Label("担当交代", "New rep"),
    "stance": Label("スタンス変化", "Stance"),
    "added": Label("キーマン追加", "Person added"),
    "left": Label("キーマン離脱", "Person gone"),
    "removed": Label("削除", "removed"),
    "opp_added": Label("案件追加", "Opportunity added"),
    "won": Label("受注", "Won"),
    "lost": Label("失注", "Lost"),
    "dropped": Label("案件取り下げ", "Opportunity dropped"),
}


def _label(spec: Spec, table: str, col: str, key: Any, lang: str) -> str:
    if key is None:
        return "-"
    c = spec.table(table).column(col)
    try:
        return spec.choices(c.choices).get(key).label(lang)
    except (KeyError, TypeError):
        return str(key)


def _yen(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else "-"


def format_history(spec: Spec, h: AccountHistory, lang: str = "ja") -> str:
    """The history as text: a table of versions, then the changes step by step."""
    from xltools.workbook.xlwrite import display_width

    ui = {k: v(lang) for k, v in _UI.items()}
    head = [ui["period"], ui["version"], ui["rep"], ui["collected"], ui["target"], ui["plan_total"],
            ui["coverage"], ui["contacts"], ui["opps"], ui["issues"]]
    rows = []
    for v in h.versions:
        at = v.collected_at.astimezone().strftime("%Y-%m-%d %H:%M") if v.collected_at else "-"
        cov = f"{v.coverage_ratio:.2f}" if isinstance(v.coverage_ratio, (int, float)) else "-"
        rows.append([v.period or "-", f"{v.version_no}" + ("*" if v.is_current else ""), v.rep or "-", at,
                     _yen(v.sales_target), _yen(v.plan_total), cov, str(v.contacts), str(v.opportunities),
                     f"{v.errors}/{v.warnings}/{v.infos}"])
    widths = [max(display_width(r[i]) for r in [head] + rows) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(c + " " * (w - display_width(c)) for c, w in zip(cells, widths)).rstrip()

    out = [ui["title"].format(account=h.account, n=len(h.versions)), "", line(head)]
    out += [line(r) for r in rows]
    by_id = {v.version_id: v for v in h.versions}
    for c in h.changes:
        a, b = by_id[c.before], by_id[c.after]
        out.append("")
        out.append(f"{a.period} v{a.version_no} → {b.period} v{b.version_no}:")
        if c.empty:
            out.append(f"  {ui['no_change']}")
            continue
        if c.rep:
            out.append(f"  {ui['rep_change']}: {c.rep[0] or '-'} → {c.rep[1] or '-'}")
        for s in c.stance_changes:
            out.append(f"  {ui['stance']}: {s['name']} {_label(spec, 'Contacts', 'stance', s['old'], lang)}"
                       f" → {_label(spec, 'Contacts', 'stance', s['new'], lang)}")
        for p in c.contacts_added:
            out.append(f"  {ui['added']}: {p['name']} ({_label(spec, 'Contacts', 'stance', p['stance'], lang)})")
        for p in c.contacts_left:
            why = ui["removed"] if p["reason"] == "removed" else _label(spec, T.CONTACTS, "status", p["reason"], lang)
            out.append(f"  {ui['left']}: {p['name']} ({why})")
        for key, items in (("won", c.opportunities_won), ("lost", c.opportunities_lost),
                           ("opp_added", c.opportunities_added), ("dropped", c.opportunities_dropped)):
            for o in items:
                out.append(f"  {ui[key]}: {o['opportunity'] or o['opp_id'] or '-'} ({_yen(o['amount'])})")
    return "\n".join(out)
