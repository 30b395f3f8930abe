"""Assumed assistance amounts of the assistance-aware label, as data (``data_schema/pre_transfer.csv``).

The contract records *whether* a household gets dibao (低保), tekun (特困供养) or a
public-welfare job (公益性岗位), not how much: the money sits inside
``income_transfer`` (dibao, tekun) and ``income_wage`` (public-welfare pay).
The ``"pre_transfer"`` label of :func:`fanpin_risk.panel.make_labels` takes it out
again with the amounts of this table. Each row is one assistance item:

``item``
    name of the item (``dibao``, ``tekun``, ``public_welfare_job``);
``flag_field``
    boolean contract field saying the household receives it;
``amount_field``
    optional column holding the household's actual yearly amount; not in the
    contract, used only where a panel carries it (it overrides ``amount``);
``amount``
    assumed payment in yuan per year, illustrative: set your county's;
``per``
    ``person`` (× ``household_size``) or ``household``;
``cap_field``
    the income component that contains the payment; what is taken out of one
    component never exceeds it;
``description``
    where the number comes from.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from fanpin_risk.contract._schema import fields, schema_dir
from fanpin_risk.errors import ContractError

__all__ = ["PRE_TRANSFER_FILE", "pre_transfer_amounts"]

PRE_TRANSFER_FILE = "pre_transfer.csv"
_COLS = ["item", "flag_field", "amount_field", "amount", "per", "cap_field", "description"]
_PER = {"person", "household"}


def _check(t: pd.DataFrame, where: str) -> pd.DataFrame:
    missing = [c for c in _COLS if c not in t.columns]
    if missing:
        raise ContractError(f"{where}: missing column(s) {missing}; expected {_COLS}")
    t = t[_COLS].copy()
    for c in ("item", "flag_field", "amount_field", "per", "cap_field", "description"):
        t[c] = t[c].fillna("").astype("str").str.strip()
    amount = pd.to_numeric(t["amount"], errors="coerce")
    if amount.isna().any() or (amount < 0).any():
        raise ContractError(f"{where}: amount must be a number ≥ 0 for {t.loc[amount.isna() | (amount < 0), 'item'].tolist()}")
    t["amount"] = amount.astype("float64")
    if t["item"].eq("").any() or t["item"].duplicated().any():
        raise ContractError(f"{where}: every item needs a unique name")
    bad_per = t.loc[~t["per"].isin(_PER), "item"].tolist()
    if bad_per:
        raise ContractError(f"{where}: per must be one of {sorted(_PER)} for {bad_per}")
    kinds = fields().set_index("field")["type"]
    bad_flag = t.loc[~t["flag_field"].map(lambda f: kinds.get(f) == "boolean"), "item"].tolist()
    if bad_flag:
        raise ContractError(f"{where}: flag_field must be a boolean contract field for {bad_flag}")
    bad_cap = t.loc[~t["cap_field"].map(lambda f: kinds.get(f) == "number"), "item"].tolist()
    if bad_cap:
        raise ContractError(f"{where}: cap_field must be a number contract field for {bad_cap}")
    return t.reset_index(drop=True)


@lru_cache(maxsize=1)
def _default_table() -> pd.DataFrame:
    path = schema_dir() / PRE_TRANSFER_FILE
    return _check(pd.read_csv(path, dtype={"amount": "float64"}, keep_default_na=False, encoding="utf-8"),
                  f"data_schema/{PRE_TRANSFER_FILE}")


def pre_transfer_amounts(table: str | Path | pd.DataFrame | None = None) -> pd.DataFrame:
    """Assistance items taken out of income by the ``"pre_transfer"`` label.

    Parameters
    ----------
    table : path or DataFrame, optional
        A table with the columns of ``data_schema/pre_transfer.csv`` (item,
        flag_field, amount_field, amount, per, cap_field, description), e.g.
        with your county's payments; default the packaged file.

    Returns
    -------
    pandas.DataFrame
        One row per item, checked: ``amount`` float ≥ 0, ``per`` in
        {"person", "household"}, ``flag_field`` a boolean and ``cap_field`` a
        number field of the household-year contract. A fresh copy each call.

    Raises
    ------
    ContractError
        When a column is missing or a value breaks the rules above.

    Examples
    --------
    >>> t = pre_transfer_amounts()
    >>> dict(zip(t["item"], t["amount"]))
    {'dibao': 3000.0, 'tekun': 9000.0, 'public_welfare_job': 6000.0}
    >>> t["per"].tolist(), t["cap_field"].tolist()
    (['person', 'person', 'household'], ['income_transfer', 'income_transfer', 'income_wage'])
    """
    if table is None:
        return _default_table().copy()
    if isinstance(table, pd.DataFrame):
        return _check(table, "pre-transfer table")
    return _check(pd.read_csv(table, keep_default_na=False, encoding="utf-8"), str(table))
