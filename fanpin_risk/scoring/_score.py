"""Score a monitoring panel: a ranked list of households with reasons and measures.

:func:`score` turns household-year records (history included) into one row per
household for the scored year (the latest, or ``year=``): a calibrated risk of
falling (back) into poverty next year, a priority rank, a tier, whether the
household is inside the visit budget, the three factors pushing its risk up
most in plain words, its main risk type in the policy's list and suggested
assistance measures. No household is dropped: those without a record in the
scored year, or whose record cannot be scored, come back with ``status`` and
``status_reason``. See ``docs/scoring.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from fanpin_risk import contract
from fanpin_risk._order import household_order
from fanpin_risk._text import encode_text
from fanpin_risk.errors import ContractError, ModelError
from fanpin_risk.explain import (
    NOTES,
    SHOCK_TYPES,
    CauseExplainer,
    attribute_causes,
    cause_main_types,
    format_cause_parts,
    typical_wage_per_worker,
    attribute_to_shocks,
    contributions,
    failing_guarantee_types,
    feature_frame,
    format_risk_type_contributions,
    group_by_risk_type,
    load_measures_map,
    main_risk_types,
    suggest_measures,
    top_factor_words,
)
from fanpin_risk.models import resolve_model
from fanpin_risk.panel import PanelFeatures, YearSelection, next_year_lines, select_year

from ._rank import TIER_CUTOFFS, TIERS, assign_tiers, in_budget_ranked, rank_order

#: Output columns in order, with their dtypes (stable API; ``data_schema/output_columns.csv``).
SCORE_COLUMNS: dict[str, str] = contract.output_dtypes("ranked_list")

#: Chinese headers of the output (``headers="zh"``).
SCORE_COLUMNS_ZH: dict[str, str] = contract.output_headers("ranked_list")

#: Status codes and their Chinese form (used with ``headers="zh"``; code list ``score_status``).
STATUS_ZH: dict[str, str] = {en: zh for zh, en in contract.code_names("score_status").items()}

#: Above this many scored rows the default ``reasons`` is "budget" instead of "all".
REASONS_ALL_MAX = 50_000

_UNIT_COLS = ("county_code", "township_code", "village_code")

#: Rows per feature block: the block (rows × ~80 float64) stays small enough to be
#: reused by the allocator; fresh gigabyte arrays cost more in page faults than the
#: arithmetic on them (about 1.4 s per GB on the benchmark machine).
_BLOCK_ROWS = 32_768

#: Reason columns, filled only for the households explained.
_TEXT_COLS = ("main_risk_type", "top_factors", "risk_type_contributions", "suggested_measures", "reason_note")

#: ``reason_note`` of households that were not explained, by case.
NOT_EXPLAINED = {"budget": "未分析原因：不在走访名单内", "none": "未分析原因", "unscored": "未评分，见状态说明"}

#: Status labels by code (0 scored, 1 unscorable, 2 not in the scored year).
_STATUSES = ("scored", "unscorable", "not_in_year")


# --------------------------------------------------------------------------- main
def score(
    records: Any,
    model: Any = None,
    *,
    year: int | None = None,
    budget: int | float | None = None,
    quota_by: Literal["township_code", "village_code", "county_code"] | None = None,
    reasons: Literal["budget", "all", "none"] | None = None,
    lines=None,
    headers: Literal["en", "zh"] = "en",
    measures: str | Path | pd.DataFrame | None = None,
    tier_cutoffs: dict[str, float] | None = None,
    attribution: Literal["causes", "shap"] = "causes",
    attribute_shocks: bool = True,
    keep_raw: bool = False,
    block_rows: int | None = None,
    listed=None, exposure_counts=None,
    wage_per_worker: float | None = None, top_factors: bool = True,
) -> pd.DataFrame:
    """Score the latest (or a given) year: one row per household, ordered by priority.

    Parameters
    ----------
    records : DataFrame or path
        Household-year records in the contract (Chinese or English headers; a
        path is read with :func:`fanpin_risk.read_panel`). Earlier years are used
        as history for the features.
    model : RiskModel, path or None
        None loads the packaged default model from ``models/default``.
    year : int, optional
        Year to score; default the latest year in ``records``.
    budget : int or float, optional
        Households to visit: a count (≥ 1) or a share (0–1) of scored households.
    quota_by : {"township_code", "village_code", "county_code"}, optional
        Give each unit its own top-k: the share of its scored households (a count budget becomes a share), at least one.
    reasons : {"all", "budget", "none"}, optional
        Which households get ``top_factors``, ``main_risk_type``,
        ``risk_type_contributions`` and ``suggested_measures``: all scored
        households, only those in the budget (tier 高 when no budget), or none.
        Default "all" up to 50,000 scored households, else "budget".
    lines : monitoring-line table, optional
        Passed to the contract's line lookup for rows without ``monitoring_line``.
    headers : {"en", "zh"}
        English column names (default) or the Chinese headers of :data:`SCORE_COLUMNS_ZH`
        (status values then also in Chinese).
    measures : path or DataFrame, optional
        Own risk type × labour → measures table (default ``data_schema/measures_map.csv``).
    tier_cutoffs : dict, optional
        Probability cut-offs of 高 and 中 (default :data:`TIER_CUTOFFS`).
    attribution : {"causes", "shap"}, default "causes"
        How the risk is split over the risk types. "causes": the model is asked
        what the risk would be without each recorded cause
        (:class:`fanpin_risk.explain.CauseExplainer`); ``risk_type_contributions``
        gives the parts in percentage points, adding up to the risk. "shap": the
        earlier method, TreeSHAP contributions summed per type in log-odds.
    attribute_shocks : bool, default True
        With ``attribution="shap"`` only: give a positive 其他 (income-level) part
        to the risk types of the shocks recorded this year (see
        :func:`fanpin_risk.explain.attribute_to_shocks`).
    keep_raw : bool, default False
        Also return the raw model output as ``_raw_score`` (the Dask scorer
        re-ranks partitions globally with it).
    block_rows : int, optional
        Households per feature block (default 32,768): smaller use less memory; the result is the same.
    top_factors : bool, default True
        False leaves ``top_factors`` empty; with "causes" it skips TreeSHAP (a quarter of the reasons' time).
    listed, wage_per_worker, exposure_counts : optional
        Set by the Dask scorer for the whole panel: the households on the visit list (default: in the budget,
        else tier 高), the counterfactual wage (default: the year's median) and the shocks' county counts.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SCORE_COLUMNS` in order and dtype. Sorted by
        ``priority_rank`` (scored households, rank 1 = highest risk, ties broken
        by the raw score then ``household_id``), then households without a score
        by ``household_id``. ``.attrs`` holds ``year``, ``budget``, ``quota_by``,
        ``n_scored``, ``tier_cutoffs``, the model's metadata and the rows set
        aside because they have no household id or no usable year
        (``rows_left_out``, and by reason ``rows_left_out_by_reason``): a
        household whose only rows they are comes back ``unscorable`` with
        ``status_reason`` 年度缺失 (no usable year); the others are scored as if
        those rows were not there.

    Notes
    -----
    ``fanpin_risk.score`` is :func:`fanpin_risk.api.score`: this function, and
    Dask DataFrames scored by partition.

    Examples
    --------
    >>> import fanpin_risk as fr
    >>> from fanpin_risk.scoring import score
    >>> ranked = score(fr.simulate(n_households=200, seed=1), budget=20, headers="zh")
    >>> int(ranked["纳入走访名单"].sum()), ranked["优先排序"].iloc[0]
    (20, np.int64(1))
    """
    model = resolve_model(model, lines=lines)
    cut = dict(TIER_CUTOFFS if tier_cutoffs is None else tier_cutoffs)
    if quota_by and quota_by not in _UNIT_COLS:
        raise ContractError(f"quota_by must be one of {_UNIT_COLS}, got {quota_by!r}")
    _check_choices(reasons, attribution)
    sel = select_year(records, year=year, lines=lines, current=False)
    book = _Book.start(sel)
    blocks = _FeatureBlocks(model, sel.history, block_rows) if len(book.rows) else None
    _predict(model, blocks, book)
    _rank_and_budget(book, book.places, budget, quota_by, cut)
    mode = reasons or ("all" if book.n_scored <= REASONS_ALL_MAX else "budget")
    want = _explained(book, mode, budget)
    listed, wage_per_worker = _listed_and_wage(book, sel, want, budget, listed, wage_per_worker)
    text = _reasons(model, blocks, book, sel.panel, want, listed, measures=measures, attribution=attribution,
                    attribute_shocks=attribute_shocks, wage_per_worker=wage_per_worker, top_factors=top_factors,
                    exposure_counts=exposure_counts)
    out = _columns(book, book.places, want, text, keep_raw=keep_raw, unexplained=NOT_EXPLAINED.get(mode))
    out.attrs.update({
        "year": sel.year, "budget": budget, "quota_by": quota_by, "n_scored": book.n_scored, "n_households": len(out),
        "tier_cutoffs": cut, "reasons": mode, "attribution": attribution, **book.left_out_attrs,
        **_model_attrs(model, sel),
    })
    return to_headers(out, headers)


def _model_attrs(model: Any, sel) -> dict:
    """The model's metadata and the next-year lines a line-ahead model judged the scored year against (and where
    each came from: the reader of the list needs to know which line "下年监测标准" is)."""
    meta = getattr(model, "metadata", None)
    feats = getattr(model, "features_", None)
    ahead = isinstance(feats, PanelFeatures) and feats.line_ahead
    return {"model": dict(meta or {}) if isinstance(meta, dict) else {},
            "next_lines": next_year_lines(feats, sel.history, sel.year).to_dict("records") if ahead else []}


def _check_choices(reasons, attribution) -> None:
    if reasons not in (None, "all", "budget", "none"):
        raise ContractError(f"reasons must be 'all', 'budget' or 'none', got {reasons!r}")
    if attribution not in ("causes", "shap"):
        raise ContractError(f"attribution must be 'causes' or 'shap', got {attribution!r}")


def _listed_and_wage(book: "_Book", sel: YearSelection, want: np.ndarray, budget, listed, wage_per_worker):
    """Which explained households are on the visit list, and the counterfactual worker's wage."""
    if listed is not None:
        on_list = book.ids.take(want).astype("str").isin(set(map(str, listed))).to_numpy()
    else:
        on_list = book.in_budget[want] if budget is not None else book.tier[want] == 0
    if wage_per_worker is None and len(book.rows):
        wage_per_worker = typical_wage_per_worker(sel.history.loc[book.rows])
    return on_list, wage_per_worker


@dataclass
class _Book:
    """Positional bookkeeping of one score() call: one slot per household, in the panel's grouping order.

    Households whose every row was set aside by :func:`~fanpin_risk.panel.select_year`
    (no usable year) come last, unscorable; ``places`` holds the place columns of the
    panel's rows followed by one row of each of them (``last_pos`` points into it).
    """

    year: int
    gid: np.ndarray  # household of each panel row
    last_pos: np.ndarray  # latest row of each household (a row of ``places``)
    g_cur: np.ndarray  # row in the scored year (−1: none)
    rows: np.ndarray  # scored-year rows to score
    status: np.ndarray  # 0 scored, 1 unscorable, 2 not in the year
    reason: np.ndarray
    places: pd.DataFrame = None  # the panel, or its place columns plus the set-aside households' rows
    left_out_attrs: dict = field(default_factory=dict)  # rows set aside, for score()'s attrs
    ids: pd.Series = None
    proba: np.ndarray = None
    raw: np.ndarray = None
    ranked: np.ndarray = None
    rank: np.ndarray = None
    in_budget: np.ndarray = None
    tier: np.ndarray = None
    has_labor: Any = None
    unit_src: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.last_pos)

    @property
    def scored(self) -> np.ndarray:
        return np.flatnonzero(self.status == 0)

    @property
    def n_scored(self) -> int:
        return int((self.status == 0).sum())

    @classmethod
    def start(cls, sel: YearSelection) -> "_Book":
        """Households, their rows and the statuses known before predicting."""
        panel, y = sel.panel, sel.year
        years = panel["year"].to_numpy(dtype="int64")
        gid, last_pos, g_cur = _households(panel, years, y)
        nh = len(last_pos)
        status = np.full(nh, 2, dtype=np.int8)
        reason = np.full(nh, np.nan, dtype=object)
        absent = np.flatnonzero(g_cur < 0)
        reason[absent] = [f"{y}年无记录 (no record in {y}; latest record {int(v)})" for v in years[last_pos[absent]]]
        bad = sel.unscorable
        g_bad = gid[bad.index.to_numpy(dtype=np.int64)]
        status[g_bad] = 1
        reason[g_bad] = bad.to_numpy(dtype=object)
        book = cls(year=y, gid=gid, last_pos=last_pos, g_cur=g_cur, rows=np.asarray(sel.scored_rows, dtype=np.int64),
                   status=status, reason=reason, places=panel)
        book.ids = panel["household_id"].take(last_pos).reset_index(drop=True)
        book._add_left_out(sel.left_out)
        book.proba, book.raw = np.full(book.n, np.nan), np.full(book.n, np.nan)
        return book

    def _add_left_out(self, left: pd.DataFrame) -> None:
        """Count the set-aside rows; a household with no other row gets a slot, unscorable with the rows' reason.

        Rows without a household id name no household: they are only counted
        (``rows_left_out``), as the read report lists them by row.
        """
        by_reason = {str(k): int(v) for k, v in left["reason"].value_counts(sort=False).items()}
        self.left_out_attrs = {"rows_left_out": int(len(left)), "rows_left_out_by_reason": by_reason}
        if not len(left):
            return
        left = left.assign(household_id=left["household_id"].astype("str"))
        ids = left["household_id"]
        named = (ids.notna() & ids.str.strip().ne("")).to_numpy(dtype=bool)
        new = left[named & ~ids.isin(set(self.ids.astype("str"))).to_numpy()]
        new = new.drop_duplicates("household_id", keep="last")
        if not len(new):
            return
        cols = [c for c in (*_UNIT_COLS, "n_labor") if c in self.places.columns]
        self.places = pd.concat([self.places[cols], new[cols]], ignore_index=True)
        k = len(new)
        self.last_pos = np.r_[self.last_pos, np.arange(len(self.places) - k, len(self.places))]
        self.g_cur = np.r_[self.g_cur, np.full(k, -1, dtype=np.int64)]
        self.status = np.r_[self.status, np.ones(k, dtype=np.int8)]
        self.reason = np.r_[self.reason, new["reason"].to_numpy(dtype=object)]
        self.ids = pd.concat([self.ids.astype("str"), new["household_id"]], ignore_index=True)


def _predict(model: Any, blocks: "_FeatureBlocks | None", book: _Book) -> None:
    """Probabilities and raw scores of the rows to score, block by block; non-finite outputs are unscorable."""
    rows = book.rows
    if not len(rows):
        return
    r, p = np.empty(len(rows)), np.empty(len(rows))
    for sl, Xb in blocks(rows):
        r[sl] = np.asarray(model.raw_from_features(Xb), dtype="float64")
        if callable(getattr(model, "proba_from_raw", None)):  # the trees are walked once
            p[sl] = np.asarray(model.proba_from_raw(r[sl]), dtype="float64")
        else:
            p[sl] = np.asarray(model.proba_from_features(Xb), dtype="float64")
    g_rows = book.gid[rows]
    finite = np.isfinite(p) & np.isfinite(r)
    gf = g_rows[finite]
    book.proba[gf], book.raw[gf] = p[finite], r[finite]
    book.status[gf] = 0
    book.reason[gf] = np.nan
    book.status[g_rows[~finite]] = 1
    book.reason[g_rows[~finite]] = "模型输出无效 (model returned a non-finite score)"


def _rank_and_budget(book: _Book, panel: pd.DataFrame, budget, quota_by: str | None, cut: dict) -> None:
    """Deterministic ranks (probability, raw score, household id), places, the budget, tiers and labour."""
    nh, sc = book.n, book.scored
    book.ranked = sc[rank_order(book.proba[sc], book.raw[sc], book.ids, sc)]
    book.rank = np.zeros(nh, dtype=np.int64)
    book.rank[book.ranked] = np.arange(1, len(sc) + 1)
    # places: the scored-year record's, else the latest record's
    for c in _UNIT_COLS:
        if c in panel.columns:
            known = panel[c].notna().to_numpy()
            has = book.g_cur >= 0
            has[has] = known[book.g_cur[has]]
            book.unit_src[c] = np.where(has, book.g_cur, book.last_pos)
    book.in_budget = np.zeros(nh, dtype=bool)
    if len(sc):
        units = None
        if quota_by:
            units = (panel[quota_by].take(book.unit_src[quota_by][book.ranked]).to_numpy(dtype=object)
                     if quota_by in book.unit_src else np.full(len(sc), np.nan, dtype=object))
        book.in_budget[book.ranked] = in_budget_ranked(units, len(sc), budget)
    book.tier = np.full(nh, -1, dtype=np.int64)  # index into TIERS; −1 without a score
    book.tier[sc] = assign_tiers(book.proba[sc], book.in_budget[sc], budget, cut)
    # labour of the scored-year record (unknown when missing or no record)
    nl = np.full(nh, np.nan)
    if "n_labor" in panel.columns:
        has = book.g_cur >= 0
        nl[has] = panel["n_labor"].to_numpy(dtype="float64", na_value=np.nan)[book.g_cur[has]]
    book.has_labor = pd.arrays.BooleanArray(np.nan_to_num(nl) > 0, np.isnan(nl))


def _explained(book: _Book, mode: str, budget) -> np.ndarray:
    """Households that get reasons: all scored, those in the budget (tier 高 without one), or none."""
    sc = book.scored
    if not len(sc) or mode == "none":
        return sc[:0]
    if mode == "budget":
        return sc[book.in_budget[sc]] if budget is not None else sc[book.tier[sc] == 0]
    return sc


def _reasons(model: Any, blocks: "_FeatureBlocks | None", book: _Book, panel: pd.DataFrame, want: np.ndarray,
             listed: np.ndarray, *, measures=None, attribution: str = "causes",
             attribute_shocks: bool = True, wage_per_worker: float | None = None,
             top_factors: bool = True, exposure_counts=None) -> dict[str, np.ndarray]:
    """Reason columns of the households ``want``, block by block (contributions and text for a few thousand at a time)."""
    text = {c: np.full(len(want), np.nan, dtype=object) for c in _TEXT_COLS}
    if len(want):
        x_of_g = np.full(book.n, -1, dtype=np.int64)
        x_of_g[book.gid[book.rows]] = np.arange(len(book.rows))
        shocks = panel[[c for c in SHOCK_TYPES if c in panel.columns]].take(book.g_cur[want]).reset_index(drop=True)
        _reason_texts(model, blocks, book.rows[x_of_g[want]], shocks, book.has_labor[want], listed, text,
                      measures=measures, attribution=attribution, attribute_shocks=attribute_shocks,
                      wage_per_worker=wage_per_worker, top_factors=top_factors, exposure_counts=exposure_counts)
    return text


def _columns(book: _Book, panel: pd.DataFrame, want: np.ndarray, text: dict, *, keep_raw: bool,
             unexplained: str | None = None) -> pd.DataFrame:
    """The output frame: ranked households, then those without a score by id."""
    nh = book.n
    rest = np.flatnonzero(book.status != 0)
    if len(rest):
        rest = rest[np.argsort(book.ids.take(rest).to_numpy(dtype=object), kind="stable")]
    final = np.concatenate([book.ranked, rest])
    scored_f = book.status[final] == 0
    slot = np.full(nh, -1, dtype=np.int64)
    slot[want] = np.arange(len(want))
    slot_f = slot[final]
    has_reason = np.flatnonzero(pd.notna(book.reason))
    reason_slot = np.full(nh, -1, dtype=np.int64)
    reason_slot[has_reason] = np.arange(len(has_reason))
    cols = {
        "household_id": book.ids.array.take(final),
        "year": pd.array(np.full(nh, book.year), dtype="Int64"),
        **{c: _take_text(panel[c], book.unit_src[c][final]) if c in book.unit_src else _sparse_text(np.full(nh, -1), [])
           for c in _UNIT_COLS},
        "priority_rank": pd.arrays.IntegerArray(book.rank[final], ~scored_f),
        "risk_score": book.proba[final],
        "risk_tier": _labels(book.tier[final], TIERS),
        "in_budget": pd.array(book.in_budget[final], dtype="boolean"),
        **{c: _sparse_text(slot_f, v) for c, v in text.items() if c != "reason_note"},
        "reason_note": _notes(slot_f, text["reason_note"], scored_f, unexplained),
        "has_labor": book.has_labor[final],
        "status": _labels(book.status[final], _STATUSES),
        "status_reason": _sparse_text(reason_slot[final], book.reason[has_reason]),
    }
    if keep_raw:
        cols["_raw_score"] = book.raw[final]  # kept for fanpin_risk.scale, which re-ranks partitions globally
    return pd.DataFrame({c: pd.Series(v, dtype=SCORE_COLUMNS.get(c, "float64"), copy=False) for c, v in cols.items()})


def _notes(slots: np.ndarray, notes: np.ndarray, scored: np.ndarray, unexplained: str | None) -> pd.api.extensions.ExtensionArray:
    """``reason_note``: the note of each explained household, else why its reason cells are empty."""
    cases = np.array([NOT_EXPLAINED["unscored"], unexplained or NOT_EXPLAINED["none"]], dtype=object)
    out = np.where(scored, cases[1], cases[0]).astype(object)
    has = slots >= 0
    if has.any():
        out[has] = notes[slots[has]]
    return pd.array(out, dtype="str")


def _households(panel: pd.DataFrame, years: np.ndarray, y: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positional household bookkeeping: household of each row, its latest row, its row in year ``y`` (−1: none).

    Households are numbered in the panel's grouping order. Looking them up by
    their string ids instead cost ten times the model's own prediction at a
    million households.
    """
    n = len(panel)
    order, new_group = household_order(panel["household_id"], years)
    srt = np.arange(n) if order is None else order
    starts = np.flatnonzero(new_group)
    gid = np.empty(n, dtype=np.int64)
    gid[srt] = np.cumsum(new_group) - 1
    last_pos = srt[np.r_[starts[1:], n] - 1]
    cur_pos = np.flatnonzero(years == y)
    g_cur = np.full(len(starts), -1, dtype=np.int64)
    g_cur[gid[cur_pos]] = cur_pos
    return gid, last_pos, g_cur


def _reason_texts(model: Any, blocks: "_FeatureBlocks", rows: np.ndarray, records: pd.DataFrame,
                  has_labor: pd.api.extensions.ExtensionArray, listed: np.ndarray, text: dict[str, np.ndarray], *,
                  measures=None, attribution: str = "causes", attribute_shocks: bool = True,
                  wage_per_worker: float | None = None, top_factors: bool = True, exposure_counts=None) -> None:
    """Fill ``text`` (arrays aligned with ``rows``) block by block: contributions, risk types, words, measures.

    ``records`` holds the scored-year shock columns of ``rows``, in the same order;
    ``listed`` which of them are on the visit list (they always get a risk type).
    """
    mm = load_measures_map(measures)
    shock_cols = [c for c in SHOCK_TYPES if c in records.columns]
    causes = (CauseExplainer(model, blocks.history, plan=getattr(blocks, "plan", None), wage_per_worker=wage_per_worker,
                             exposure_counts=exposure_counts)
              if attribution == "causes" else None)
    pos = blocks.positions(rows) if causes is not None else None
    for sl, Xs in blocks(rows):
        # TreeSHAP only where it is read: the words of top_factors, or the "shap" attribution
        contrib = contributions(model, None, Xs)[1] if top_factors or causes is None else None
        if causes is not None:
            parts = attribute_causes(causes.effects(pos[sl]))
            ratio = Xs["ratio_to_line"].to_numpy() if "ratio_to_line" in Xs.columns else None
            main, types, note = cause_main_types(parts, listed[sl], ratio_to_line=ratio)
            text["risk_type_contributions"][sl] = format_cause_parts(parts).to_numpy(dtype=object)
            text["reason_note"][sl] = note.to_numpy(dtype=object)
        else:
            grouped = group_by_risk_type(contrib, X=Xs)
            if attribute_shocks:
                grouped = attribute_to_shocks(grouped, records[shock_cols].iloc[sl].reset_index(drop=True))
            main, types = main_risk_types(grouped)
            text["risk_type_contributions"][sl] = format_risk_type_contributions(grouped).to_numpy(dtype=object)
            none = main.isna().to_numpy()
            note = np.full(len(main), np.nan, dtype=object)
            note[none] = NOTES["no_factor"]
            text["reason_note"][sl] = note
        text["main_risk_type"][sl] = main.to_numpy(dtype=object)
        if contrib is not None:
            text["top_factors"][sl] = top_factor_words(contrib, Xs, model=model).to_numpy(dtype=object)
        # a failing guarantee (三保障 and drinking water) must be fixed whatever the main risk is
        failing = failing_guarantee_types(Xs)
        types = pd.Series([t + [g for g in f if g not in t] for t, f in zip(types, failing)], index=types.index, dtype=object)
        labour = pd.Series(has_labor[sl], index=types.index, dtype="boolean")
        text["suggested_measures"][sl] = suggest_measures(types, labour, mm).to_numpy(dtype=object)


class _FeatureBlocks:
    """Feature matrices of rows of ``history``, a block of rows at a time.

    The household grouping and the encoded text columns are worked out once and
    serve both the scoring pass and the reasons pass. A model with
    :class:`~fanpin_risk.panel.PanelFeatures` gets C-ordered blocks that the
    predictor reads without copying; any other model is transformed in one go.
    """

    def __init__(self, model: Any, history: pd.DataFrame, block_rows: int | None = None):
        self.model, self.history, self.block_rows = model, history, int(block_rows or _BLOCK_ROWS)
        feats = getattr(model, "features_", None)
        self.fast = isinstance(feats, PanelFeatures) and (
            list(getattr(model, "feature_names_", [])) == list(feats.get_feature_names_out()))
        if not self.fast:
            return
        # history is the canonical panel already (select_year): no second read
        self.H = history
        self.feats, self.names, self.plan = feats, list(feats.get_feature_names_out()), feats.plan(history)

    def positions(self, rows: np.ndarray) -> np.ndarray:
        """Positions (``iloc``) in the history of the row labels ``rows``."""
        if not self.fast:
            pos = self.history.index.get_indexer(rows)
            if (pos < 0).any():
                raise ModelError("rows to score are not in the history frame")
            return pos
        return self._positions(rows)

    def _positions(self, rows: np.ndarray) -> np.ndarray:
        index = self.H.index
        idx = index.to_numpy()
        pos = np.searchsorted(idx, rows) if index.is_monotonic_increasing else index.get_indexer(rows)
        if len(pos) and (pos.min() < 0 or pos.max() >= len(idx) or np.any(idx[pos] != rows)):
            raise ModelError("rows to score are not in the history frame")
        return pos

    def __call__(self, rows: np.ndarray, size: int | None = None):
        """Yield ``(slice into rows, DataFrame)`` blocks with a fresh RangeIndex."""
        if not self.fast:
            X = feature_frame(self.model, self.history).loc[rows]
            yield slice(0, len(rows)), X.reset_index(drop=True)
            return
        pos = self._positions(rows)
        size = int(size or self.block_rows)
        for i in range(0, len(rows), size):
            block = self.feats.matrix(self.H, pos[i:i + size], self.plan, order="C")
            yield slice(i, i + size), pd.DataFrame(block, columns=self.names, copy=False)


def _labels(codes: np.ndarray, labels) -> pd.api.extensions.ExtensionArray:
    """Codes (−1 = missing) → a ``str`` array through an Arrow dictionary (no Python string per row)."""
    d = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32), mask=codes < 0),
                                       pa.array(list(labels), pa.large_string()))
    return pd.array(d.cast(pa.large_string()), dtype="str")


def _take_text(s: pd.Series, pos: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``s`` at ``pos`` as a ``str`` array, through codes: a place column has few distinct
    values, and a random-order take of a long string column costs far more."""
    codes, vocab = encode_text(s)
    return _labels(codes[pos], sorted(vocab, key=vocab.get))


def _sparse_text(slots: np.ndarray, values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``values[slot]`` where slot ≥ 0, missing elsewhere, as a ``str`` array."""
    if len(values) == 0 or not (slots >= 0).any():
        return pd.array(pa.nulls(len(slots), pa.large_string()), dtype="str")
    return pd.array(values, dtype="str").take(slots, allow_fill=True)


def to_headers(scored: pd.DataFrame, headers: Literal["en", "zh"] = "zh") -> pd.DataFrame:
    """Switch a scored frame between English and Chinese headers (status values follow)."""
    if headers not in ("en", "zh"):
        raise ContractError(f"headers must be 'en' or 'zh', got {headers!r}")
    zh_to_en = {v: k for k, v in SCORE_COLUMNS_ZH.items()}
    is_zh = "户编号" in scored.columns
    if headers == "zh" and not is_zh:
        out = scored.rename(columns=SCORE_COLUMNS_ZH)
        out["评分状态"] = out["评分状态"].map(lambda s: STATUS_ZH.get(s, s)).astype("str")
        return out
    if headers == "en" and is_zh:
        out = scored.rename(columns=zh_to_en)
        back = {v: k for k, v in STATUS_ZH.items()}
        out["status"] = out["status"].map(lambda s: back.get(s, s)).astype("str")
        return out
    return scored
