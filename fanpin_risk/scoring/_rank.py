"""Ranking, budgets and tiers: one step shared by :func:`fanpin_risk.scoring.score` and the Dask scorer.

Ranks are deterministic (probability, then raw score, then household id), a
budget is a count or a share of the scored households, overall or per unit
(``quota_by``), and tiers are 高 inside the budget (or above a cut-off when no
budget is given), 中 above the lower cut-off, 低 otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from fanpin_risk.errors import ContractError

__all__ = ["TIERS", "TIER_CUTOFFS", "rank_order", "in_budget_ranked", "budget_mask", "assign_tiers"]

#: Tier labels, highest first.
TIERS = ("高", "中", "低")

#: Probability cut-offs of the tiers when no budget is given: 高 ≥ 0.30, 中 ≥ 0.10, else 低.
TIER_CUTOFFS: dict[str, float] = {"高": 0.30, "中": 0.10}


def rank_order(p: np.ndarray, r: np.ndarray, ids: pd.Series, slots: np.ndarray) -> np.ndarray:
    """Order of rows by probability, then raw score (both descending), then household id.

    Exact ties of both scores are rare, so ids are compared only within tied runs.
    """
    o = np.lexsort((-r, -p))
    ps, rs = p[o], r[o]
    tie = np.r_[False, (ps[1:] == ps[:-1]) & (rs[1:] == rs[:-1])]
    if tie.any():
        member = np.flatnonzero(tie | np.r_[tie[1:], False])
        run = np.cumsum(~tie)[member]
        # the ids' own sort (code-point order, as Python compares str), then by run
        id_rank = np.empty(len(member), dtype=np.int64)
        id_rank[ids.take(slots[o[member]]).reset_index(drop=True).argsort(kind="stable").to_numpy()] = np.arange(len(member))
        o[member] = o[member[np.lexsort((id_rank, run))]]
    return o


def in_budget_ranked(units: np.ndarray | None, n: int, budget: int | float | None) -> np.ndarray:
    """In-budget flags of rows already in rank order (see :func:`budget_mask`)."""
    if budget is None or n == 0:
        return np.zeros(n, dtype=bool)
    b = float(budget)
    if isinstance(budget, (bool, np.bool_)) or b <= 0 or (b >= 1 and b != int(b)):
        raise ContractError(f"budget must be a count ≥ 1 or a share in (0, 1), got {budget!r}")
    if units is None:
        k = int(b) if b >= 1 else max(1, math.ceil(b * n - 1e-9))
        return np.arange(1, n + 1) <= k
    share = b / n if b >= 1 else b
    u = pd.Series(units, dtype="str").fillna("(未知)")
    code = pd.factorize(u)[0]
    s = np.argsort(code, kind="stable")  # rank order kept within each unit
    cs = code[s]
    first = np.r_[True, cs[1:] != cs[:-1]]
    within = np.empty(n, dtype=np.int64)
    within[s] = np.arange(n) - np.maximum.accumulate(np.where(first, np.arange(n), 0)) + 1
    size = np.bincount(code)
    k_u = np.maximum(1, np.floor(share * size + 0.5).astype(np.int64))
    return within <= k_u[code]


def budget_mask(order_rank: pd.Series, units: pd.Series | None, budget: int | float | None) -> pd.Series:
    """In-budget flag from ranks (1 = first), overall or per unit.

    ``budget`` ≥ 1 (an int) is a number of households; 0 < budget < 1 a share.
    With ``units``, each unit gets ``max(1, round(share × n_unit))`` households
    (a count budget is first turned into the share budget / n).
    """
    n = len(order_rank)
    o = np.argsort(order_rank.to_numpy(dtype="float64"), kind="stable")
    u = None if units is None else units.reindex(order_rank.index).to_numpy(dtype=object)[o]
    flags = np.zeros(n, dtype=bool)
    flags[o] = in_budget_ranked(u, n, budget)
    return pd.Series(flags, index=order_rank.index, dtype="boolean")


def assign_tiers(proba: np.ndarray, in_budget: np.ndarray, budget, cutoffs: dict[str, float]) -> np.ndarray:
    """Index into :data:`TIERS` of scored rows: 高 inside the budget (≥ the 高 cut-off without one), 中 ≥ the 中 cut-off.

    Examples
    --------
    >>> import numpy as np
    >>> assign_tiers(np.array([0.5, 0.2, 0.01]), np.zeros(3, bool), None, TIER_CUTOFFS).tolist()
    [0, 1, 2]
    """
    t = np.where(proba >= cutoffs["中"], 1, 2)
    t[(proba >= cutoffs["高"]) if budget is None else in_budget] = 0
    return t
