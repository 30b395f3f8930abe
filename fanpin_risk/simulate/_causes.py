"""The cause record: why each simulated household falls (back) into poverty the next year.

For a record year *t*, the year *t + 1* is simulated again from the state at the
end of *t*, ``draws`` times, as it is and with each cause switched off
(:attr:`~._state.SimState.removed`; the phases suppress a removed cause's effects
after their draws). Every variant of draw *r* uses the same generator seed
``(seed, t, r)``: common random numbers, so a cause that is absent changes
nothing and a difference is the cause's effect, not noise. The outcome is the
default "relapse" label of *t + 1* (newly identified, income below the line, or
a guarantee failing); the identification draw is replaced by its probability.
See docs/calibration.md ("Cause record").
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from ._phases import YEAR_PHASES, _p_identified, start_year
from ._state import SimState

#: The causes the record can switch off: the specific risk types, in code-list order.
CAUSES = ("因病", "因学", "因残", "因自然灾害", "因意外事故", "因产业项目失败", "因务工就业不稳", "缺劳动力", "因安全住房", "因安全饮水")

#: A cause "matters" for a household when removing it lowers the next-year probability by at least this.
CAUSE_MIN_DROP = 0.05

_UPTO = YEAR_PHASES[: [p.__name__ for p in YEAR_PHASES].index("identification")]


def _outcome(s: SimState, year: int) -> np.ndarray:
    """Probability of the relapse label in ``year`` from state ``s`` (modified in place)."""
    yr = start_year(s, year)
    for phase in _UPTO:
        phase(s, yr)
    # identification's Bernoulli replaced by its probability (less Monte Carlo noise)
    ratio = yr.ratio
    prev_total = np.where(np.isnan(s.prev_pc), yr.pc, s.prev_pc)
    drop = (yr.pc < 0.6 * prev_total) & (ratio < 2.0)
    hardship = (yr.rigid >= 5000) & (yr.rigid > 0.6 * np.maximum(yr.net, 1.0))
    sudden = hardship | drop
    below, near = ratio < 1.0, (ratio >= 1.0) & (ratio < 1.2)
    candidate = (s.hh_alive & ~yr.monitored_now & ~yr.do_elim & ((s.elim_m == 0) | (s.elim_m // 100 < year))
                 & (yr.pc <= 20000))
    p_new = np.where(candidate & (below | near | sudden), _p_identified(s, yr, sudden), 0.0)
    hard = below | ~yr.guarantees_ok
    return np.where(s.hh_alive, 1 - (1 - hard) * (1 - p_new), 0.0)


def cause_record(s: SimState, t: int, seed: int, draws: int) -> pd.DataFrame:
    """The cause record of year ``t`` from the state at the end of ``t`` (left unchanged)."""
    alive = s.hh_alive.copy()
    base = np.zeros(s.n)
    without = {c: np.zeros(s.n) for c in CAUSES}
    for r in range(draws):
        for c in (None, *CAUSES):
            v = copy.deepcopy(s)
            v.rng = np.random.default_rng([seed, t, r])
            v.removed = frozenset() if c is None else frozenset({c})
            if c == "因自然灾害":
                v.loss_prev = v.loss_prev * 0.0
            if c == "因务工就业不稳":
                v.returned = v.returned & False
            if c == "因病":
                v.serious = v.serious & False
                v.chronic = v.chronic & False
            if c == "因残":
                v.disabled = v.disabled & False
            if c == "因安全住房":
                v.housing_ok = v.housing_ok | True
            if c == "因安全饮水":
                v.water_ok = v.water_ok | True
            out = _outcome(v, t + 1)
            if c is None:
                base += out
            else:
                without[c] += out
    base /= draws
    drops = np.column_stack([base - without[c] / draws for c in CAUSES])
    order = np.argsort(-drops, axis=1, kind="stable")
    rows = np.arange(s.n)
    d0, d1 = drops[rows, order[:, 0]], drops[rows, order[:, 1]]
    names = np.array(CAUSES, dtype=object)
    frame = pd.DataFrame({
        "household_id": pd.array(s.hid, dtype="str"),
        "year": pd.array(np.full(s.n, t), dtype="Int64"),
        "p_relapse": base,
        **{c: drops[:, k] for k, c in enumerate(CAUSES)},
        "main_cause": pd.array(np.where(d0 >= CAUSE_MIN_DROP, names[order[:, 0]], "其他"), dtype="str"),
        "second_cause": pd.array(np.where((d0 >= CAUSE_MIN_DROP) & (d1 >= CAUSE_MIN_DROP), names[order[:, 1]], None),
                                 dtype="str"),
        "max_drop": d0,
    })
    return frame[alive].reset_index(drop=True)
