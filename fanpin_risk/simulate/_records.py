"""Turn each simulated year into rows, and the rows into contract frames.

A year's rows are plain arrays keyed by contract field name (plus a few internal
keys for values that need the code tables or a missing-value mask); the frames
take each field's canonical dtype from the contract.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fanpin_risk import contract

from ._codes import CATEGORIES, EDUCATION, HEALTH, HOUSEHOLD_TYPES, LABOR, PLACES, RELATIONS, RISK_TYPES, SCHOOL, SEXES
from ._state import SimState, Year

Rows = dict[str, np.ndarray]

# Code-valued fields: the table their integer codes index into.
_HOUSEHOLD_CODES = {"household_type": HOUSEHOLD_TYPES, "monitoring_category": CATEGORIES}
_MEMBER_CODES = {"relation": RELATIONS, "sex": SEXES, "education": EDUCATION, "school_status": SCHOOL,
                 "labor_skill": LABOR, "work_place": PLACES}


def household_rows(s: SimState, yr: Year) -> Rows:
    """The year's household rows (households still in the panel), after all phases ran."""
    active, age = s.active, s.age
    is_obj = s.ident_m > 0
    per_household = {
        "household_id": s.hid, "county_code": s.c_code, "township_code": s.t_code, "village_code": s.v_code,
        "household_type": np.where(s.exited, 0, np.where(s.monitored_ord, 1, 2)),
        "monitoring_category": np.where(is_obj, s.category, 0),
        "identification_month": s.ident_m, "newly_identified": yr.new, "_object": is_obj,
        "risk_eliminated": s.elim_m > 0, "elimination_month": s.elim_m, "_risks": s.risks,
        "household_size": yr.size, "n_labor": yr.n_lab,
        "n_migrant_workers": (yr.months > 0).sum(axis=1), "migrant_work_months": yr.months.sum(axis=1),
        "n_elderly": (active & (age >= 65)).sum(axis=1), "n_children": (active & (age < 16)).sum(axis=1),
        "n_students": (active & yr.student).sum(axis=1), "n_disabled": (active & s.disabled).sum(axis=1),
        "n_chronic_ill": (active & s.chronic).sum(axis=1), "n_serious_ill": (active & s.serious).sum(axis=1),
        "income_wage": np.round(yr.wage), "income_business": np.round(yr.income_business),
        "expense_business": np.round(yr.expense_business), "income_property": np.round(yr.income_property),
        "income_transfer": np.round(yr.income_transfer), "income_insurance_claims": np.round(yr.claims),
        "expense_medical": np.round(yr.expense_medical), "expense_education": np.round(yr.expense_education),
        "housing_safe": s.housing_ok, "drinking_water_safe": s.water_ok,
        "compulsory_education_ok": yr.edu_ok, "medical_insured": yr.med_ok,
        "receives_dibao": s.dibao, "receives_tekun": s.tekun, "public_welfare_job": (yr.pwj > 0).any(axis=1),
        "microcredit": yr.micro_rec, "shock_illness": yr.shock_illness, "shock_disaster": yr.disaster,
        "shock_accident": yr.accident, "shock_job_loss": yr.shock_job, "shock_industry_failure": yr.fail,
        "is_key_county": s.key, "is_relocated": s.relocated,
    }
    alive = np.flatnonzero(s.hh_alive)
    rows = {k: v[alive] for k, v in per_household.items()}
    rows["year"] = np.full(alive.size, yr.p.year)
    rows["monitoring_line"] = np.full(alive.size, yr.p.line)
    return rows


def member_rows(s: SimState, yr: Year) -> Rows:
    """The year's member rows (active members of households still in the panel)."""
    hh, slot = np.nonzero(s.active & s.hh_alive[:, None])
    per_member = {
        "relation": s.rel, "sex": s.sex, "age": s.age, "education": yr.edu, "school_status": yr.stat,
        "_chronic": s.chronic, "_serious": s.serious, "_disabled": s.disabled, "labor_skill": yr.lab,
        "work_place": yr.workplace, "work_months": yr.months, "public_welfare_job_months": yr.pwj,
        "medical_insured": s.insured, "pension_insured": s.pension_ins,
    }
    rows = {"household_id": s.hid[hh], "year": np.full(hh.size, yr.p.year), "member_no": slot + 1}
    rows.update({k: v[hh, slot] for k, v in per_member.items()})
    return rows


def _to_int64(values: np.ndarray, mask: np.ndarray | None = None) -> pd.arrays.IntegerArray:
    v = np.asarray(values)
    if mask is None:
        mask = np.zeros(v.shape, dtype=bool)
    return pd.arrays.IntegerArray(np.where(mask, 0, v).astype(np.int64), mask.copy())


def _to_bool(values: np.ndarray, mask: np.ndarray | None = None) -> pd.arrays.BooleanArray:
    v = np.asarray(values, dtype=bool)
    if mask is None:
        mask = np.zeros(v.shape, dtype=bool)
    return pd.arrays.BooleanArray(v.copy(), mask.copy())


def _to_str(labels: np.ndarray, codes: np.ndarray) -> pd.Series:
    # Code arrays index into an object table whose None entries become NaN in a str column.
    return pd.Series(labels[codes], dtype="str")


def _typed(values: np.ndarray, dtype: str) -> object:
    if dtype == "Int64":
        return _to_int64(values)
    if dtype == "boolean":
        return _to_bool(values)
    if dtype == "str":
        return pd.Series(values, dtype="str")
    return values.astype(dtype)


def _stacked(rows: list[Rows], *sort_keys: str) -> Rows:
    # All years' rows in one array per key, sorted by sort_keys (the first is the primary key).
    c = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
    order = np.lexsort([c[k] for k in reversed(sort_keys)])
    return {k: v[order] for k, v in c.items()}


def _frame(c: Rows, table: contract.Table, special: dict[str, object]) -> pd.DataFrame:
    # Contract fields in contract order; those not in `special` are taken from `c` in their canonical dtype.
    return pd.DataFrame({name: special[name] if name in special else _typed(c[name], dtype)
                         for name, dtype in contract.canonical_dtypes(table).items()})


def assemble_households(rows: list[Rows], province: str) -> pd.DataFrame:
    """The household-year frame, sorted by ``(household_id, year)``."""
    c = _stacked(rows, "household_id", "year")
    obj, ident, elim_m = c["_object"], c["identification_month"], c["elimination_month"]
    risk_lab = np.append(RISK_TYPES, None)  # code -1 → missing
    risk_idx = np.where(obj[:, None] & (c["_risks"] >= 0), c["_risks"], -1)
    net = (c["income_wage"] + c["income_business"] - c["expense_business"] + c["income_property"]
           + c["income_transfer"])
    special = {
        "province": pd.Series(np.full(ident.size, province, dtype=object), dtype="str"),
        **{name: _to_str(labels, c[name]) for name, labels in _HOUSEHOLD_CODES.items()},
        "identification_month": _to_int64(ident, ident == 0),
        "risk_eliminated": _to_bool(c["risk_eliminated"], ~obj),
        "elimination_month": _to_int64(elim_m, elim_m == 0),
        **{f"risk_type_{i + 1}": _to_str(risk_lab, risk_idx[:, i]) for i in range(5)},
        "net_income_per_capita": np.round(net / c["household_size"], 2),
    }
    return _frame(c, "household_year", special)


def assemble_members(rows: list[Rows]) -> pd.DataFrame:
    """The member-year frame, sorted by ``(household_id, year, member_no)``."""
    c = _stacked(rows, "household_id", "year", "member_no")
    # Health code: bit 0 serious, bit 1 chronic, bit 2 disabled (see _codes.HEALTH).
    health = c["_serious"].astype(int) + 2 * c["_chronic"].astype(int) + 4 * c["_disabled"].astype(int)
    special = {
        **{name: _to_str(labels, c[name]) for name, labels in _MEMBER_CODES.items()},
        "health_status": _to_str(HEALTH, health),
    }
    return _frame(c, "member", special)
