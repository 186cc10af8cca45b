"""Coverage from the real win rate, beyond the fixed 3-5x rule.

3x coverage assumes a one-in-three win rate.  From the stored history this module
computes each rep's and the whole team's win rate -- won / (won + lost), by amount --
over the last ``settings.thresholds.win_rate_periods`` fiscal quarters, and the
coverage it implies (1 / win rate), with the sample behind it.

Every opportunity is counted once, in its latest stored state: an opportunity is
identified by its account (ID, else name) and its ``opp_id`` (else its name), so the
same opportunity carried from quarter to quarter (hand-over) or re-collected in a
later version is one opportunity.  A closed one belongs to the fiscal quarter of its
``expected_close`` (reps set it to the close date), else to its plan's period, and to
the rep of the plan it was last seen in.

:func:`win_rates` is what ``xltools check --db`` and the roll-up's Coverage sheet
call; :meth:`WinRates.table` gives the rows for a sheet.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterable, Iterator

from xltools.checking.validate import name_key
from xltools.errors import XltoolsError
from xltools.spec.config import Settings
from xltools.spec.periods import Period, PeriodError, fiscal_quarter_of, parse_period
from xltools.spec.spec import Label, Spec, load_spec
from xltools.store.queries import Queries, ReadStore, Snapshot


@dataclass(frozen=True)
class WinRate:
    """Won and lost opportunities of one rep (``rep`` None: the whole team)."""

    rep: str | None
    won_amount: int = 0
    lost_amount: int = 0
    won_count: int = 0
    lost_count: int = 0

    @property
    def sample(self) -> int:
        """Closed opportunities behind the rate."""
        return self.won_count + self.lost_count

    @property
    def rate(self) -> float | None:
        """won / (won + lost) by amount; None without closed amounts."""
        total = self.won_amount + self.lost_amount
        return self.won_amount / total if total > 0 else None

    @property
    def implied_coverage(self) -> float | None:
        """1 / win rate: the pipeline needed per yen of target; None if nothing was won."""
        r = self.rate
        return 1 / r if r else None

    def to_dict(self) -> dict[str, Any]:
        return {"rep": self.rep, "won_amount": self.won_amount, "lost_amount": self.lost_amount,
                "won_count": self.won_count, "lost_count": self.lost_count, "sample": self.sample,
                "win_rate": self.rate, "implied_coverage": self.implied_coverage}


@dataclass(frozen=True)
class WinRates:
    """The team's and each rep's win rate over ``periods`` (oldest first)."""

    periods: tuple[str, ...]
    team: WinRate
    reps: tuple[WinRate, ...] = ()
    fixed_low: float = 3.0
    fixed_high: float = 5.0

    def for_rep(self, rep: str | None) -> WinRate | None:
        """The rep's own figures (names compared without spaces, width or case), or None."""
        if rep is None:
            return None
        key = name_key(rep)
        return next((w for w in self.reps if w.rep is not None and name_key(w.rep) == key), None)

    def rate_for(self, rep: str | None = None) -> float | None:
        """The win rate to judge a plan by: the rep's own when the rep has a closed
        amount in the window, else the team's.  None when there is no usable rate
        (nothing closed, or nothing won)."""
        own = self.for_rep(rep)
        r = own.rate if own is not None and own.rate is not None else self.team.rate
        return r if r else None

    def to_dict(self) -> dict[str, Any]:
        return {"periods": list(self.periods), "fixed_rule": [self.fixed_low, self.fixed_high],
                "team": self.team.to_dict(), "reps": [w.to_dict() for w in self.reps]}

    def table(self, lang: str = "ja") -> tuple[list[str], list[list[Any]]]:
        """(headers, rows) for a sheet: the team first, then each rep; rate as a
        fraction (format it as %), implied coverage as a ratio, amounts in yen."""
        headers = [_UI[k](lang) for k in ("who", "rate", "coverage", "fixed", "won", "lost", "won_n",
                                          "lost_n", "sample", "window")]
        window = f"{self.periods[0]}–{self.periods[-1]}" if self.periods else ""
        fixed = f"{self.fixed_low:g}–{self.fixed_high:g}"
        rows = []
        for w in (self.team, *self.reps):
            rows.append([w.rep if w.rep is not None else _UI["team"](lang), w.rate, w.implied_coverage, fixed,
                         w.won_amount, w.lost_amount, w.won_count, w.lost_count, w.sample, window])
        return headers, rows


@dataclass(frozen=True, slots=True)
class Observation:
    """One stored state of one opportunity."""

    account: str  # account key
    opp: str  # opportunity key
    rep: str | None
    period: str | None
    seen: tuple  # ordering: later states win
    stage: str | None
    amount: int | None
    expected_close: date | None


def _quarter(p: Period) -> Period:
    return p if p.quarter else Period(p.fiscal_year, 4, p.start_month)


def _previous(p: Period) -> Period:
    if p.quarter == 1:
        return Period(p.fiscal_year - 1, 4, p.start_month)
    return Period(p.fiscal_year, p.quarter - 1, p.start_month)


def window(until: Period, n: int) -> list[Period]:
    """The ``n`` fiscal quarters ending with ``until`` (a year means its last quarter),
    oldest first."""
    if n < 1:
        raise XltoolsError(Label("勝率の対象期間数は 1 以上にしてください。", "win_rate_periods must be at least 1."))
    out = [_quarter(until)]
    while len(out) < n:
        out.append(_previous(out[-1]))
    return out[::-1]


def _parse(period: Any, start_month: int) -> Period | None:
    if period is None:
        return None
    if isinstance(period, Period):
        return period
    try:
        return parse_period(str(period), start_month)
    except PeriodError:
        return None


def compute_win_rates(observations: Iterable[Observation], settings: Settings, *,
                      until: Period | str | None = None, periods: int | None = None,
                      spec: Spec | None = None) -> WinRates:
    """Win rates from opportunity observations (pure; :func:`win_rates` reads them from
    the store).  ``until``: the last quarter of the window (default: the latest period
    observed); ``periods``: its length (default: ``settings.thresholds.win_rate_periods``)."""
    start = settings.fiscal_year_start_month
    spec = spec or load_spec()
    won, lost = spec.the("stage", "won"), spec.the("stage", "lost")
    n = int(periods if periods is not None else settings.thresholds.win_rate_periods)
    latest: dict[tuple[str, str], Observation] = {}
    for o in observations:
        k = (o.account, o.opp)
        if k not in latest or o.seen >= latest[k].seen:
            latest[k] = o
    th = settings.thresholds
    end = _parse(until, start)
    if until is not None and end is None:
        raise XltoolsError(Label(f"期間 {until!r} を読めません（例：FY2026Q3）。", f"Not a period: {until!r} (e.g. FY2026Q3)."))
    if end is None:
        seen_periods = [p for p in (_parse(o.period, start) for o in latest.values()) if p is not None]
        if not seen_periods:
            return WinRates((), WinRate(None), (), th.coverage_low, th.coverage_high)
        end = max(seen_periods, key=lambda p: (p.fiscal_year, p.quarter or 4))
    quarters = window(end, n)
    inside = {str(q) for q in quarters}
    team = {"won_amount": 0, "lost_amount": 0, "won_count": 0, "lost_count": 0}
    reps: dict[str, dict] = {}
    names: dict[str, str] = {}
    for o in latest.values():
        if o.stage not in (won, lost) or not o.amount or o.amount < 0:
            continue
        if o.expected_close is not None:
            q = fiscal_quarter_of(o.expected_close, start)
        else:
            p = _parse(o.period, start)
            if p is None:
                continue
            q = _quarter(p)
        if str(q) not in inside:
            continue
        kind = "won" if o.stage == won else "lost"
        buckets = [team]
        if o.rep:
            rk = name_key(o.rep)
            names.setdefault(rk, o.rep)
            buckets.append(reps.setdefault(rk, {"won_amount": 0, "lost_amount": 0, "won_count": 0,
                                                "lost_count": 0}))
        for b in buckets:
            b[f"{kind}_amount"] += int(o.amount)
            b[f"{kind}_count"] += 1
    rep_rates = tuple(sorted((WinRate(names[k], **v) for k, v in reps.items()), key=lambda w: w.rep))
    return WinRates(tuple(str(q) for q in quarters), WinRate(None, **team), rep_rates,
                    th.coverage_low, th.coverage_high)


def _account_key(account_id: Any, account_name: Any) -> str | None:
    if account_id is not None and name_key(account_id):
        return "id:" + name_key(account_id)
    if account_name is not None and name_key(account_name):
        return "name:" + name_key(account_name)
    return None


def observations(store: ReadStore, snapshot: Snapshot | None = None) -> Iterator[Observation]:
    """Every stored state of every opportunity (all versions of all plans), one at a time:
    streamed from ``snapshot`` (default: a read snapshot of ``store`` of its own when it
    has one, else the store's list)."""
    from xltools.reports.history import period_key, time_key

    if snapshot is None and isinstance(store, Queries):
        with Snapshot(store) as own:
            yield from observations(store, own)
        return
    states = snapshot.opportunity_states() if snapshot is not None else store.opportunity_states()
    vid: Any = object()
    account: str | None = None
    when: tuple[Any, ...] = ()
    for r in states:
        if r["vid"] != vid:  # a version's rows come together: its account and time once
            vid = r["vid"]
            account = _account_key(r["account_id"], r["account_name"])
            when = (period_key(r["period"]), time_key(r), vid)
        opp = (("id:" + name_key(r["opp_id"])) if r["opp_id"] is not None and name_key(r["opp_id"])
               else ("name:" + name_key(r["opportunity"])) if r["opportunity"] else None)
        if account is None or opp is None:
            continue
        seen = (*when, r["row_index"])
        close = r["expected_close"]
        if isinstance(close, datetime):
            close = close.date()
        yield Observation(account, opp, r["rep"], r["period"], seen, r["stage"], r["amount"], close)


def win_rates(store: ReadStore, settings: Settings, *, until: Period | str | None = None,
              periods: int | None = None, snapshot: Snapshot | None = None) -> WinRates:
    """Each rep's and the team's win rate from the store, over the last
    ``win_rate_periods`` quarters ending with ``until`` (default: the latest stored
    period).  For the roll-up's Coverage sheet and ``xltools check --db``; ``snapshot``:
    the read snapshot to stream the opportunities from (the roll-up's)."""
    return compute_win_rates(observations(store, snapshot), settings, until=until, periods=periods,
                             spec=store.spec)


# -- text ------------------------------------------------------------------------------------

_UI = {
    "who": Label("担当", "Rep"),
    "team": Label("チーム全体", "Whole team"),
    "rate": Label("勝率（金額）", "Win rate (amount)"),
    "coverage": Label("必要カバレッジ（1÷勝率）", "Implied coverage (1 / win rate)"),
    "fixed": Label("固定ルール", "Fixed rule"),
    "won": Label("受注金額", "Won amount"),
    "lost": Label("失注金額", "Lost amount"),
    "won_n": Label("受注件数", "Won"),
    "lost_n": Label("失注件数", "Lost"),
    "sample": Label("サンプル数", "Sample"),
    "window": Label("対象期間", "Periods"),
    "line": Label("実績勝率（{who}、{window}、受注 {won} 件・失注 {lost} 件）: {rate} → 必要カバレッジ {cov}"
                  "（固定ルール {low:g}〜{high:g} 倍）",
                  "Historical win rate ({who}, {window}, {won} won / {lost} lost): {rate} -> implied coverage "
                  "{cov} (fixed rule {low:g}-{high:g}x)"),
    "none": Label("実績勝率: 対象期間 {window} に受注・失注の実績がありません（固定ルール {low:g}〜{high:g} 倍で判定）",
                  "Historical win rate: no won or lost opportunity in {window} (judged by the fixed "
                  "{low:g}-{high:g}x rule)"),
}


def format_win_rate(wr: WinRates, lang: str = "ja", rep: str | None = None) -> str:
    """One line: the (rep's or team's) win rate, implied coverage and sample next to the
    fixed rule."""
    w = wr.for_rep(rep) or wr.team
    window_text = f"{wr.periods[0]}–{wr.periods[-1]}" if wr.periods else "-"
    if w.rate is None:
        return _UI["none"](lang).format(window=window_text, low=wr.fixed_low, high=wr.fixed_high)
    cov = f"{w.implied_coverage:.1f}" + ("倍" if lang == "ja" else "x") if w.implied_coverage else "-"
    return _UI["line"](lang).format(who=w.rep or _UI["team"](lang), window=window_text, won=w.won_count,
                                    lost=w.lost_count, rate=f"{w.rate:.0%}", cov=cov, low=wr.fixed_low,
                                    high=wr.fixed_high)


def load_win_rates(db_url: str | None, spec, settings: Settings, *, until: Period | str | None = None) -> WinRates:
    """:func:`win_rates` from the database at ``db_url`` (which must exist)."""
    from xltools.store.engine import Store

    with Store(db_url, spec, create=False) as store:
        return win_rates(store, settings, until=until)
