"""Small synthetic canonical panel for the modelling tests.

Independent of ``fanpin_risk.simulate`` so the modelling tests run on their own.
The panel has real signal: a persistent household income level, shocks that cut
income and raise medical spending, and identification of monitoring objects
that follows low income and shocks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fanpin_risk import contract

_NAT = {2019: 3800.0, 2020: 4000.0, 2021: 6000.0, 2022: 6500.0, 2023: 7000.0, 2024: 7300.0, 2025: 7600.0, 2026: 7800.0}


def make_panel(n: int = 400, years=range(2020, 2025), seed: int = 0, n_counties: int = 4) -> pd.DataFrame:
    """Canonical household-year panel (contract dtypes, English names, Chinese codes)."""
    rng = np.random.default_rng(seed)
    years = list(years)
    hid = np.array([f"52{seed % 10}{i:07d}" for i in range(n)])
    county = rng.integers(0, n_counties, n)
    size = rng.integers(1, 7, n)
    n_elderly = np.minimum(size, rng.binomial(2, 0.3, n))
    n_children = np.minimum(size - n_elderly, rng.binomial(2, 0.35, n))
    n_labor = np.maximum(size - n_elderly - n_children, 0)
    n_disabled = rng.binomial(1, 0.08, n)
    htype = rng.choice(["脱贫户", "一般农户"], n, p=[0.6, 0.4])
    level = rng.normal(0, 0.45, n) + 0.25 * (n_labor / size) - 0.2 * n_disabled
    key = np.isin(county, [0])
    relocated = rng.random(n) < 0.1
    rows = []
    monitored = np.zeros(n, bool)
    ident = np.full(n, -1)
    eliminated = np.zeros(n, bool)
    elim_month = np.full(n, -1)
    prev_shock = np.zeros(n)
    for y in years:
        line = _NAT[y]
        shock_ill = rng.random(n) < 0.06 + 0.04 * (n_elderly > 0)
        shock_dis = rng.random(n) < np.where(key, 0.08, 0.03)
        shock_job = rng.random(n) < 0.05
        hit = shock_ill * 0.35 + shock_dis * 0.3 + shock_job * 0.3
        growth = 1 + 0.06 * (y - 2020)
        pc = 11000 * growth * np.exp(level + rng.normal(0, 0.25, n) - hit - 0.5 * prev_shock)
        total = pc * size
        wage_sh = np.clip(0.6 + rng.normal(0, 0.1, n), 0.05, 0.95)
        wage = total * wage_sh
        transfer = total * 0.15
        prop = total * 0.02
        bus_net = total - wage - transfer - prop
        exp_bus = np.abs(bus_net) * 0.3
        inc_bus = bus_net + exp_bus
        med = np.where(shock_ill, rng.gamma(2, 6000, n), rng.gamma(1, 300, n))
        edu = rng.gamma(1, 800, n) * (n_children > 0)
        housing = rng.random(n) > 0.02 + 0.05 * shock_dis
        water = rng.random(n) > 0.02
        new = (~monitored) & ((pc < 1.3 * line) & (rng.random(n) < 0.5) | (shock_ill & (med > 15000)) & (rng.random(n) < 0.5))
        monitored |= new
        ident = np.where(new, y * 100 + rng.integers(1, 13, n), ident)
        elim = monitored & ~eliminated & ~new & (pc > 1.5 * line) & (rng.random(n) < 0.6)
        eliminated |= elim
        elim_month = np.where(elim, y * 100 + rng.integers(1, 13, n), elim_month)
        cat = np.where(monitored, np.where(shock_ill | shock_dis, "突发严重困难户", np.where(htype == "脱贫户", "脱贫不稳定户", "边缘易致贫户")), None)
        d = pd.DataFrame({
            "household_id": hid, "year": y, "province": "全国", "county_code": [f"5201{c:02d}" for c in county],
            "township_code": [f"5201{c:02d}001" for c in county], "village_code": [f"5201{c:02d}001001" for c in county],
            "household_type": np.where(monitored & (htype == "一般农户"), "监测户", htype),
            "monitoring_category": cat,
            "identification_month": np.where(ident > 0, ident, np.nan),
            "newly_identified": new,
            "risk_eliminated": np.where(monitored, eliminated, None),
            "elimination_month": np.where(elim_month > 0, elim_month, np.nan),
            "risk_type_1": np.where(monitored, np.where(shock_ill, "因病", np.where(shock_dis, "因自然灾害", "因务工就业不稳")), None),
            "risk_type_2": None, "risk_type_3": None, "risk_type_4": None, "risk_type_5": None,
            "monitoring_line": line,
            "household_size": size, "n_labor": n_labor, "n_migrant_workers": np.minimum(n_labor, rng.binomial(2, 0.4, n)),
            "migrant_work_months": rng.uniform(0, 10, n) * (n_labor > 0),
            "n_elderly": n_elderly, "n_children": n_children, "n_students": np.minimum(n_children, rng.binomial(1, 0.7, n)),
            "n_disabled": n_disabled, "n_chronic_ill": rng.binomial(1, 0.15, n), "n_serious_ill": shock_ill.astype(int),
            "income_wage": wage, "income_business": np.maximum(inc_bus, 0.0), "expense_business": exp_bus, "income_property": prop,
            "income_transfer": transfer, "income_insurance_claims": np.where(shock_ill, 2000.0, 0.0),
            "net_income_per_capita": pc, "expense_medical": med, "expense_education": edu,
            "housing_safe": housing, "drinking_water_safe": water, "compulsory_education_ok": rng.random(n) > 0.01,
            "medical_insured": rng.random(n) > 0.005,
            "receives_dibao": (pc < line) & (rng.random(n) < 0.6), "receives_tekun": rng.random(n) < 0.01,
            "public_welfare_job": monitored & (rng.random(n) < 0.2), "microcredit": np.where(rng.random(n) < 0.1, 30000.0, 0.0),
            "shock_illness": shock_ill, "shock_disaster": shock_dis, "shock_accident": rng.random(n) < 0.02,
            "shock_job_loss": shock_job, "shock_industry_failure": rng.random(n) < 0.02,
            "is_key_county": key, "is_relocated": relocated,
        })
        rows.append(d)
        prev_shock = hit
    df = pd.concat(rows, ignore_index=True)
    for c in ("monitoring_category", "risk_type_1", "risk_type_2", "risk_type_3", "risk_type_4", "risk_type_5"):
        df[c] = df[c].astype(object).where(df[c].notna(), np.nan)
    df["risk_eliminated"] = df["risk_eliminated"].astype(object).where(df["risk_eliminated"].notna(), None)
    df = contract.to_canonical_dtypes(df)
    return df.sort_values(["household_id", "year"]).reset_index(drop=True)
