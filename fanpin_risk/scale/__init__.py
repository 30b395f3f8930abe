"""Past one machine: the same scoring and training pieces on Dask (and the Spark recipe in ``docs/scale.md``).

Each household's history stays in one partition; ranks, budgets and quotas are
applied globally with the in-memory step (:mod:`fanpin_risk.scoring`), and
Dask models get the in-memory LightGBM parameters (:func:`fanpin_risk.models.lgb_params`).
"""

from ._dask import early_stop, is_dask, leaf_values, loss_path_partition, score_dask, train_dask

__all__ = ["is_dask", "score_dask", "train_dask", "leaf_values", "loss_path_partition", "early_stop"]
