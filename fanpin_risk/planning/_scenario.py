"""Shock scenarios: how would an epidemic, a flood or a failed industry hit the watched households?

:func:`scenario` applies a described shock to the records of the scored year
(the latest, or ``year=``), recomputes the features from the modified year plus
the unchanged history, re-scores every household with the same model and
compares before and after: per-household scores and tiers, counts by township
and by main risk type, and the expected number of relapses with an interval.

A shock is data (a YAML/JSON file, a dict, or a list of steps). Each step has a
``type`` and an optional area; the step types are

``migrant_work``
    cut migrant work months by ``share``; wage income falls in proportion to
    the months lost (the household's own wage per month), ``shock_job_loss`` is
    set where months were lost. The household table has no work place (省外 /
    省内), so the cut applies to all migrant months of the selected households;
    narrow it with an area (``counties``) when only some places are hit.
``business_loss``
    a flood, drought or other disaster: ``income_business`` falls by ``share``,
    ``shock_disaster`` is set, and a ``housing_unsafe_share`` of the hit
    households lose safe housing (``housing_safe`` False).
``medical``
    out-of-pocket medical spending rises by ``share`` (relative) and/or by
    ``amount`` (yuan per household); ``shock_illness`` is set on the hit
    households.
``industry_failure``
    households with ``income_business`` above ``min_business_income`` lose
    ``share`` of it; ``shock_industry_failure`` is set.

Area keys (all optional, combined with AND): ``counties``, ``townships``,
``villages``, ``households``, ``county`` + ``first_townships: N`` (the first N
township codes of that county in sorted order, so an example does not depend
on which codes a data set happens to have), and ``hit_share`` (a random share of
the selected households, drawn with ``seed``). Quote codes in YAML
(``"990001001"``) so leading zeros survive.

After a step, ``net_income_per_capita`` moves by the change of the contract's
income formula (:func:`fanpin_risk.panel.net_income_per_capita`: wage +
business − business expense + property + transfer, divided by household size),
so a reported per-capita income keeps its own level and moves by the lost income.

The expected number of relapses is the sum of the households' probabilities.
Its interval is the 2.5–97.5 % range of the number of relapses simulated from
those probabilities (independent Bernoulli draws; the before/after difference
uses the same draws for both, so it is the effect of the shock, not noise). It
describes outcome randomness *given* the model's probabilities, not the model's
own uncertainty. The normal approximation of the Poisson-binomial distribution
(mean Σp, variance Σp(1−p)) is reported beside it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fanpin_risk import contract
from fanpin_risk._excel import percent_columns
from fanpin_risk.errors import ContractError
from fanpin_risk.models import resolve_model
from fanpin_risk.panel import as_panel, select_year
from fanpin_risk.scoring import score

STEP_TYPES = ("migrant_work", "business_loss", "medical", "industry_failure")
_AREA_KEYS = ("counties", "townships", "villages", "households", "county", "first_townships", "hit_share")
_STEP_KEYS = {
    "migrant_work": {"share"},
    "business_loss": {"share", "housing_unsafe_share", "hazard"},
    "medical": {"share", "amount"},
    "industry_failure": {"share", "min_business_income"},
}
#: A shocked household whose score falls by more than this is flagged in the summary.
LOWERED_TOLERANCE = 0.02
_INCOME_PARTS = ("income_wage", "income_business", "expense_business", "income_property", "income_transfer")


# --------------------------------------------------------------------------- shock description
def load_shock(shock: Any) -> dict:
    """Read a shock from a YAML/JSON path, a dict or a list of steps.

    Returns
    -------
    dict
        ``{"name": str, "description": str, "steps": [step, ...]}``, every step
        checked (known type, shares in [0, 1], known keys).
    """
    src = None
    if isinstance(shock, (str, Path)):
        src = Path(shock)
        if not src.exists():
            raise ContractError(f"shock file {src} not found")
        text = src.read_text(encoding="utf-8")
        if src.suffix.lower() == ".json":
            shock = json.loads(text)
        else:
            import yaml

            shock = yaml.safe_load(text)
    if isinstance(shock, list):
        shock = {"steps": shock}
    if not isinstance(shock, dict):
        raise ContractError(f"a shock is a dict, a list of steps or a YAML/JSON file, not {type(shock).__name__}")
    steps = shock.get("steps")
    if steps is None:
        steps = [shock] if "type" in shock else []
    if not steps:
        raise ContractError("the shock has no steps; give 'steps: [{type: migrant_work, share: 0.4}, ...]'")
    checked = [_check_step(s, i) for i, s in enumerate(steps)]
    name = str(shock.get("name") or (src.stem if src is not None else "shock"))
    return {"name": name, "description": str(shock.get("description", "")), "steps": checked}


def _check_step(step: Any, i: int) -> dict:
    where = f"shock step {i + 1}"
    if not isinstance(step, dict):
        raise ContractError(f"{where}: a step is a mapping with a 'type', got {step!r}")
    t = step.get("type")
    if t not in STEP_TYPES:
        raise ContractError(f"{where}: unknown type {t!r}; choose from {list(STEP_TYPES)}")
    area = dict(step.get("area") or {})
    flat_area = {k: step[k] for k in _AREA_KEYS if k in step}
    area.update(flat_area)
    allowed = _STEP_KEYS[t] | set(_AREA_KEYS) | {"type", "area", "name"}
    unknown = sorted(set(step) - allowed)
    bad_area = sorted(set(area) - set(_AREA_KEYS))
    if unknown or bad_area:
        raise ContractError(f"{where} ({t}): unknown key(s) {unknown + bad_area}; allowed: {sorted(allowed - {'area'})}")
    out = {"type": t, "area": area, **{k: step[k] for k in _STEP_KEYS[t] if k in step}}
    for k in ("share", "housing_unsafe_share", "hit_share"):
        v = out.get(k, area.get(k))
        if v is not None and not (isinstance(v, (int, float)) and 0 <= float(v) <= 1):
            raise ContractError(f"{where} ({t}): {k} must be a number in [0, 1], got {v!r}")
    if t in ("migrant_work", "business_loss", "industry_failure") and "share" not in out:
        raise ContractError(f"{where} ({t}): give 'share' (the fraction lost, 0–1)")
    if t == "medical" and "share" not in out and "amount" not in out:
        raise ContractError(f"{where} (medical): give 'share' (relative rise) and/or 'amount' (yuan per household)")
    if t == "medical" and "amount" in out and (not isinstance(out["amount"], (int, float)) or out["amount"] < 0):
        raise ContractError(f"{where} (medical): amount must be a number ≥ 0 (yuan), got {out['amount']!r}")
    if t == "industry_failure":
        out.setdefault("min_business_income", 0)
    for k in ("counties", "townships", "villages", "households"):
        if k in area:
            v = area[k]
            area[k] = [str(x) for x in (v if isinstance(v, (list, tuple)) else [v])]
    if "first_townships" in area and "county" not in area:
        raise ContractError(f"{where} ({t}): first_townships needs county (the county whose first N townships are hit)")
    if "county" in area:
        area["county"] = str(area["county"])
    return out


def _select(cur: pd.DataFrame, area: dict, rng: np.random.Generator, where: str) -> pd.Series:
    """Rows of the scored year inside the step's area (then a random hit_share of them)."""
    m = pd.Series(True, index=cur.index)
    for key, col in (("counties", "county_code"), ("townships", "township_code"), ("villages", "village_code"),
                     ("households", "household_id")):
        if key in area:
            if col not in cur.columns:
                raise ContractError(f"{where}: the records have no {col} to select {key}")
            vals = cur[col].astype("str")
            missing = sorted(set(area[key]) - set(vals.dropna()))
            if missing:
                raise ContractError(f"{where}: {key} {missing[:10]} not in the scored year's records (quote codes in YAML)")
            m &= vals.isin(area[key]).fillna(False)
    if "county" in area:
        c = cur["county_code"].astype("str")
        if not (c == area["county"]).any():
            raise ContractError(f"{where}: county {area['county']!r} not in the scored year's records")
        m &= (c == area["county"]).fillna(False)
        if "first_townships" in area:
            towns = sorted(cur.loc[c == area["county"], "township_code"].dropna().astype("str").unique())
            keep = towns[: int(area["first_townships"])]
            area["townships_selected"] = keep  # recorded for the report
            m &= cur["township_code"].astype("str").isin(keep).fillna(False)
    share = area.get("hit_share")
    if share is not None and float(share) < 1:
        draw = pd.Series(rng.random(len(cur)), index=cur.index)
        m &= draw < float(share)
    return m.astype(bool)


def _num(cur: pd.DataFrame, col: str) -> pd.Series:
    if col not in cur.columns:
        return pd.Series(np.nan, index=cur.index, dtype="float64")
    return cur[col].astype("float64")


def formula_total(cur: pd.DataFrame) -> pd.Series:
    """Household net income by the contract formula, every missing part counted as 0 (for before/after differences)."""
    return contract.net_income_total(lambda c: _num(cur, c), fill_all=True)


def apply_shock(panel: pd.DataFrame, shock: Any, *, year: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply a shock to the ``year`` rows of a canonical panel.

    Parameters
    ----------
    panel : DataFrame
        Canonical household-year frame (history is left unchanged).
    shock : path, dict or list
        See :func:`load_shock`.
    year : int
        The year whose records are modified.
    seed : int
        Seed for ``hit_share`` and ``housing_unsafe_share`` draws.

    Returns
    -------
    (DataFrame, DataFrame)
        The modified panel (a copy) and one row per modified household-year:
        ``household_id``, ``steps`` (the step types that hit it) and the change
        of per-capita net income.
    """
    spec = load_shock(shock)
    rng = np.random.default_rng(seed)
    out = panel.copy()
    rows = out.index[(pd.to_numeric(out["year"], errors="coerce") == int(year)).to_numpy(dtype=bool, na_value=False)]
    cur = out.loc[rows].copy()
    hit_steps = pd.Series("", index=rows, dtype="str")
    total_before = formula_total(cur)
    for i, st in enumerate(spec["steps"]):
        where = f"shock step {i + 1} ({st['type']})"
        m = _select(cur, st["area"], rng, where)
        share = float(st.get("share", 0.0))
        t = st["type"]
        if t == "migrant_work":
            months = _num(cur, "migrant_work_months").fillna(0)
            wage = _num(cur, "income_wage")
            lost = (months * share).where(m, 0.0)
            # wage per month from the household's own record: income falls with the months lost
            per_month = (wage / months).where(months > 0, 0.0).fillna(0.0)
            cut = (lost * per_month).clip(upper=wage.fillna(0))
            orig = _num(cur, "migrant_work_months")
            cur["migrant_work_months"] = (months - lost).where(m & orig.notna(), orig)
            cur["income_wage"] = (wage - cut).where(m, wage)
            hit = m & (lost > 0)
            if "n_migrant_workers" in cur.columns:
                gone = hit & (cur["migrant_work_months"] <= 0)
                cur.loc[gone, "n_migrant_workers"] = 0
            _set_flag(cur, "shock_job_loss", hit)
        elif t in ("business_loss", "industry_failure"):
            bus = _num(cur, "income_business")
            if t == "industry_failure":
                m = m & (bus > float(st["min_business_income"])).fillna(False)
            cur["income_business"] = (bus * (1 - share)).where(m, bus)
            hit = m
            if t == "business_loss":
                _set_flag(cur, "shock_disaster", hit)
                hus = float(st.get("housing_unsafe_share", 0.0) or 0.0)
                if hus > 0:
                    lose = hit & pd.Series(rng.random(len(cur)) < hus, index=cur.index)
                    cur["housing_safe"] = cur["housing_safe"].astype("boolean").mask(lose, False) if "housing_safe" in cur.columns else pd.Series(~lose, dtype="boolean")
            else:
                _set_flag(cur, "shock_industry_failure", hit)
        elif t == "medical":
            med = _num(cur, "expense_medical").fillna(0)
            new = med * (1 + float(st.get("share", 0.0))) + float(st.get("amount", 0.0))
            cur["expense_medical"] = new.where(m, _num(cur, "expense_medical"))
            hit = m
            _set_flag(cur, "shock_illness", hit)
        joined = pd.Series(np.where(hit_steps == "", t, hit_steps + "+" + t), index=hit_steps.index, dtype="str")
        hit_steps = hit_steps.mask(hit, joined)
    dtot = formula_total(cur) - total_before
    size = _num(cur, "household_size").where(lambda s: s > 0)
    if "net_income_per_capita" in cur.columns:
        cur["net_income_per_capita"] = _num(cur, "net_income_per_capita") + (dtot / size).fillna(0)
    for c in cur.columns:  # keep the canonical dtypes
        if c in out.columns and str(cur[c].dtype) != str(out[c].dtype):
            cur[c] = (cur[c].round() if str(out[c].dtype) == "Int64" else cur[c]).astype(out[c].dtype)
    for c in cur.columns:
        if c not in out.columns:
            out[c] = pd.Series(pd.NA, index=out.index, dtype=cur[c].dtype)
        out.loc[rows, c] = cur[c]
    changed = hit_steps != ""
    info = pd.DataFrame({"household_id": cur.loc[changed, "household_id"].astype("str").to_numpy(),
                         "steps": hit_steps[changed].to_numpy(),
                         "delta_income_pc": (dtot / size)[changed].to_numpy()})
    info.attrs["spec"] = spec
    return out, info


def _set_flag(cur: pd.DataFrame, col: str, hit: pd.Series) -> None:
    s = cur[col].astype("boolean") if col in cur.columns else pd.Series(False, index=cur.index, dtype="boolean")
    cur[col] = s.mask(hit, True)


# --------------------------------------------------------------------------- expected relapses
def expected_relapses(p_before: np.ndarray, p_after: np.ndarray, *, n_draws: int = 2000, seed: int = 0,
                      level: float = 0.95) -> pd.DataFrame:
    """Expected number of relapses before and after, with intervals.

    Parameters
    ----------
    p_before, p_after : array of float
        Probabilities of the same households (NaN = not scored, left out).
    n_draws : int
        Bernoulli simulations (common random numbers for before and after).
    level : float
        Interval level.

    Returns
    -------
    DataFrame
        Rows "before", "after", "increase"; columns ``expected``, ``lo``, ``hi``
        (simulated quantiles), ``normal_lo``, ``normal_hi`` (Poisson-binomial
        normal approximation) and ``n_draws``.
    """
    pb, pa = np.asarray(p_before, float), np.asarray(p_after, float)
    ok = np.isfinite(pb) & np.isfinite(pa)
    pb, pa = pb[ok], pa[ok]
    rng = np.random.default_rng(seed)
    cb, ca = np.empty(n_draws), np.empty(n_draws)
    chunk = max(1, int(2_000_000 // max(len(pb), 1)))
    for s in range(0, n_draws, chunk):
        e = min(n_draws, s + chunk)
        u = rng.random((e - s, len(pb)))
        cb[s:e] = (u < pb).sum(axis=1)
        ca[s:e] = (u < pa).sum(axis=1)
    q = [(1 - level) / 2, 1 - (1 - level) / 2]
    from scipy.stats import norm

    z = float(norm.ppf(q[1]))
    rows = []
    for name, mean, var, draws in (("before", pb.sum(), (pb * (1 - pb)).sum(), cb),
                                   ("after", pa.sum(), (pa * (1 - pa)).sum(), ca),
                                   ("increase", pa.sum() - pb.sum(), None, ca - cb)):
        if var is None:  # difference under common random numbers: per-household indicator of p_b ≤ U < p_a
            d = np.abs(pa - pb)
            var = (d * (1 - d)).sum()
        lo, hi = np.quantile(draws, q) if n_draws else (np.nan, np.nan)
        rows.append({"what": name, "expected": float(mean), "lo": float(lo), "hi": float(hi),
                     "normal_lo": float(mean - z * np.sqrt(var)), "normal_hi": float(mean + z * np.sqrt(var)),
                     "n_households": int(len(pb)), "n_draws": int(n_draws)})
    return pd.DataFrame(rows).set_index("what")


# --------------------------------------------------------------------------- main
@dataclass
class ScenarioResult:
    """Before/after comparison of a shock scenario.

    Attributes
    ----------
    households : DataFrame
        One row per household: ``household_id``, area codes, ``affected``,
        ``shock_steps``, ``risk_before``, ``risk_after``, ``delta``,
        ``tier_before``, ``tier_after``, ``tier_rose``, ``main_risk_type_before``,
        ``main_risk_type_after``, ``status`` (from :func:`fanpin_risk.score`),
        sorted by ``risk_after`` descending.
    by_township : DataFrame
        Per township: households, affected, expected relapses and 高-tier
        counts before/after.
    by_risk_type : DataFrame
        Households by main risk type before/after.
    expected : DataFrame
        See :func:`expected_relapses`.
    summary : str
        A few lines of plain text.
    shock : dict
        The checked shock description.
    year : int
    """

    households: pd.DataFrame
    by_township: pd.DataFrame
    by_risk_type: pd.DataFrame
    expected: pd.DataFrame
    summary: str
    shock: dict
    year: int
    settings: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.summary

    def tables(self) -> dict[str, pd.DataFrame]:
        """Tables by name (for a workbook)."""
        return {"households": self.households, "by_township": self.by_township, "by_risk_type": self.by_risk_type,
                "expected": self.expected.reset_index()}

    def to_excel(self, path: str | Path, headers: str = "zh") -> Path:
        """Write summary and tables as sheets of one workbook: Chinese sheets and headers, or ``headers="en"``."""
        if headers not in ("en", "zh"):
            raise ContractError(f"headers must be 'en' or 'zh', got {headers!r}")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        zh = headers == "zh"
        with pd.ExcelWriter(path) as xw:
            pd.DataFrame({"概况" if zh else "summary": self.summary.splitlines()}).to_excel(
                xw, sheet_name="概况" if zh else "summary", index=False)
            for name, tab in self.tables().items():
                if zh:
                    tab = contract.to_chinese(tab, f"scenario_{name}")
                sheet = _SHEETS_ZH.get(name, name) if zh else name
                tab.to_excel(xw, sheet_name=sheet, index=False)
                if name == "households":
                    percent_columns(xw.sheets[sheet], ["冲击前风险概率", "冲击后风险概率", "风险变化",
                                                       "risk_before", "risk_after", "delta"])
        return path


#: Sheet names of :meth:`ScenarioResult.to_excel` for county staff.
_SHEETS_ZH = {"households": "各户冲击前后", "by_township": "按乡镇", "by_risk_type": "按主要风险类型", "expected": "预计返贫致贫户数"}


def scenario(records: Any, shock: Any, model: Any = None, *, year: int | None = None, n_draws: int = 2000,
             seed: int = 0, reasons: str = "all", tier_cutoffs: dict | None = None, lines=None) -> ScenarioResult:
    """Apply a shock to the latest records and re-score.

    Parameters
    ----------
    records : DataFrame or path
        Household-year records with history (as for :func:`fanpin_risk.score`).
    shock : path, dict or list
        Shock description (see the module docstring and ``data_schema/scenarios/``).
    model : RiskModel, path or None
        None loads the packaged default model.
    year : int, optional
        Year whose records are shocked and scored; default the latest.
    n_draws : int, default 2000
        Bernoulli simulations for the interval of the expected relapses.
    seed : int
        Seed of the area draws and of the simulation.
    reasons : {"all", "budget", "none"}
        Passed to :func:`fanpin_risk.score`; "none" skips the main risk types
        (faster; ``by_risk_type`` is then empty).
    tier_cutoffs : dict, optional
        Tier cut-offs (default those of :func:`fanpin_risk.score`).

    Returns
    -------
    ScenarioResult
    """
    model = resolve_model(model, lines=lines)
    panel = as_panel(records, lines=lines, unusable="keep")  # score() gives unusable rows a status
    if len(panel) == 0:
        raise ContractError("no household records")
    y = select_year(panel, year=year, current=False).year  # the scored year, as score() chooses it
    spec = load_shock(shock)
    shocked, info = apply_shock(panel, spec, year=y, seed=seed)
    kw = dict(year=y, reasons=reasons, tier_cutoffs=tier_cutoffs)
    before = score(panel, model, **kw).set_index("household_id")
    after = score(shocked, model, **kw).set_index("household_id")
    after = after.reindex(before.index)
    hh = before[["county_code", "township_code", "village_code"]].copy()
    steps = info.set_index("household_id")["steps"]
    hh["affected"] = hh.index.isin(steps.index)
    hh["shock_steps"] = pd.Series(hh.index.map(steps), index=hh.index, dtype="str")
    hh["risk_before"] = before["risk_score"]
    hh["risk_after"] = after["risk_score"]
    hh["delta"] = hh["risk_after"] - hh["risk_before"]
    hh["tier_before"] = before["risk_tier"]
    hh["tier_after"] = after["risk_tier"]
    order = {"低": 0, "中": 1, "高": 2}
    hh["tier_rose"] = (hh["tier_after"].map(order) > hh["tier_before"].map(order)).fillna(False).astype(bool)
    hh["main_risk_type_before"] = before["main_risk_type"]
    hh["main_risk_type_after"] = after["main_risk_type"]
    hh["status"] = before["status"]
    hh = hh.reset_index().sort_values(["risk_after", "household_id"], ascending=[False, True], na_position="last",
                                      kind="mergesort").reset_index(drop=True)

    exp = expected_relapses(hh["risk_before"].to_numpy(), hh["risk_after"].to_numpy(), n_draws=n_draws, seed=seed)
    hi_b, hi_a = hh["tier_before"].eq("高"), hh["tier_after"].eq("高")
    town = hh.assign(high_before=hi_b, high_after=hi_a).groupby("township_code", dropna=False).agg(
        county_code=("county_code", "first"), households=("household_id", "size"), affected=("affected", "sum"),
        expected_before=("risk_before", "sum"), expected_after=("risk_after", "sum"),
        high_before=("high_before", "sum"), high_after=("high_after", "sum"), tier_rose=("tier_rose", "sum"))
    town["expected_increase"] = town["expected_after"] - town["expected_before"]
    town = town.reset_index().sort_values("expected_increase", ascending=False, kind="mergesort").reset_index(drop=True)
    rt = pd.concat([hh["main_risk_type_before"].value_counts().rename("before"),
                    hh["main_risk_type_after"].value_counts().rename("after")], axis=1).fillna(0).astype(int)
    rt["change"] = rt["after"] - rt["before"]
    rt = rt.rename_axis("main_risk_type").reset_index().sort_values("after", ascending=False, kind="mergesort").reset_index(drop=True)

    e = exp
    top_towns = town.head(3)
    lines_out = [
        f"情景 {spec['name']}（{y}年记录）: {int(hh['affected'].sum())} / {len(hh)} 户受冲击"
        + (f" — {spec['description']}" if spec["description"] else ""),
        f"预计返贫/致贫户数 (expected relapses): 冲击前 {e.loc['before', 'expected']:.1f} "
        f"[{e.loc['before', 'lo']:.0f}, {e.loc['before', 'hi']:.0f}] → 冲击后 {e.loc['after', 'expected']:.1f} "
        f"[{e.loc['after', 'lo']:.0f}, {e.loc['after', 'hi']:.0f}]; 增加 {e.loc['increase', 'expected']:.1f} "
        f"[{e.loc['increase', 'lo']:.0f}, {e.loc['increase', 'hi']:.0f}] (95 % simulated interval, {n_draws} draws)",
        f"风险等级上升 (tier rose): {int(hh['tier_rose'].sum())} 户; 高风险户 {int(hi_b.sum())} → {int(hi_a.sum())}",
        "增幅最大的乡镇 (townships with the largest increase): " + "; ".join(
            f"{r.township_code} +{r.expected_increase:.1f}" for r in top_towns.itertuples()),
    ]
    # A shock only takes income or adds hardship, so a falling score is the model's
    # extrapolation (e.g. a profile it has rarely seen), not a finding: say so.
    lowered = hh["affected"] & (hh["delta"] < -LOWERED_TOLERANCE)
    if lowered.any():
        lines_out.append(
            f"注意 (caution): {int(lowered.sum())} 户受冲击后模型风险反而下降超过 {LOWERED_TOLERANCE:.2f}"
            f"（最多 {-hh.loc[lowered, 'delta'].min():.2f}）——模型对此类变化不单调，请结合实际判断 "
            "(the model's response is not monotone for these households; see docs/scenarios.md)")
    return ScenarioResult(households=hh, by_township=town, by_risk_type=rt, expected=exp, summary="\n".join(lines_out),
                          shock=spec, year=y, settings={"n_draws": n_draws, "seed": seed, "reasons": reasons,
                                                        "n_lowered": int(lowered.sum()),
                                                        "model": dict(getattr(model, "metadata", {}) or {}).get("label")})
