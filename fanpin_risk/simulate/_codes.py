"""Code tables of the simulator, read from the data contract (``data_schema/codes.csv``).

The simulator works on small integer codes and turns them into the contract's
Chinese values only when it builds the frames: each table below maps code ``i``
to ``table[i]``. Random draws and the yearly rules index into these positions
(e.g. labour skill ``<= 1`` counts as labour, relation ``2 + sex`` is 之子/之女),
so the positions are part of the simulator, while the values belong to the
contract. ``tests/simulate/test_simulate_phases.py`` pins the positions by English
name, so a reordered ``codes.csv`` fails a test instead of silently changing the
panel.
"""

from __future__ import annotations

import numpy as np

from fanpin_risk import contract


def _table(values: list[str | None]) -> np.ndarray:
    return np.array(values, dtype=object)


def _by_name(list_name: str, names_en: str) -> list[str]:
    # For tables that are a subset of the contract list, or in another order:
    # the order stays the simulator's (named here), the values come from the contract.
    value_of = {en: zh for zh, en in contract.code_names(list_name).items()}
    return [value_of[en] for en in names_en.split()]


# Code 0 of the tables starting with None is "missing": not a monitoring object,
# no education recorded, not in school, not working.
HOUSEHOLD_TYPES = _table(contract.code_list("household_type"))
CATEGORIES = _table([None, *contract.code_list("monitoring_category")])
RISK_TYPES = _table(contract.code_list("risk_type"))
SEXES = _table(contract.code_list("sex"))
EDUCATION = _table([None, *contract.code_list("education")])
LABOR = _table(contract.code_list("labor_skill"))
PLACES = _table([None, *contract.code_list("work_place")])
# The simulator never draws 之兄弟姐妹 / 其他 (relation) nor 硕士研究生及以上 (school):
# the tables keep the simulator's codes only, so the public constants keep their length.
RELATIONS = _table(_by_name(
    "relation", "head spouse son daughter daughter_in_law son_in_law grandson granddaughter father mother"))
SCHOOL = _table([None, *_by_name(
    "school_status", "preschool_age preschool_education primary grade_7 grade_8 grade_9 "
                     "senior_high_1 senior_high_2 senior_high_3 secondary_vocational higher_vocational undergraduate")])


def _health_table() -> np.ndarray:
    # Health code = serious (bit 0) + 2·chronic (bit 1) + 4·disabled (bit 2) → the
    # multi-select text. The parts are joined disabled, serious, chronic: the reverse
    # of the contract order, kept because the shipped sample was written that way.
    healthy, chronic, serious, disabled = _by_name(
        "health_status", "healthy chronic_illness serious_illness disabled")
    out = []
    for code in range(8):
        parts = [disabled] * bool(code & 4) + [serious] * bool(code & 1) + [chronic] * bool(code & 2)
        out.append(",".join(parts) or healthy)
    return _table(out)


HEALTH = _health_table()
