"""Follow-up after risk elimination (风险消除后跟踪回访): the eliminated cohort and its re-entry label.

Policy asks that households whose risk was declared eliminated stay under
watch. This module holds the tools for that cohort.

The cohort ("eliminated") and its label ("reentry") are defined in
:mod:`fanpin_risk.panel` (:func:`~fanpin_risk.panel.reentry_labels`).

:func:`cohort_backtest` is the rolling-origin backtest of
:func:`fanpin_risk.evaluation.backtest` on this label (rows outside the cohort carry no
label, so training and testing use the cohort only); :func:`score_followup`
gives the ranked follow-up visit list of the cohort in the scored year.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from fanpin_risk import contract
from fanpin_risk.errors import ContractError
from fanpin_risk.evaluation import backtest
from fanpin_risk.models import resolve_model
from fanpin_risk.panel import COHORTS, as_panel, eliminated_cohort, select_year
from fanpin_risk.scoring import score, to_headers

from ._help import with_whole_context


def cohort_backtest(panel: Any, models=("rule", "scorecard", "lightgbm"), *, cohort: str = "eliminated",
                    label: str = "reentry", **kwargs):
    """Rolling-origin backtest on the eliminated cohort with the re-entry label.

    Parameters
    ----------
    panel : DataFrame or path
    models : sequence of model kinds
    cohort : {"eliminated"}
    label : {"reentry"}
    **kwargs
        Passed to :func:`fanpin_risk.evaluation.backtest` (``k_share``, ``n_boot``,
        ``log_to_mlflow``, ``progress``, ``first_test_year``, ...).

    Returns
    -------
    BacktestResult
        Per-year and pooled figures of the cohort (``settings["cohort"]`` is set).
    """
    if cohort not in COHORTS:
        raise ContractError(f"unknown cohort {cohort!r}; choose from {list(COHORTS)}")
    if label != "reentry":
        raise ContractError(f"the eliminated cohort is evaluated with label='reentry', got {label!r}")
    res = backtest(panel, models=models, label=label, **kwargs)
    res.settings["cohort"] = cohort
    return res


def score_followup(records: Any, model: Any = None, *, year: int | None = None, budget: int | float | None = None,
                   quota_by: str | None = None, reasons: str | None = None, headers: str = "en", lines=None) -> pd.DataFrame:
    """Ranked follow-up visit list (跟踪回访名单) of the households whose risk is eliminated.

    Parameters
    ----------
    records : DataFrame or path
        Household-year records with history.
    model : RiskModel, path or None
        Preferably a model trained on the re-entry label
        (``train(panel, label="reentry")``); None loads the packaged default
        model, whose "relapse" risk then ranks the cohort.
    year, budget, quota_by, reasons, headers, lines
        As for :func:`fanpin_risk.score`; the budget counts cohort households.

    Returns
    -------
    DataFrame
        The columns of :func:`fanpin_risk.score` for the cohort households of the
        scored year (rank 1 = most at risk of re-entry), plus ``elimination_month``
        and ``years_since_elimination``. ``.attrs["cohort"]`` = "eliminated".
    """
    model = resolve_model(model, lines=lines)
    panel = as_panel(records, lines=lines, unusable="keep")  # score() gives unusable rows a status
    yrs = panel["year"].astype("int64")
    y = int(yrs.max()) if year is None else int(year)
    cur = panel[yrs == y]
    coh = eliminated_cohort(cur)
    ids = set(cur.loc[coh, "household_id"].astype("str"))
    if not ids:
        raise ContractError(f"no household has risk_eliminated True in {y}; nothing to follow up")
    # the cohort is scored alone, with the village and county context of the whole panel (as score() sees it)
    sub = panel[panel["household_id"].astype("str").isin(ids)]
    sub = with_whole_context(model, sub, select_year(panel, year=y, current=False).history)
    out = score(sub, model, year=y, budget=budget, quota_by=quota_by, reasons=reasons, headers="en", lines=lines)
    em = cur.assign(household_id=cur["household_id"].astype("str")).set_index("household_id")
    em = em["elimination_month"].astype("Int64") if "elimination_month" in em.columns else pd.Series(pd.NA, index=em.index, dtype="Int64")
    out["elimination_month"] = out["household_id"].map(em).astype("Int64")
    out["years_since_elimination"] = (y - out["elimination_month"] // 100).astype("Int64")
    out.attrs["cohort"] = "eliminated"
    if headers == "zh":
        out = to_headers(out, "zh").rename(columns=contract.output_headers("followup_extra"))
    return out
