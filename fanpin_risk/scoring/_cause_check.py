"""How often the named main risk type is the household's true cause, where the truth is known (simulated panels).

:func:`fanpin_risk.simulate.simulate` with ``return_causes=True`` gives, per
household-year, how much the next-year relapse probability falls when each
cause is removed (the cause record). Among the households of a ranked list that
are listed (in the budget) and whose true main cause *matters* (removing it
lowers the probability by at least ``min_drop``), :func:`cause_accuracy` counts
how often the named main type is that cause, how often it is among the first
two named types, and how often 其他 is named (over all listed households).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fanpin_risk.errors import ContractError

__all__ = ["CauseAccuracy", "cause_accuracy", "named_types", "CAUSE_MIN_DROP"]

#: Default of ``min_drop``: a cause matters when removing it lowers the next-year probability by ≥ 0.05
#: (the simulator's ``CAUSE_MIN_DROP``).
CAUSE_MIN_DROP = 0.05


@dataclass
class CauseAccuracy:
    """The named main type against the true main cause.

    Attributes
    ----------
    summary : dict
        ``listed``, ``with_cause`` (listed households whose true cause matters),
        ``main_is_true``, ``true_in_first_two`` (shares of ``with_cause``) and
        ``other_named`` (share of ``listed`` named 其他).
    per_cause : DataFrame
        One row per true main cause: ``households``, ``main_is_true``, ``true_in_first_two``.
    confusion : DataFrame
        Rows: true main cause; columns: named main type ("(无)" when none); counts.
    """

    summary: dict
    per_cause: pd.DataFrame
    confusion: pd.DataFrame


def named_types(text) -> list[str]:
    """The specific risk types of a ``risk_type_contributions`` cell, in its order (largest first).

    Examples
    --------
    >>> named_types("因务工就业不稳 12.3个百分点；缺劳动力 4.0个百分点；其他 8.1个百分点")
    ['因务工就业不稳', '缺劳动力']
    """
    if not isinstance(text, str):
        return []
    words = (w.strip().split(" ")[0] for w in text.split("；") if w.strip())
    return [w for w in words if w and w != "其他"]


def cause_accuracy(ranked: pd.DataFrame, causes: pd.DataFrame, *, min_drop: float = CAUSE_MIN_DROP) -> CauseAccuracy:
    """Compare the reasons of a ranked list with the simulator's cause record of the same year.

    Parameters
    ----------
    ranked : DataFrame
        :func:`fanpin_risk.score` output with reasons for the listed households
        (``household_id``, ``in_budget``, ``main_risk_type``, ``risk_type_contributions``).
    causes : DataFrame
        The cause record (``household_id``, ``main_cause``, ``max_drop``; one year).
    min_drop : float, default 0.05

    Returns
    -------
    CauseAccuracy

    Examples
    --------
    >>> import pandas as pd
    >>> ranked = pd.DataFrame({"household_id": ["a", "b", "c"], "in_budget": [True, True, False],
    ...                        "main_risk_type": ["因病", "其他", None],
    ...                        "risk_type_contributions": ["因病 9个百分点；缺劳动力 3个百分点", "其他 5个百分点", None]})
    >>> causes = pd.DataFrame({"household_id": ["a", "b", "c"], "main_cause": ["缺劳动力", "因病", "因病"],
    ...                        "max_drop": [0.2, 0.1, 0.3]})
    >>> r = cause_accuracy(ranked, causes)
    >>> r.summary["main_is_true"], r.summary["true_in_first_two"], r.summary["other_named"]
    (0.0, 0.5, 0.5)
    """
    need_r = {"household_id", "in_budget", "main_risk_type", "risk_type_contributions"}
    need_c = {"household_id", "main_cause", "max_drop"}
    if need_r - set(ranked.columns) or need_c - set(causes.columns):
        raise ContractError(f"cause_accuracy needs ranked columns {sorted(need_r)} and cause-record columns "
                            f"{sorted(need_c)} (simulate(..., return_causes=True))")
    if "year" in causes.columns and causes["year"].nunique() > 1:
        raise ContractError("cause_accuracy compares one year: select the cause record of the scored year")
    listed = ranked[ranked["in_budget"].fillna(False).astype(bool)]
    listed = listed.assign(household_id=listed["household_id"].astype("str")).set_index("household_id")
    truth = causes.assign(household_id=causes["household_id"].astype("str")).set_index("household_id")
    both = listed[["main_risk_type", "risk_type_contributions"]].join(truth[["main_cause", "max_drop"]], how="inner")
    m = both[both["max_drop"] >= min_drop]
    main = (m["main_risk_type"].astype("str") == m["main_cause"].astype("str")).to_numpy(dtype=bool)
    two = np.array([c in named_types(t)[:2] for c, t in zip(m["main_cause"], m["risk_type_contributions"])], dtype=bool)
    share = (lambda x: float(np.mean(x)) if len(x) else float("nan"))
    summary = {"listed": int(len(both)), "with_cause": int(len(m)), "main_is_true": share(main),
               "true_in_first_two": share(two),
               "other_named": share((both["main_risk_type"].astype("str") == "其他").to_numpy())}
    t = pd.DataFrame({"cause": m["main_cause"].astype("str").to_numpy(), "main": main, "two": two})
    g = t.groupby("cause", sort=True)
    per = pd.DataFrame({"households": g.size(), "main_is_true": g["main"].mean(),
                        "true_in_first_two": g["two"].mean()}).reset_index()
    conf = pd.crosstab(m["main_cause"].astype("str"), m["main_risk_type"].astype("str").replace("nan", "(无)")
                       .fillna("(无)")) if len(m) else pd.DataFrame()
    return CauseAccuracy(summary, per, conf)
