"""Department screening alerts (部门筛查预警): the year's push lists applied to the latest annual records.

The annual list is made once a year from the year-end records; departments push
lists during the year (medical insurance, education, emergency management, human
resources, civil affairs, the disabled persons' federation, housing). After the
lists are read and matched to households through salted hashes of the ID-card
numbers (:func:`fanpin_risk.io.read_feed`, :func:`fanpin_risk.io.match_feeds`),
:func:`alerts` applies each matched event to the household's latest record as a
shock, by the rules of ``data_schema/feed_effects.csv`` (the same effect
language as the help measures: ``expense_medical += event_self_paid``), re-scores
the household with the same model and returns one row per alerted household:
channels and events, risk before → after, whether the policy trigger is met,
the main risk type and measures, whether it is already monitored, and a visit
deadline.

The event terms the rules read (``event_*``), per household and event kind:

``event_self_paid``, ``event_amount``
    sums of the bills' self-paid amounts and of the schooling costs (yuan);
``event_business_loss``
    the recorded direct loss, else half of the household's business income
    (:data:`DISASTER_SHARE`), at most its business income;
``event_months_lost``, ``event_wage_lost``
    the months left in the year after the first job-loss event, at most the
    household's migrant months, and their pay at the household's own wage per
    month;
``event_dibao``, ``event_tekun``
    the assumed payments of ``data_schema/pre_transfer.csv``;
``event_people``, ``event_labour_lost``
    people with a new disability certificate, and the labourers that removes
    (at most the household's labour).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from fanpin_risk import contract
from fanpin_risk.errors import ContractError
from fanpin_risk.models import resolve_model
from fanpin_risk.panel import as_panel
from fanpin_risk.scoring import score

from ._help import apply_effects, with_whole_context
from ._scenario import formula_total

#: Share of business income a disaster takes when the push list gives no loss amount.
DISASTER_SHARE = 0.5
#: A household alerted before is "风险上升" again when its risk rose by more than this.
RISE = 0.05
_CHANGE_EVENTS = {"新增低保": "dibao_in", "退出低保": "dibao_out", "新增特困": "tekun_in", "退出特困": "tekun_out"}
_AMOUNTS = ("amount_self_paid", "amount", "loss_amount")


def feed_effects() -> pd.DataFrame:
    """The event rules of ``data_schema/feed_effects.csv`` (event, effects, description)."""
    return pd.read_csv(contract.schema_dir() / "feed_effects.csv", dtype="str", keep_default_na=False)


def _feed_index() -> pd.DataFrame:
    return contract.feed_kinds().set_index("kind")


def as_month(value: Any) -> int:
    """A month as the integer YYYYMM: ``"2025-06"``, ``"2025/6"``, ``202506``, a date.

    Examples
    --------
    >>> as_month("2025-06"), as_month(202503), as_month("2025/7")
    (202506, 202503, 202507)
    """
    if isinstance(value, (int, np.integer)) and 200001 <= int(value) <= 210012:
        return int(value)
    if hasattr(value, "year") and hasattr(value, "month"):
        return int(value.year) * 100 + int(value.month)
    text = str(value).strip().replace("/", "-").replace("年", "-").replace("月", "")
    parts = [p for p in text.split("-") if p]
    try:
        if len(parts) >= 2:
            y, m = int(parts[0]), int(parts[1])
        elif len(parts[0]) == 6:
            y, m = int(parts[0][:4]), int(parts[0][4:])
        else:
            raise ValueError
    except ValueError:
        raise ContractError(f"as_of={value!r} is not a month; write e.g. '2025-06'") from None
    if not (2000 <= y <= 2100 and 1 <= m <= 12):
        raise ContractError(f"as_of={value!r} is not a month between 2000-01 and 2100-12")
    return y * 100 + m


def _events(matches: pd.DataFrame, as_of: int) -> pd.DataFrame:
    """Matched events known by ``as_of`` with their rule key (dibao changes split by their type)."""
    need = {"kind", "household_id", "event_month", "status"}
    missing = need - set(matches.columns)
    if missing:
        raise ContractError(f"matches lack column(s) {sorted(missing)}; pass the frame of fanpin_risk.io.match_feeds")
    ev = matches[matches["status"].astype("str").eq("matched") & matches["household_id"].notna()].copy()
    em = pd.to_numeric(ev["event_month"], errors="coerce")
    lm = pd.to_numeric(ev["list_month"], errors="coerce") if "list_month" in ev.columns else em
    ev["event_month"], ev["list_month"] = em, lm.fillna(em)
    ev = ev[(em <= as_of) & (ev["list_month"] <= as_of)]
    idx = _feed_index()
    unknown = sorted(set(ev["kind"].astype("str")) - set(idx.index))
    if unknown:
        raise ContractError(f"unknown feed kind(s) {unknown}; the kinds are those of data_schema/feeds.csv")
    ev["event"] = ev["kind"].map(idx["event"]).astype("str")
    if "change_type" in ev.columns:
        sub = ev["change_type"].astype("str").str.strip().map(_CHANGE_EVENTS)
        ev.loc[ev["event"] == "assistance_change", "event"] = sub[ev["event"] == "assistance_change"]
        ev = ev[ev["event"].notna() & (ev["event"] != "assistance_change")]
    for c in _AMOUNTS:
        ev[c] = pd.to_numeric(ev[c], errors="coerce") if c in ev.columns else np.nan
    ev["household_id"] = ev["household_id"].astype("str")
    return ev


def _num(df: pd.DataFrame, c: str) -> pd.Series:
    if c not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype="float64")
    s = df[c]
    if str(s.dtype) in ("boolean", "bool"):
        return s.astype("Float64").astype("float64")
    return pd.to_numeric(s, errors="coerce").astype("float64")


def _terms(cur: pd.DataFrame, ev: pd.DataFrame) -> dict[str, pd.Series]:
    """The event_* terms of one event kind, on the household rows ``cur`` (indexed like the panel)."""
    g = ev.groupby("household_id")
    hid = cur["household_id"].astype("str")
    at = lambda s: hid.map(s).astype("float64")  # noqa: E731 - a per-household lookup
    amounts = pd.DataFrame({c: g[c].sum(min_count=1) for c in _AMOUNTS})
    first = g["event_month"].min()
    bus = _num(cur, "income_business").clip(lower=0).fillna(0)
    loss = at(amounts["loss_amount"])
    months = _num(cur, "migrant_work_months").fillna(0)
    wage = _num(cur, "income_wage").fillna(0)
    per_month = (wage / months).where(months > 0, 0.0)
    left = (12 - (at(first) % 100) + 1).clip(0, 12)  # the event's month and the rest of the year
    lost = np.fmin(months, left * np.where(months > 0, months / 12.0, 0.0)).fillna(0)
    amounts_pt = contract.pre_transfer_amounts().set_index("item")
    size = _num(cur, "household_size").clip(lower=1).fillna(1)

    def assumed(item: str) -> pd.Series:
        a = float(amounts_pt.at[item, "amount"])
        return a * size if amounts_pt.at[item, "per"] == "person" else pd.Series(a, index=cur.index)

    people = hid.map(g["person_hash"].nunique() if "person_hash" in ev.columns else g.size()).astype("float64")
    return {
        "event_self_paid": at(amounts["amount_self_paid"]).fillna(0), "event_amount": at(amounts["amount"]).fillna(0),
        "event_business_loss": np.fmin(loss.where(loss.notna(), DISASTER_SHARE * bus), bus).fillna(0),
        "event_months_lost": lost, "event_wage_lost": lost * per_month.fillna(0),
        "event_dibao": assumed("dibao"), "event_tekun": assumed("tekun"),
        "event_people": people.fillna(0), "event_labour_lost": np.fmin(people.fillna(0), _num(cur, "n_labor").fillna(0)),
    }


def apply_events(panel: pd.DataFrame, events: pd.DataFrame, *, year: int) -> tuple[pd.DataFrame, pd.Index]:
    """The panel with each household's events applied to its ``year`` record; and the changed rows."""
    out = panel.copy()
    rows = out.index[(pd.to_numeric(out["year"], errors="coerce") == year).to_numpy(dtype=bool, na_value=False)]
    hid = out.loc[rows, "household_id"].astype("str")
    hit_rows = rows[hid.isin(set(events["household_id"])).to_numpy()]
    cur = out.loc[hit_rows].copy()
    before = formula_total(cur)
    rules = feed_effects().set_index("event")
    for event, ev in events.groupby("event", sort=True):
        if event not in rules.index:
            raise ContractError(f"no rule for event {event!r} in data_schema/feed_effects.csv")
        m = cur["household_id"].astype("str").isin(set(ev["household_id"])).to_numpy()
        sub = cur[m]
        changed = apply_effects(sub, rules.at[event, "effects"], measure=f"feed event {event}", derived=_terms(sub, ev))
        for c in changed.columns:
            cur.loc[changed.index, c] = changed[c]
    for c, lo in (("migrant_work_months", 0), ("income_business", 0), ("n_labor", 0), ("income_wage", 0), ("income_transfer", 0)):
        if c in cur.columns:
            cur[c] = cur[c].clip(lower=lo)
    size = _num(cur, "household_size").where(lambda s: s > 0)
    if "net_income_per_capita" in cur.columns:
        cur["net_income_per_capita"] = _num(cur, "net_income_per_capita") + ((formula_total(cur) - before) / size).fillna(0)
    for c in cur.columns:  # back in the panel's dtypes
        if str(cur[c].dtype) != str(out[c].dtype):
            cur[c] = (cur[c].round() if str(out[c].dtype) == "Int64" else cur[c]).astype(out[c].dtype)
        out.loc[hit_rows, c] = cur[c]
    return out, hit_rows


def _event_text(name: str, month: int, self_paid: float, amount: float, loss: float, change: Any) -> str:
    when = f"{month // 100}年{month % 100:02d}月"
    if self_paid == self_paid:  # not NaN
        return f"{name}：个人自付{self_paid:,.0f}元（{when}）"
    if amount == amount:
        return f"{name}：{amount:,.0f}元（{when}）"
    if loss == loss:
        return f"{name}：直接损失{loss:,.0f}元（{when}）"
    extra = "" if change is None or change != change else str(change)
    return f"{name}{'：' + extra if extra and extra not in ('nan', '<NA>') else ''}（{when}）"


def _texts(ev: pd.DataFrame) -> pd.DataFrame:
    """Channels and event descriptions per household, in Chinese with units."""
    idx = _feed_index()
    ev = ev.sort_values(["household_id", "event_month", "kind"], kind="mergesort")
    kind = ev["kind"].astype("str").to_numpy(dtype=object)
    names = idx["zh_name"].to_dict()
    channel_of = {k: f"{idx.at[k, 'department']}·{names[k]}" for k in idx.index}
    change = ev["change_type"].to_numpy(dtype=object) if "change_type" in ev.columns else [None] * len(ev)
    # plain Python values row by row: a hundred thousand events are a few lines of text each
    text = [_event_text(names[k], int(m), sp, am, lo, ch) for k, m, sp, am, lo, ch in zip(
        kind, ev["event_month"].to_numpy(dtype="float64"), *(ev[c].to_numpy(dtype="float64") for c in _AMOUNTS),
        change)]
    channel = [channel_of[k] for k in kind]
    hid = ev["household_id"].to_numpy(dtype=object)
    starts = np.flatnonzero(np.r_[True, hid[1:] != hid[:-1]]) if len(hid) else np.array([], dtype=np.int64)
    bounds = np.r_[starts, len(hid)]
    spans = list(zip(bounds[:-1], bounds[1:]))
    first = np.minimum.reduceat(ev["list_month"].to_numpy(dtype="float64"), starts) if len(hid) else []
    return pd.DataFrame({"channels": ["；".join(dict.fromkeys(channel[a:b])) for a, b in spans],
                         "events": ["；".join(text[a:b]) for a, b in spans],
                         "n_events": np.diff(bounds).astype("int64"),
                         "first_month": np.asarray(first).astype("int64")},
                        index=pd.Index(hid[starts], name="household_id"))


def _trigger(before: pd.DataFrame, after: pd.DataFrame) -> pd.Series:
    """The policy triggers met after the events, in words ('' when none)."""
    rigid = _num(after, "expense_medical").fillna(0) + _num(after, "expense_education").fillna(0)
    income = _num(before, "net_income_per_capita") * _num(before, "household_size")
    parts = [
        (rigid > income.clip(lower=0)) & (rigid > 0), "刚性支出超过上年家庭纯收入",
        _num(after, "net_income_per_capita") < _num(after, "monitoring_line"), "人均纯收入低于监测标准",
        _num(after, "housing_safe") == 0, "住房安全无保障",
    ]
    out = pd.Series("", index=after.index, dtype="str")
    for hit, text in zip(parts[::2], parts[1::2]):
        out = out.where(~hit.fillna(False), np.where(out == "", text, out + "；" + text))
    return out


def alerts(panel: Any, matches: pd.DataFrame, model: Any = None, *, as_of: Any, year: int | None = None,
           previous: pd.DataFrame | None = None, visit_within_days: int = 15, lines=None) -> pd.DataFrame:
    """Alert list from the department push lists matched so far in the year.

    Parameters
    ----------
    panel : DataFrame or path
        The annual household records (the latest year is the one the events are applied to).
    matches : DataFrame
        Matched feed rows (:func:`fanpin_risk.io.match_feeds`): ``kind``,
        ``household_id``, ``status``, ``event_month`` and the kind's amounts.
        Only rows with status "matched" and known by ``as_of`` count.
    model : RiskModel, path or None
        The model of the annual list (default: the packaged model).
    as_of : month
        Alerts as of this month (``"2025-06"``): events and lists after it are ignored.
    year : int, optional
        The annual record the events are applied to (default the latest).
    previous : DataFrame, optional
        An earlier alert list: a household in it is "已预警" again, or "风险上升"
        when its risk rose by more than :data:`RISE`; others are "新预警".
    visit_within_days : int, default 15
        Visit deadline after the month the first list naming the household came in.

    Returns
    -------
    pandas.DataFrame
        One row per alerted household (columns of ``output_columns.csv``,
        output "alerts"), policy triggers first, then by risk after.
    """
    as_of = as_month(as_of)
    model = resolve_model(model, lines=lines)
    df = as_panel(panel, lines=lines).reset_index(drop=True)
    df["household_id"] = df["household_id"].astype("str")
    y = int(df["year"].max()) if year is None else int(year)
    ev = _events(matches, as_of)
    cols = contract.output_dtypes("alerts")
    if ev.empty:
        return pd.DataFrame({c: pd.Series(dtype=d) for c, d in cols.items()})
    ids = set(ev["household_id"])
    own = df[df["household_id"].isin(ids)]
    own = with_whole_context(model, own, df)  # the neighbours' context of the whole panel, not of the alerted few
    after_panel, hit_rows = apply_events(own, ev, year=y)
    kw = {"year": y, "reasons": "all", "lines": lines, "top_factors": False}  # the alert list shows no factors
    before = score(own, model, **{**kw, "reasons": "none"}).set_index("household_id")
    after = score(after_panel, model, **kw).set_index("household_id")
    cur_b = own.loc[hit_rows].set_index("household_id")
    cur_a = after_panel.loc[hit_rows].set_index("household_id")
    texts = _texts(ev)
    out = pd.DataFrame(index=pd.Index(sorted(ids), name="household_id"))
    out = out.join(texts).join(after[["county_code", "township_code", "village_code", "status", "main_risk_type",
                                      "suggested_measures", "reason_note"]])
    out["risk_before"] = before["risk_score"].reindex(out.index)
    out["risk_after"] = after["risk_score"].reindex(out.index)
    out["risk_change"] = out["risk_after"] - out["risk_before"]
    trig = _trigger(cur_b, cur_a).reindex(out.index).fillna("")
    out["trigger_met"] = trig.ne("")
    out["trigger"] = trig.where(trig.ne(""), "未达到监测标准")
    lab = _num(cur_a, "n_labor").reindex(out.index)
    out["labour"] = np.where(lab > 0, "有劳动能力", np.where(lab.notna(), "无劳动能力", "劳动能力不详"))
    cat = cur_b["monitoring_category"].astype("str").reindex(out.index) if "monitoring_category" in cur_b.columns else None
    elim = _num(cur_b, "risk_eliminated").reindex(out.index).fillna(0)
    monitored = (cat.notna() & cat.ne("") & cat.ne("nan") & (elim == 0)) if cat is not None else pd.Series(False, index=out.index)
    out["monitored"] = np.where(monitored, "已纳入监测", "未纳入监测")
    out.loc[out["status"].ne("scored"), "trigger"] = f"{y}年无可评分记录，请核实"
    out["alert_status"] = _repeat_status(out, previous)
    out["visit_by"] = [_deadline(int(m), visit_within_days) for m in out["first_month"]]
    out["as_of"] = f"{as_of // 100}-{as_of % 100:02d}"
    out = out.reset_index()
    out = out.sort_values(["trigger_met", "risk_after", "household_id"], ascending=[False, False, True], kind="mergesort")
    res = out[list(cols)].reset_index(drop=True)
    for c, d in cols.items():
        res[c] = res[c].astype(d)
    return res


def _repeat_status(out: pd.DataFrame, previous: pd.DataFrame | None) -> np.ndarray:
    if previous is None or not len(previous):
        return np.full(len(out), "新预警", dtype=object)
    prev = previous.set_index(previous["household_id"].astype("str"))["risk_after"].astype("float64")
    was = out.index.isin(prev.index)
    rose = out["risk_after"].to_numpy() - prev.reindex(out.index).to_numpy() > RISE
    return np.where(~was, "新预警", np.where(rose, "风险上升", "已预警"))


def _deadline(month: int, days: int) -> str:
    y, m = month // 100, month % 100
    last = (date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1))
    return (last + timedelta(days=int(days))).isoformat()
